"""Tenant isolation, as a property: whatever the request, no listing shows another account's bucket.

Hypothesis draws accounts, IAM users, keys and buckets (names from a tiny
alphabet, so prefixes and sort orders of different accounts interleave), puts
them in a MemoryBackend or an SQLBackend on SQLite, then sends ListBuckets
requests signed by botocore with random prefix, max-buckets, bucket-region
and continuation tokens -- tokens taken from *any* account's earlier answers.
Every 200 must list only the signer's own buckets, exactly those matching the
filters; following a signer's own tokens must list them all, once each.
"""
from __future__ import annotations

import itertools
import uuid
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3service import S3ServiceMiddleware
from s3service.authorization import AllowAuthenticated
from s3service.backends.memory import MemoryBackend
from s3service.backends.sql import SQLBackend

from tests.helpers.signing import signed_environ

HOST = "s3.example.com"
REGIONS = ["us-east-1", "eu-west-1", "ap-south-1"]
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

_counter = itertools.count()

bucket_names = st.text(alphabet="ab-.0", min_size=3, max_size=6).map(lambda s: "b" + s)
account_strategy = st.fixed_dictionaries({
    "users": st.lists(st.sampled_from(["alice", "bob", "carol", "dave"]), max_size=2,
                      unique=True),
    "buckets": st.lists(st.tuples(bucket_names, st.sampled_from(REGIONS)), max_size=12),
})
world_strategy = st.lists(account_strategy, min_size=2, max_size=4)

request_strategy = st.fixed_dictionaries({
    "key": st.integers(min_value=0, max_value=1000),
    "prefix": st.one_of(st.none(), st.text(alphabet="ab-.0", max_size=3).map(lambda s: "b" + s),
                        st.just(""), st.text(max_size=3)),
    "max_buckets": st.one_of(st.none(), st.integers(min_value=1, max_value=5),
                             st.sampled_from(["0", "x", "10001"])),
    "region": st.one_of(st.none(), st.sampled_from(REGIONS + ["", "nowhere"])),
    "token": st.one_of(st.none(), st.integers(min_value=0, max_value=1000),
                       st.sampled_from(["", "garbage", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])),
    "version": st.sampled_from(["v4", "v4", "v2"]),
    "presign": st.booleans(),
})

# IAM users here may do everything: what is tested is not their policies.
EVERY_CALLER = AllowAuthenticated()


class World:
    """The store, the keys and who owns what."""

    def __init__(self, store, spec) -> None:
        self.store = store
        self.keys: list[tuple[str, str, str]] = []      # (access key, secret, account)
        self.owned: dict[str, dict[str, str]] = {}      # account -> {bucket: region}
        taken: set[str] = set()
        run = next(_counter)
        for i, account in enumerate(spec):
            account_id = f"{i:02d}{run:06d}".ljust(64, "0")
            store.add_account(account_id, display_name=f"account-{i}")
            self.owned[account_id] = {}
            for user in [None, *account["users"]]:
                access_key = f"AKIA{i}{user or 'ROOT'}{run}".upper()[:20]
                secret = f"secret-{i}-{user}-{uuid.uuid4().hex}"
                store.add_key(account_id, access_key, secret, user=user)
                self.keys.append((access_key, secret, account_id))
            for name, region in account["buckets"]:
                if name not in taken:
                    taken.add(name)
                    store.add_bucket(account_id, name, region=region)
                    self.owned[account_id][name] = region

    def expected(self, account: str, prefix: str | None, region: str | None) -> list[str]:
        return sorted(name for name, where in self.owned[account].items()
                      if name.startswith(prefix or "") and (region is None or where == region))


def make_store(kind: str, tmp_path):
    if kind == "memory":
        return MemoryBackend()
    return SQLBackend(f"sqlite:///{tmp_path / f'iso-{uuid.uuid4().hex[:8]}.db'}",
                      credential_cache_seconds=0)


def query_of(request: dict, tokens: list[str]) -> tuple[str, dict]:
    params: dict[str, str] = {}
    if request["prefix"] is not None:
        params["prefix"] = request["prefix"]
    if request["max_buckets"] is not None:
        params["max-buckets"] = str(request["max_buckets"])
    if request["region"] is not None:
        params["bucket-region"] = request["region"]
    token = request["token"]
    if isinstance(token, int):
        if tokens:
            params["continuation-token"] = tokens[token % len(tokens)]
    elif token is not None:
        params["continuation-token"] = token
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items()), params


def list_buckets(app, access_key: str, secret: str, query: str, *, version: str = "v4",
                 presign: bool = False):
    url = f"http://{HOST}/" + (f"?{query}" if query else "")
    environ = signed_environ("GET", url, access_key, secret, version=version,
                             presign=presign)
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers

    body = b"".join(app(environ, start_response))
    return int(captured["status"][:3]), dict(captured["headers"]), body


