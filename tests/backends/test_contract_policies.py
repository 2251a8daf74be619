"""The policy store contract, on MemoryBackend, SQLite and PostgreSQL alike.

Also: a PolicyAuthorizer on each store sees a change at once through the
same instance, and through another instance (another process of a fleet)
within the credential cache time.
"""
from __future__ import annotations

import json
import logging
import time

import pytest

from s3service.backends import UnknownAccount
from s3service.backends.memory import MemoryBackend
from s3service.backends.policy_base import (Attachment, LimitExceeded, PolicySource, PolicyStore,
                                            UnknownGroup, UnknownPolicy, UnknownUser,
                                            policy_size)
from s3service.backends.sql import SQLBackend
from s3service.identity import Identity
from s3service.policies import PolicyAuthorizer

A = "a" * 64
B = "b" * 64
LIST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "List", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
DENY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "No", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})
ALICE = Identity(A, "A", "AKALICE", user="alice")


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def kind(request):
    return request.param


@pytest.fixture
def open_store(kind, make_sql_url):
    made = []
    url = None if kind == "memory" else make_sql_url(kind)
    shared = MemoryBackend() if kind == "memory" else None

    def make(**options):
        store = shared if shared is not None else SQLBackend(url, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        if isinstance(store, SQLBackend):
            store.close()


@pytest.fixture
def store(open_store):
    store = open_store()
    store.add_account(A, "A")
    store.add_account(B, "B")
    store.add_user(A, "alice")
    store.add_user(A, "bob")
    store.add_user(B, "alice")
    return store


def test_both_stores_implement_the_protocols(store):
    assert isinstance(store, PolicyStore) and isinstance(store, PolicySource)


def test_managed_policies(store):
    assert store.list_policies(A) == []
    store.put_policy(A, "list", LIST)
    store.put_policy(A, "deny", DENY)
    assert store.list_policies(A) == ["deny", "list"]
    assert store.list_policies(B) == []
    assert store.get_policy(A, "list") == LIST
    store.put_policy(A, "list", DENY)                      # replaced
    assert store.get_policy(A, "list") == DENY
    with pytest.raises(UnknownPolicy):
        store.get_policy(B, "list")
    store.delete_policy(A, "list")
    assert store.list_policies(A) == ["deny"]
    with pytest.raises(UnknownPolicy):
        store.delete_policy(A, "list")
    with pytest.raises(UnknownAccount):
        store.put_policy("c" * 64, "x", LIST)
    with pytest.raises(UnknownAccount):
        store.list_policies("c" * 64)


def test_attachments_groups_and_what_a_user_gets(store):
    store.put_policy(A, "list", LIST)
    store.put_policy(A, "deny", DENY)
    assert store.policies_for_user(A, "alice") == []
    store.attach_policy(A, "list", user="alice")
    store.attach_policy(A, "list", user="alice")           # no-op
    assert store.policies_for_user(A, "alice") == [("list", LIST)]
    assert store.policies_for_user(A, "bob") == []
    assert store.policies_for_user(B, "alice") == []       # another account's alice

    store.add_group(A, "admins")
    store.add_group(A, "admins")                            # no-op
    store.attach_policy(A, "deny", group="admins")
    store.attach_policy(A, "list", group="admins")
    store.add_user_to_group(A, "admins", "bob")
    store.add_user_to_group(A, "admins", "alice")
    assert store.list_groups(A) == [("admins", ["alice", "bob"])]
    assert sorted(store.policies_for_user(A, "bob")) == [("deny", DENY), ("list", LIST)]
    assert sorted(store.policies_for_user(A, "alice")) == [("deny", DENY), ("list", LIST)]
    assert store.list_attachments(A) == [Attachment("deny", "group", "admins"),
                                         Attachment("list", "group", "admins"),
                                         Attachment("list", "user", "alice")]
    store.remove_user_from_group(A, "admins", "bob")
    assert store.policies_for_user(A, "bob") == []
    store.detach_policy(A, "list", user="alice")
    with pytest.raises(UnknownPolicy):
        store.detach_policy(A, "list", user="alice")
    assert sorted(store.policies_for_user(A, "alice")) == [("deny", DENY), ("list", LIST)]
    store.delete_policy(A, "deny")                          # and its attachments
    assert store.list_attachments(A) == [Attachment("list", "group", "admins")]

    store.put_user_policy(A, "bob", "mine", LIST)
    assert store.list_user_policies(A, "bob") == ["mine"]
    assert store.policies_for_user(A, "bob") == [("inline:mine", LIST)]
    store.put_user_policy(A, "bob", "mine", DENY)
    assert store.policies_for_user(A, "bob") == [("inline:mine", DENY)]
    store.delete_user_policy(A, "bob", "mine")
    assert store.policies_for_user(A, "bob") == []
    with pytest.raises(UnknownPolicy):
        store.delete_user_policy(A, "bob", "mine")


def test_unknown_names_are_refused(store):
    store.put_policy(A, "list", LIST)
    with pytest.raises(UnknownUser):
        store.attach_policy(A, "list", user="carol")
    with pytest.raises(UnknownGroup):
        store.attach_policy(A, "list", group="nobody")
    with pytest.raises(UnknownPolicy):
        store.attach_policy(A, "missing", user="alice")
    with pytest.raises(UnknownPolicy):
        store.attach_policy(B, "list", user="alice")       # A's policy is not B's
    with pytest.raises(ValueError):
        store.attach_policy(A, "list")
    with pytest.raises(ValueError):
        store.attach_policy(A, "list", user="alice", group="g")
    with pytest.raises(UnknownGroup):
        store.add_user_to_group(A, "nobody", "alice")
    store.add_group(A, "g")
    with pytest.raises(UnknownUser):
        store.add_user_to_group(A, "g", "carol")
    with pytest.raises(UnknownUser):
        store.put_user_policy(A, "carol", "p", LIST)
    assert store.policy_version(A) >= 1


def test_sizes_and_attachments_are_bounded_as_iam_bounds_them(store):
    def document(size: int) -> str:
        """A document of ``size`` characters without whitespace, and plenty of whitespace."""
        head = '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", ' \
               '"Resource": "arn:aws:s3:::'
        tail = '"}}'
        bare = len(head.replace(" ", "")) + len(tail)
        return head + "x" * (size - bare) + tail + " \n" * 5_000

    assert policy_size(document(6_144)) == 6_144
    store.put_policy(A, "full", document(6_144))
    with pytest.raises(LimitExceeded) as refused:
        store.put_policy(A, "full", document(6_145))
    assert refused.value.code == "LimitExceeded"
    assert store.get_policy(A, "full") == document(6_144)               # nothing changed
    version = store.policy_version(A)

    store.put_user_policy(A, "bob", "one", document(1_000))
    store.put_user_policy(A, "bob", "two", document(1_048))             # 2,048 in all
    store.put_user_policy(A, "bob", "two", document(1_048))             # replacing is no more
    with pytest.raises(LimitExceeded):
        store.put_user_policy(A, "bob", "three", document(100))
    with pytest.raises(LimitExceeded):
        store.put_user_policy(A, "bob", "one", document(1_001))
    assert store.list_user_policies(A, "bob") == ["one", "two"]
    store.put_user_policy(A, "alice", "one", document(2_048))           # per user

    store.add_group(A, "g")
    for n in range(11):
        store.put_policy(A, f"p{n}", LIST)
    for kind in ("user", "group"):
        who = {kind: "alice" if kind == "user" else "g"}
        for n in range(10):
            store.attach_policy(A, f"p{n}", **who)
        store.attach_policy(A, "p0", **who)                              # already attached
        with pytest.raises(LimitExceeded):
            store.attach_policy(A, "p10", **who)
    store.attach_policy(A, "p10", user="bob")
    assert len(store.policies_for_user(A, "alice")) == 10 + 1           # 10 managed, 1 inline
    assert store.policy_version(A) > version


def test_every_change_bumps_the_version(store):
    seen = [store.policy_version(A)]

    def changed() -> None:
        version = store.policy_version(A)
        assert version != seen[-1]
        seen.append(version)

    assert store.policy_version("c" * 64) == 0
    store.put_policy(A, "list", LIST); changed()
    store.add_group(A, "g"); changed()
    store.attach_policy(A, "list", group="g"); changed()
    store.add_user_to_group(A, "g", "alice"); changed()
    store.remove_user_from_group(A, "g", "alice"); changed()
    store.detach_policy(A, "list", group="g"); changed()
    store.put_user_policy(A, "alice", "p", LIST); changed()
    store.delete_user_policy(A, "alice", "p"); changed()
    store.delete_policy(A, "list"); changed()
    before = store.policy_version(B)
    store.put_policy(A, "other", LIST)
    assert store.policy_version(B) == before


def test_the_authorizer_follows_changes(store):
    authorizer = PolicyAuthorizer(store)
    root = Identity(A, "A", "AKROOT")
    assert authorizer.is_allowed(root, "s3:DeleteBucket", "arn:aws:s3:::x")
    assert not authorizer.is_allowed(ALICE, "s3:ListAllMyBuckets", "arn:aws:s3:::*")
    store.put_policy(A, "list", LIST)
    store.attach_policy(A, "list", user="alice")
    assert authorizer.is_allowed(ALICE, "s3:ListAllMyBuckets", "arn:aws:s3:::*")
    store.put_user_policy(A, "alice", "deny", DENY)
    decision = authorizer.decide(ALICE, "s3:ListAllMyBuckets", "arn:aws:s3:::*")
    assert decision.outcome == "explicit deny" and decision.policy == "inline:deny"
    store.delete_user_policy(A, "alice", "deny")
    assert authorizer.is_allowed(ALICE, "s3:ListAllMyBuckets", "arn:aws:s3:::*")


def test_another_instance_sees_a_change_within_the_cache_time(kind, open_store):
    if kind == "memory":
        pytest.skip("one MemoryBackend is one process's store")
    writer = open_store(credential_cache_seconds=0.5)
    reader = open_store(credential_cache_seconds=0.5)
    writer.add_account(A, "A")
    writer.add_user(A, "alice")
    writer.put_policy(A, "list", LIST)
    authorizer = PolicyAuthorizer(reader)
    assert not authorizer.is_allowed(ALICE, "s3:ListAllMyBuckets", "arn:aws:s3:::*")
    writer.attach_policy(A, "list", user="alice")
    deadline = time.monotonic() + 0.5 + 2.0                 # the cache time, and some slack
    while not authorizer.is_allowed(ALICE, "s3:ListAllMyBuckets", "arn:aws:s3:::*"):
        assert time.monotonic() < deadline, "the change was never seen"
        time.sleep(0.05)
    writer.detach_policy(A, "list", user="alice")
    deadline = time.monotonic() + 0.5 + 2.0
    while authorizer.is_allowed(ALICE, "s3:ListAllMyBuckets", "arn:aws:s3:::*"):
        assert time.monotonic() < deadline, "the detach was never seen"
        time.sleep(0.05)


def test_a_database_from_before_policies_is_migrated(make_sql_url):
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.pool import NullPool

    from s3service.backends.sql import schema
    from s3service.backends.sql.schema import POLICY_TABLES as TABLES

    url = make_sql_url("sqlite")
    before = schema.MIGRATIONS.index(schema._policies)
    peek = create_engine(url, poolclass=NullPool)
    with peek.begin() as conn:
        schema.schema_version.create(conn)
        for migration in schema.MIGRATIONS[:before]:
            migration(conn)
        conn.execute(schema.schema_version.insert().values(id=1, version=before))
    assert not {t.name for t in TABLES} & set(inspect(peek).get_table_names())
    store = SQLBackend(url)
    store.add_account(A, "old")
    store.put_policy(A, "list", LIST)
    assert {t.name for t in TABLES} <= set(inspect(peek).get_table_names())
    assert store.list_policies(A) == ["list"]
    store.close()
    peek.dispose()


def test_a_stored_document_that_does_not_parse_refuses_everything(store, caplog):
    # (only the admin layer checks documents; one written behind its back)
    store.put_policy(A, "list", LIST)
    store.attach_policy(A, "list", user="alice")
    store.put_user_policy(A, "alice", "broken", '{"Version": "2012-10-17", "Statement": [')
    # (other tests leave the "s3service" logger at CRITICAL: set this one's level)
    with caplog.at_level(logging.ERROR, logger="s3service.policies"):
        decision = PolicyAuthorizer(store).decide(ALICE, "s3:ListAllMyBuckets", "arn:aws:s3:::*")
    assert (decision.outcome, decision.policy) == ("explicit deny", "inline:broken")
    assert "does not parse" in caplog.text
    store.delete_user_policy(A, "alice", "broken")
    assert PolicyAuthorizer(store).is_allowed(ALICE, "s3:ListAllMyBuckets", "arn:aws:s3:::*")
