"""One behavioural contract for every store: MemoryBackend and SQLBackend (SQLite, PostgreSQL).

Every protocol of ``s3service.backends.protocols``: credentials, buckets, the
admin calls, metrics here; the policy protocols in ``test_contract_policies.py``,
on the same three stores.
"""
from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from s3service.backends import (AdminStore, BucketDirectory, BucketNameTaken, BucketStore,
                                CredentialStore, PolicySource, PolicyStore, UnknownAccount,
                                UnknownBucket)
from s3service.backends import sortedbuckets
from s3service.backends.sql import listingcache
from s3service.backends.memory import MemoryBackend
from s3service.backends.sql import SQLBackend
from s3service.metrics import INTERVAL_MS, Entity, MetricsStore

A = "a" * 64                      # canonical user IDs
B = "b" * 64
UTC = timezone.utc
T0 = datetime(2021, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def empty_store(request, make_sql_url):
    """An empty store of each kind (not conftest's seeded in-memory ``store``)."""
    if request.param == "memory":
        yield MemoryBackend()
        return
    backend = SQLBackend(make_sql_url(request.param))
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def two_accounts(empty_store):
    store = empty_store
    store.add_account(A, display_name="Alice Corp")
    store.add_account(B, display_name="Bob Ltd")
    return store


def names(store, account=A, **kw) -> list[str]:
    return [b.name for b in store.list_buckets(account, **kw)]


def test_implements_protocols(empty_store):
    store = empty_store
    for protocol in (CredentialStore, BucketStore, BucketDirectory, PolicySource, PolicyStore,
                     MetricsStore, AdminStore):
        assert isinstance(store, protocol), protocol.__name__


def test_backend_timeout_and_close(empty_store):
    """What ``serve`` does before forking: bound the store's waits, let go of connections."""
    store = empty_store
    store.backend_timeout = 2.5
    store.add_account(A, display_name="Alice Corp")
    store.close()
    assert store.backend_timeout == 2.5
    assert store.list_accounts() == [(A, "Alice Corp")]       # reopened on next use


# -- listing -------------------------------------------------------------------

ODD_NAMES = ["a-b", "a.b", "ab", "a_b", "aB", "AB", "a--b", "a..b", "0abc", "9", "abc",
             "ab-", "ab.", "a", "z" * 63, "xn--bcher-kva", "my.bucket.example.com", "b~"]


def test_list_sorted_bytewise(two_accounts):
    store = two_accounts
    shuffled = ODD_NAMES[:]
    random.Random(7).shuffle(shuffled)
    for name in shuffled:
        store.add_bucket(A, name, created=T0)
    assert names(store) == sorted(ODD_NAMES)
    assert names(store, B) == []
    assert names(store, "no-such-account") == []


def test_long_listing_is_lazy(two_accounts, monkeypatch):
    """A listing longer than one run of the store is fetched run by run as it is read
    (the SQL store: for an account too large to keep a snapshot of)."""
    monkeypatch.setattr(sortedbuckets, "RUN", 2)
    monkeypatch.setattr(listingcache, "MAX_ACCOUNT", 3)
    store = two_accounts
    for i in range(5):
        store.add_bucket(A, f"bucket-{i}")
    listing = store.list_buckets(A)
    assert isinstance(listing, Iterator)
    assert [b.name for b in itertools.islice(listing, 3)] == ["bucket-0", "bucket-1", "bucket-2"]
    store.add_bucket(A, "bucket-5")  # after the batches read so far: the listing sees it
    assert [b.name for b in listing] == ["bucket-3", "bucket-4", "bucket-5"]
    listing = store.list_buckets(A)
    next(listing)
    listing.close()


def test_prefix(two_accounts):
    store = two_accounts
    for name in ODD_NAMES:
        store.add_bucket(A, name)
    for prefix in ["", "a", "ab", "a-", "a.", "a_", "A", "xn--", "zz", "q", "b~", "ab-", "abc"]:
        assert names(store, prefix=prefix) == sorted(n for n in ODD_NAMES if n.startswith(prefix)), prefix
    assert names(store, prefix="\x00") == []
    assert names(store, prefix="a%") == []      # no wildcard meaning
    assert names(store, prefix="a_") == ["a_b"]


def test_after_is_keyset(two_accounts):
    store = two_accounts
    for name in ODD_NAMES:
        store.add_bucket(A, name)
    everything = sorted(ODD_NAMES)
    for after in ["", "a", "a-b", "ab", "ab.", "m", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
                  "0", "a\x00x"]:
        assert names(store, after=after) == [n for n in everything if n > after], after
    # after combined with prefix, on both sides of the prefix
    assert names(store, prefix="ab", after="a") == [n for n in everything if n.startswith("ab")]
    assert names(store, prefix="ab", after="ab-") == ["ab.", "abc"]
    assert names(store, prefix="ab", after="ac") == []


def test_region_filter(two_accounts):
    store = two_accounts
    for i in range(10):
        store.add_bucket(A, f"b{i:02d}", region="eu-west-1" if i % 3 == 0 else "us-east-1")
    assert names(store, region="eu-west-1") == ["b00", "b03", "b06", "b09"]
    assert names(store, region="eu-west-1", after="b03") == ["b06", "b09"]
    assert names(store, region="eu-west-1", limit=3) == ["b00", "b03", "b06"]
    assert names(store, region="ap-south-1") == []
    assert {b.region for b in store.list_buckets(A, region="us-east-1")} == {"us-east-1"}
    assert len(names(store)) == 10


def test_limit(two_accounts):
    store = two_accounts
    for i in range(7):
        store.add_bucket(A, f"b{i}")
    assert names(store, limit=0) == []
    assert names(store, limit=1) == ["b0"]
    assert names(store, limit=3, after="b2") == ["b3", "b4", "b5"]
    assert names(store, limit=100) == [f"b{i}" for i in range(7)]


def test_accounts_are_isolated(two_accounts):
    store = two_accounts
    mine, theirs = set(), set()
    for i in range(60):
        owner, bucket_set = (A, mine) if i % 2 else (B, theirs)
        name = f"shared-{i:03d}"
        store.add_bucket(owner, name)
        bucket_set.add(name)
    for account, own in [(A, mine), (B, theirs)]:
        assert set(names(store, account)) == own
        assert set(names(store, account, prefix="shared-0")) <= own
        assert set(names(store, account, after="shared-010", limit=7)) <= own
        assert len(names(store, account, after="shared-010", limit=7)) == 7


def test_many_buckets_span_pages(two_accounts):
    store = two_accounts
    expected = sorted(f"bucket-{i:05d}" for i in range(2500))
    for i, name in enumerate(expected[::-1]):
        store.add_bucket(A if i % 5 else B, name)
    own = sorted(n for i, n in enumerate(expected[::-1]) if i % 5)
    got = names(store)
    assert got == own and len(got) == 2000 and len(set(got)) == 2000
    assert names(store, after=own[999]) == own[1000:]
    assert names(store, limit=1500) == own[:1500]
    assert names(store, after=own[10], limit=1999) == own[11:]
    assert names(store, prefix="bucket-01") == [n for n in own if n.startswith("bucket-01")]


# -- buckets ----------------------------------------------------------------------

def test_duplicate_bucket_names_its_owner(two_accounts):
    store = two_accounts
    store.add_bucket(A, "taken")
    for account in (A, B):
        with pytest.raises(BucketNameTaken) as info:
            store.add_bucket(account, "taken")
        assert info.value.name == "taken" and info.value.owner == A
    assert names(store, B) == []


def test_get_and_delete_bucket(two_accounts):
    store = two_accounts
    info = store.add_bucket(A, "doomed", created=T0, region="eu-central-1")
    assert store.get_bucket("doomed") == (A, info)
    assert store.get_bucket("never") is None
    store.delete_bucket("doomed")
    assert store.get_bucket("doomed") is None
    assert names(store) == []
    with pytest.raises(UnknownBucket):
        store.delete_bucket("doomed")
    store.add_bucket(B, "doomed")                       # the name is free again
    assert store.get_bucket("doomed")[0] == B


def test_delete_bucket_of_an_owner(two_accounts):
    """delete_bucket(name, owner=...) deletes the bucket only if that account owns it."""
    store = two_accounts
    info = store.add_bucket(A, "owned", created=T0)
    with pytest.raises(UnknownBucket):
        store.delete_bucket("owned", owner=B)                 # another's: left in place
    assert store.get_bucket("owned") == (A, info)
    assert names(store) == ["owned"]
    with pytest.raises(UnknownBucket):
        store.delete_bucket("never", owner=A)
    store.delete_bucket("owned", owner=A)
    assert store.get_bucket("owned") is None
    assert names(store) == []
    with pytest.raises(UnknownBucket):
        store.delete_bucket("owned", owner=A)
    store.add_bucket(B, "owned")                             # re-created by another account
    with pytest.raises(UnknownBucket):
        store.delete_bucket("owned", owner=A)
    assert store.get_bucket("owned")[0] == B
    assert names(store, B) == ["owned"]
    store.delete_bucket("owned", owner=None)                  # None: whoever owns it
    assert store.get_bucket("owned") is None


def test_no_such_account(empty_store):
    store = empty_store
    with pytest.raises(UnknownAccount):
        store.add_bucket("ghost", "b1")
    with pytest.raises(UnknownAccount):
        store.add_key("ghost", "AK", "secret")
    with pytest.raises(UnknownAccount):
        store.add_user("ghost", "alice")
    with pytest.raises(UnknownAccount):
        store.list_users("ghost")
    with pytest.raises(UnknownAccount):
        store.list_keys("ghost")
    assert store.get_bucket("b1") is None
    assert store.get_credential("AK") is None


def test_creation_dates_round_trip(two_accounts):
    store = two_accounts
    store.add_bucket(A, "utc", created=T0)
    plus5 = datetime(2020, 1, 1, 23, 30, 0, 456000, tzinfo=timezone(timedelta(hours=5)))
    store.add_bucket(A, "plus5", created=plus5)
    micro = datetime(2019, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    store.add_bucket(A, "micro", created=micro)
    before = datetime.now(UTC)
    store.add_bucket(A, "now")
    after = datetime.now(UTC)
    got = {b.name: b.created for b in store.list_buckets(A)}
    assert got["utc"] == T0 and got["utc"].utcoffset() == timedelta(0)
    assert got["plus5"] == plus5 and got["plus5"].microsecond % 1000 == 0
    assert abs(got["micro"] - micro) < timedelta(milliseconds=1)
    assert before - timedelta(milliseconds=1) <= got["now"] <= after + timedelta(milliseconds=1)
    assert got["now"].utcoffset() == timedelta(0)
    assert store.get_bucket("utc")[1].created == T0


# -- accounts, users, keys -----------------------------------------------------------

def test_accounts_listed_and_renamed(two_accounts):
    store = two_accounts
    store.add_key(A, "AKA", "sa")
    assert store.list_accounts() == [(A, "Alice Corp"), (B, "Bob Ltd")]
    store.add_account(A, display_name="Alice Inc")
    assert store.list_accounts() == [(A, "Alice Inc"), (B, "Bob Ltd")]
    assert store.get_credential("AKA").display_name == "Alice Inc"


def test_root_key(two_accounts):
    store = two_accounts
    cred = store.add_key(A, "AKIAROOT", "s3cr3t")
    got = store.get_credential("AKIAROOT")
    assert got == cred
    assert (got.account_id, got.display_name, got.user, got.active) == (A, "Alice Corp", None, True)
    assert got.secret_key == "s3cr3t" and got.session_token is None and got.expires is None
    assert "s3cr3t" not in repr(got)
    assert store.get_credential("AKIANOPE") is None


def test_iam_user_keys_map_to_parent_account(two_accounts):
    store = two_accounts
    store.add_user(A, "bob")
    store.add_user(A, "bob")                          # idempotent
    store.add_key(A, "AKIAALICE", "sa", user="alice")  # creates "alice" implicitly
    store.add_key(A, "AKIAROOT", "sr")
    got = store.get_credential("AKIAALICE")
    assert (got.account_id, got.display_name, got.user) == (A, "Alice Corp", "alice")
    assert store.list_users(A) == ["alice", "bob"]
    assert store.list_users(B) == []
    assert [c.access_key for c in store.list_keys(A)] == ["AKIAALICE", "AKIAROOT"]
    assert [c.user for c in store.list_keys(A)] == ["alice", None]
    assert store.list_keys(B) == []
    store.add_key(B, "AKIABOBUSER", "sb", user="alice")  # same user name, other account
    assert store.get_credential("AKIABOBUSER").account_id == B
    assert store.list_users(B) == ["alice"]


def test_inactive_keys(two_accounts):
    store = two_accounts
    store.add_key(A, "AKIAOFF", "s", active=False)
    got = store.get_credential("AKIAOFF")
    assert got is None or not got.active
    store.set_key_active("AKIAOFF", True)
    assert store.get_credential("AKIAOFF").active
    store.set_key_active("AKIAOFF", False)
    got = store.get_credential("AKIAOFF")
    assert got is None or not got.active
    with pytest.raises(KeyError):
        store.set_key_active("AKIAMISSING", False)


def test_session_token_fields(two_accounts):
    store = two_accounts
    expires = datetime(2030, 6, 1, 12, 0, 0, 250000, tzinfo=UTC)
    token = "FwoGZXIvYXdzE" + "x" * 1200                 # STS tokens are long
    store.add_key(A, "ASIATEMP", "tmpsecret", user="carol", session_token=token, expires=expires)
    got = store.get_credential("ASIATEMP")
    assert got.session_token == token
    assert got.expires == expires and got.expires.utcoffset() == timedelta(0)
    assert got.user == "carol" and got.account_id == A
    assert token not in repr(got)


def test_add_key_replaces(two_accounts):
    store = two_accounts
    store.add_key(A, "AKIASAME", "first")
    store.add_key(B, "AKIASAME", "second", user="dave")
    got = store.get_credential("AKIASAME")
    assert (got.secret_key, got.account_id, got.user) == ("second", B, "dave")
    assert store.list_keys(A) == []


def test_is_a_metrics_store_of_its_own(empty_store):
    store = empty_store
    assert isinstance(store, MetricsStore)
    t0 = 1704190500000
    s3, photos, alice = Entity.service(), Entity.bucket("photos"), Entity.user(A, "alice")
    store.add_metrics({(t0, s3, "s3:PutObject"): (2, 100, 0), (t0, s3, ""): (1, 7, 9),
                       (t0, photos, "s3:PutObject"): (2, 100, 0),
                       (t0, alice, "s3:PutObject"): (1, 60, 0)},
                      {(t0, s3): (100, 1), (t0, photos): (100, 1)})
    store.add_metrics({(t0, s3, "s3:PutObject"): (1, 10, 0)}, {})
    totals = store.get_metrics(t0, t0 + INTERVAL_MS - 1)
    assert totals.operations == {"s3:PutObject": 3}
    assert (totals.incoming_bytes, totals.outgoing_bytes) == (117, 9)
    assert totals.storage_utilized == (0, 100) and totals.number_of_objects == (0, 1)
    assert store.get_metrics(t0, t0, photos).operations == {"s3:PutObject": 2}
    assert store.get_metrics(t0, t0, photos).storage_utilized == (0, 100)
    assert store.get_metrics(t0, t0, alice).incoming_bytes == 60
    assert store.get_metrics(t0, t0, Entity.user(B, "alice")).incoming_bytes == 0


def test_metrics_are_added_never_overwritten(empty_store):
    # Two processes flushing the same counters: the store keeps the sum.
    store = empty_store
    t0, s3 = 1704190500000, Entity.service()
    batch = {(t0, s3, "s3:GetObject"): (1, 0, 5)}
    for _ in range(3):
        store.add_metrics(batch, {(t0, s3): (10, 1)})
    totals = store.get_metrics(t0, t0)
    assert totals.operations == {"s3:GetObject": 3} and totals.outgoing_bytes == 15
    assert totals.storage_utilized == (0, 30) and totals.number_of_objects == (0, 3)


def test_metrics_storage_levels_and_ranges(empty_store):
    store = empty_store
    t0, bucket = 1704190500000, Entity.bucket("photos")
    t1 = t0 + INTERVAL_MS
    store.add_metrics({(t0, bucket, "s3:PutObject"): (1, 100, 0),
                       (t1, bucket, "s3:DeleteObject"): (1, 0, 0)},
                      {(t0, bucket): (100, 1), (t1, bucket): (-40, -1)})
    # storage: the level before the range's first interval, and at its end
    assert store.get_metrics(t1, t1, bucket).storage_utilized == (100, 60)
    assert store.get_metrics(t1, t1, bucket).number_of_objects == (1, 0)
    assert store.get_metrics(t1, t1, bucket).operations == {"s3:DeleteObject": 1}
    assert store.get_metrics(t0, t1, bucket).operations == {"s3:PutObject": 1,
                                                           "s3:DeleteObject": 1}
    never = store.get_metrics(t0, t1, Entity.bucket("never-seen"))
    assert (never.operations, never.incoming_bytes, never.storage_utilized) == ({}, 0, (0, 0))


def test_bucket_metrics_are_per_owner(empty_store):
    store = empty_store
    t0 = 1704190500000
    store.add_metrics({(t0, Entity.bucket("ledger", A), "s3:GetObject"): (1, 0, 5)},
                      {(t0, Entity.bucket("ledger", A)): (10, 1)})
    again = store.get_metrics(t0, t0, Entity.bucket("ledger", B))   # B's tenure of the name
    assert (again.operations, again.outgoing_bytes, again.storage_utilized) == ({}, 0, (0, 0))
    assert store.get_metrics(t0, t0, Entity.bucket("ledger", A)).outgoing_bytes == 5


def test_metrics_retention_removes_old_counters_and_keeps_storage(empty_store):
    store = empty_store
    t0, s3, photos = 1704190500000, Entity.service(), Entity.bucket("photos", A)
    t1, t2 = t0 + INTERVAL_MS, t0 + 2 * INTERVAL_MS
    for t in (t0, t1, t2):
        store.add_metrics({(t, s3, "s3:PutObject"): (1, 10, 0),
                           (t, photos, "s3:PutObject"): (1, 10, 0)},
                          {(t, s3): (10, 1), (t, photos): (10, 1)})
    store.remove_metrics_before(t1)
    for entity in (s3, photos):
        gone = store.get_metrics(t0, t0, entity)
        assert (gone.operations, gone.incoming_bytes) == ({}, 0)
        kept = store.get_metrics(t0, t2, entity)
        assert kept.operations == {"s3:PutObject": 2} and kept.incoming_bytes == 20
        assert kept.storage_utilized == (0, 30)        # every delta still counted
        assert store.get_metrics(t2, t2, entity).storage_utilized == (20, 30)


def test_bucket_owners_in_one_call(empty_store):
    store = empty_store
    store.add_account(A)
    store.add_account(B)
    store.add_bucket(A, "alpha")
    store.add_bucket(B, "beta")
    many = [f"made-up-{i}" for i in range(1200)]       # more than one query's worth
    assert store.bucket_owners(["alpha", "beta", "alpha", *many]) == {"alpha": A, "beta": B}
    assert store.bucket_owners([]) == {}