def parse_listing(body: bytes) -> tuple[str, list[str], str | None]:
    root = ElementTree.fromstring(body)
    assert root.tag == NS + "ListAllMyBucketsResult"
    owner = root.findtext(f"{NS}Owner/{NS}ID")
    names = [e.text for e in root.iterfind(f"{NS}Buckets/{NS}Bucket/{NS}Name")]
    return owner, names, root.findtext(f"{NS}ContinuationToken")


def check_world(kind: str, tmp_path, spec, requests, token_secret) -> None:
    store = make_store(kind, tmp_path)
    world = World(store, spec)
    app = S3ServiceMiddleware(lambda e, s: [], credentials=store, buckets=store,
                              authorizer=EVERY_CALLER,
                              service_hosts=[HOST], token_secret=token_secret)
    tokens: list[str] = []
    for request in requests:
        access_key, secret, account = world.keys[request["key"] % len(world.keys)]
        query, params = query_of(request, tokens)
        status, headers, body = list_buckets(app, access_key, secret, query,
                                             version=request["version"],
                                             presign=request["presign"])
        if status != 200:
            assert 400 <= status < 500, (status, body)
            assert b"<Code>InvalidArgument</Code>" in body, body
            continue
        owner, names, token = parse_listing(body)
        # The property: nothing but the signer's own buckets, whatever was asked.
        assert owner == account
        assert set(names) <= set(world.owned[account]), (names, world.owned[account])
        prefix, region = params.get("prefix"), params.get("bucket-region")
        expected = world.expected(account, prefix, region)
        if "continuation-token" not in params:
            page = int(params["max-buckets"]) if "max-buckets" in params else len(expected)
            assert names == expected[:page]
        else:
            assert names == sorted(names) and all(n in expected for n in names)
        if token is not None:
            tokens.append(token)
            # Following the signer's own tokens lists everything else, once.
            seen = list(names)
            while token is not None:
                status, _, body = list_buckets(
                    app, access_key, secret,
                    query + "&continuation-token=" + quote(token, safe="")
                    if "continuation-token" not in params else
                    "&".join(p for p in query.split("&")
                             if not p.startswith("continuation-token="))
                    + "&continuation-token=" + quote(token, safe=""))
                assert status == 200, body
                owner, more, token = parse_listing(body)
                assert owner == account and set(more) <= set(world.owned[account])
                seen += more
                if token is not None:
                    tokens.append(token)
            assert len(seen) == len(set(seen)) and seen == sorted(seen)
            if "continuation-token" not in params:
                assert seen == expected


ISOLATION = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                       HealthCheck.function_scoped_fixture])


@settings(max_examples=60, **ISOLATION)
@given(spec=world_strategy, requests=st.lists(request_strategy, min_size=1, max_size=8),
       token_secret=st.sampled_from([None, "shared-token-secret"]))
def test_memory_backend_isolation(tmp_path, spec, requests, token_secret):
    check_world("memory", tmp_path, spec, requests, token_secret)


@settings(max_examples=20, **ISOLATION)
@given(spec=world_strategy, requests=st.lists(request_strategy, min_size=1, max_size=6),
       token_secret=st.sampled_from([None, "shared-token-secret"]))
def test_sql_backend_isolation(tmp_path, spec, requests, token_secret):
    check_world("sqlite", tmp_path, spec, requests, token_secret)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_tokens_of_another_account_are_refused(tmp_path, kind):
    """A deterministic case: B replays A's token, with and without a shared token secret."""
    spec = [{"users": [], "buckets": [("baa", "us-east-1"), ("bab", "us-east-1"),
                                      ("bac", "us-east-1")]},
            {"users": [], "buckets": [("bab0", "us-east-1"), ("bb", "us-east-1")]}]
    for token_secret in (None, "shared"):
        store = make_store(kind, tmp_path)
        world = World(store, spec)
        app = S3ServiceMiddleware(lambda e, s: [], credentials=store, buckets=store,
                              authorizer=EVERY_CALLER,
                                  service_hosts=[HOST], token_secret=token_secret)
        (ak_a, sk_a, _), (ak_b, sk_b, account_b) = world.keys
        status, _, body = list_buckets(app, ak_a, sk_a, "max-buckets=1")
        _, names, token = parse_listing(body)
        assert names == ["baa"] and token
        status, _, body = list_buckets(app, ak_b, sk_b,
                                       "max-buckets=1&continuation-token=" + quote(token, safe=""))
        assert status == 400 and b"InvalidArgument" in body
        status, _, body = list_buckets(app, ak_b, sk_b, "prefix=ba")
        owner, names, _ = parse_listing(body)
        assert owner == account_b and names == ["bab0"]
