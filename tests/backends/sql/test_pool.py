"""The SQL store holds at most ``pool_size`` PostgreSQL connections per process, whatever its threads.

Counted by PostgreSQL itself (``pg_stat_activity``), while many threads list,
look up keys and create buckets at once; and a request that finds every
connection taken waits at most ``backend_timeout`` seconds, then gets
BackendUnavailable (served as 503).
"""
from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy.engine import make_url

from s3service.backends.base import BackendUnavailable
from s3service.backends.sql import SQLBackend

ACCOUNT = "p" * 64
THREADS = 16


def connections_to(url: str, watcher: psycopg.Connection) -> int:
    """Connections to the database of ``url``, the watcher's own left out."""
    return watcher.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (make_url(url).database,)).fetchone()[0]


def watcher_for(url: str) -> psycopg.Connection:
    u = make_url(url)
    return psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database,
                           autocommit=True)


def test_many_threads_share_pool_size_connections(make_sql_url):
    url = make_sql_url("postgresql")
    store = SQLBackend(url, credential_cache_seconds=0, pool_size=3)
    store.add_account(ACCOUNT, display_name="pool")
    store.add_key(ACCOUNT, "AKIAPOOL", "pool-secret")
    store.add_bucket(ACCOUNT, "pool-bucket")
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS + 1)

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(30):
                assert "pool-bucket" in [b.name for b in store.list_buckets(ACCOUNT)]
                assert store.get_credential("AKIAPOOL") is not None
                if i % 10 == 0:
                    store.add_bucket(ACCOUNT, f"pool-{n}-{i}")
                    store.delete_bucket(f"pool-{n}-{i}", owner=ACCOUNT)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    seen = []
    with watcher_for(url) as watcher:
        start.wait()
        while any(thread.is_alive() for thread in threads):
            seen.append(connections_to(url, watcher))
            time.sleep(0.005)
        for thread in threads:
            thread.join()
        assert not errors, errors[:3]
        assert max(seen) >= 2, "the threads did overlap"
        assert max(seen) <= 3, f"{max(seen)} connections for a pool of 3"
        store.close()
        deadline = time.monotonic() + 5          # (the server ends its side a moment later)
        while connections_to(url, watcher) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert connections_to(url, watcher) == 0


def test_a_request_waits_for_a_connection_at_most_backend_timeout(make_sql_url):
    url = make_sql_url("postgresql")
    store = SQLBackend(url, credential_cache_seconds=0, pool_size=1, backend_timeout=1.0)
    store.add_account(ACCOUNT, display_name="pool")
    store.add_key(ACCOUNT, "AKIAPOOL", "pool-secret")
    with store.engine.connect():                 # the only connection, taken
        for ask in (lambda: list(store.list_buckets(ACCOUNT)),
                    lambda: store.get_credential("AKIAPOOL")):
            started = time.monotonic()
            with pytest.raises(BackendUnavailable):
                ask()
            assert 0.8 < time.monotonic() - started < 3.0
    # Given back: served again, on that one connection.
    assert list(store.list_buckets(ACCOUNT)) == []
    assert store.get_credential("AKIAPOOL").account_id == ACCOUNT
    assert store.engine.pool.checkedout() == 0
    store.close()


@pytest.mark.parametrize("size, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                         (True, TypeError), ("2", TypeError)])
def test_pool_size_is_a_positive_whole_number(size, error):
    with pytest.raises(error, match="pool_size"):
        SQLBackend("sqlite://", pool_size=size)
