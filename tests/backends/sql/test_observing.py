"""The SQL store tells an observer of each of its calls to the database, and of those that fail."""
from __future__ import annotations

from collections import Counter

import pytest

from s3service.backends import BackendUnavailable
from s3service.backends.sql import SQLBackend
from s3service.backends.sql.observing import READ, TRANSACTION
from s3service.gateway.tally import Tally

A = "a" * 64


class Calls:
    """An observer keeping each call's kind and duration, and each failure."""

    def __init__(self) -> None:
        self.seconds: list[tuple[str, float]] = []
        self.errors: list[tuple[str, str]] = []

    def call_timer(self, call):
        return lambda seconds: self.seconds.append((call, seconds))

    def store_error(self, call, error):
        self.errors.append((call, error))

    def take(self) -> Counter:
        """The calls told of since the last take, by kind (each with a duration of its own)."""
        assert all(isinstance(seconds, float) and 0 <= seconds < 60 for _, seconds in self.seconds)
        taken = Counter(call for call, _ in self.seconds)
        self.seconds.clear()
        return taken


@pytest.fixture
def store(sql_url):
    store = SQLBackend(sql_url, credential_cache_seconds=60)
    store.add_account(A, display_name="observed")
    store.add_key(A, "AKIAOBSERVED", "secret")
    for name in ("b-one", "b-two"):
        store.add_bucket(A, name)
    yield store
    store.close()


def test_each_read_and_transaction_is_timed_and_cache_hits_are_not(store):
    calls = Calls()
    store.observe_database(calls)
    assert [b.name for b in store.list_buckets(A)] == ["b-one", "b-two"]
    # the account's bucket version, then its buckets (none kept in this process yet)
    assert calls.take() == {READ: 2}
    assert [b.name for b in store.list_buckets(A)] == ["b-one", "b-two"]
    assert calls.take() == {READ: 1}                     # the version only: the rest is kept
    assert store.get_credential("AKIAOBSERVED").account_id == A
    assert calls.take()[TRANSACTION] >= 1               # the key (and the revocations' poll)
    store.get_credential("AKIAOBSERVED")
    assert calls.take()[TRANSACTION] <= 1               # from the cache (a poll at most)
    store.add_bucket(A, "b-three")
    assert calls.take()[TRANSACTION] >= 1
    assert calls.errors == []

    store.observe_database(None)
    list(store.list_buckets(A))
    assert calls.take() == {}


def test_a_worker_tally_counts_the_calls_it_was_told_of(store):
    tally = Tally()
    store.observe_database(tally)
    for _ in range(3):
        list(store.list_buckets(A))
    taken = tally.take()
    assert taken.store_call_counts == {READ: 4}
    assert sum(taken.store_calls[READ].counts) == 4 and taken.store_errors == {}


def test_an_unreachable_database_is_counted_as_an_error(tmp_path):
    store = SQLBackend(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    calls = Calls()
    store.observe_database(calls)
    with pytest.raises(BackendUnavailable):
        store.list_accounts()
    assert calls.errors == [(TRANSACTION, "OperationalError")]
    assert calls.take() == {TRANSACTION: 1}


def test_a_read_finding_postgresql_stopped_is_counted_as_an_error(private_postgres):
    store = SQLBackend(private_postgres.url, credential_cache_seconds=60)
    try:
        store.add_account(A, display_name="observed")
        store.add_bucket(A, "b-one")
        calls = Calls()
        store.observe_database(calls)
        assert [b.name for b in store.list_buckets(A)] == ["b-one"]
        calls.take()
        private_postgres.stop()
        with pytest.raises(BackendUnavailable):
            list(store.list_buckets(A))
        assert calls.take() == {READ: 1}
        assert len(calls.errors) == 1 and calls.errors[0][0] == READ
        assert calls.errors[0][1] in ("OperationalError", "InterfaceError")
    finally:
        private_postgres.start()
        store.close()
