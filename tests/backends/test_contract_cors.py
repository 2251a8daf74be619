"""The CORS store contract (``CORSSource``, ``CORSStore``) on memory, SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from s3service.backends import UnknownBucket
from s3service.backends.protocols import CORSSource, CORSStore
from s3service.cors import CORSConfiguration, CORSRule

from .test_contract import A, B, empty_store, two_accounts  # noqa: F401 (fixtures)

RULES = CORSConfiguration((
    CORSRule(allowed_methods=("GET", "PUT"), allowed_origins=("https://app.example", "*.ex"),
             allowed_headers=("*",), expose_headers=("ETag", "x-amz-request-id"),
             max_age_seconds=3000, id="ünï <rule> & 'quotes'"),
    CORSRule(allowed_methods=("HEAD",), allowed_origins=("*",)),
))


def test_implements_the_cors_protocols(empty_store):  # noqa: F811
    assert isinstance(empty_store, CORSSource) and isinstance(empty_store, CORSStore)


def test_put_get_replace_delete(two_accounts):  # noqa: F811
    store = two_accounts
    store.add_bucket(A, "photos")
    assert store.bucket_cors("photos") is None
    store.put_bucket_cors("photos", RULES, owner=A)
    assert store.bucket_cors("photos") == RULES
    other = CORSConfiguration((CORSRule(allowed_methods=("POST",), allowed_origins=("x",)),))
    store.put_bucket_cors("photos", other)
    assert store.bucket_cors("photos") == other
    store.delete_bucket_cors("photos", owner=A)
    assert store.bucket_cors("photos") is None
    store.delete_bucket_cors("photos")            # none is fine
    assert store.bucket_cors("nosuch") is None


def test_only_the_owner_writes(two_accounts):  # noqa: F811
    store = two_accounts
    store.add_bucket(A, "photos")
    store.put_bucket_cors("photos", RULES, owner=A)
    with pytest.raises(UnknownBucket):
        store.put_bucket_cors("photos", CORSConfiguration(()), owner=B)
    with pytest.raises(UnknownBucket):
        store.delete_bucket_cors("photos", owner=B)
    with pytest.raises(UnknownBucket):
        store.put_bucket_cors("nosuch", RULES)
    assert store.bucket_cors("photos") == RULES


def test_rules_go_with_their_bucket(two_accounts):  # noqa: F811
    """A bucket deleted and made again (by anyone) starts without the old rules."""
    store = two_accounts
    store.add_bucket(A, "photos")
    store.put_bucket_cors("photos", RULES, owner=A)
    store.delete_bucket("photos")
    assert store.bucket_cors("photos") is None
    store.add_bucket(B, "photos")
    assert store.bucket_cors("photos") is None
