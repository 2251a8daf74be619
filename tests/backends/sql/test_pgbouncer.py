"""The SQL store through Debian's PgBouncer in transaction pooling mode (tests/helpers/pgbouncer.py).

PgBouncer refuses the startup ``options`` the store sets ``statement_timeout``
with, and hands each transaction whichever server connection is free, so
statements prepared on one are unknown on the next: the store must connect
without the options, never prepare, and say so when the timeout is not in
force.  Straight to PostgreSQL, it still sets the timeout itself.
"""
from __future__ import annotations

import logging
import threading

import pytest

from s3service.backends.sql import SQLBackend
from s3service.backends.sql.pgsession import milliseconds

ACCOUNT = "b" * 64
THREADS = 6


def statement_timeout(store: SQLBackend) -> str:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql("SHOW statement_timeout").scalar()


def prepare_threshold(store: SQLBackend) -> int | None:
    proxy = store.engine.raw_connection()
    try:
        return proxy.dbapi_connection.prepare_threshold
    finally:
        proxy.close()


def test_the_store_works_through_pgbouncer_in_transaction_mode(make_sql_url, caplog):
    url = make_sql_url("pgbouncer")
    store = SQLBackend(url, credential_cache_seconds=0, pool_size=4)
    store.add_account(ACCOUNT, display_name="bouncer")
    store.add_key(ACCOUNT, "AKIABOUNCER", "bouncer-secret")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:                    # far more than psycopg's 5 executions before it prepares
            for i in range(25):
                store.add_bucket(ACCOUNT, f"bouncer-{n}-{i}")
                assert f"bouncer-{n}-{i}" in {b.name for b in store.list_buckets(ACCOUNT)}
                assert store.get_credential("AKIABOUNCER").account_id == ACCOUNT
                store.delete_bucket(f"bouncer-{n}-{i}", owner=ACCOUNT)
        except BaseException as exc:  # reported below
            errors.append(exc)

    with caplog.at_level(logging.WARNING, logger="s3service"):
        threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors[:3]
    assert list(store.list_buckets(ACCOUNT)) == []
    assert statement_timeout(store) == "30s", "the database's own setting"
    assert prepare_threshold(store) is None, "never prepares behind a pooler"
    assert not [r for r in caplog.records if "statement_timeout" in r.getMessage()]
    store.close()


def test_a_timeout_pgbouncer_cannot_pass_on_is_reported(make_sql_url, pgbouncer, caplog):
    direct = make_sql_url("postgresql")          # no statement_timeout for the database
    store = SQLBackend(pgbouncer.url(direct), statement_timeout=30)
    with caplog.at_level(logging.WARNING, logger="s3service"):
        store.add_account(ACCOUNT, display_name="bouncer")
        assert list(store.list_buckets(ACCOUNT)) == []
    warnings = [r.getMessage() for r in caplog.records if "statement_timeout" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "ALTER ROLE" in warnings[0] and "PgBouncer" in warnings[0]
    assert statement_timeout(store) == "0"
    store.close()


def test_straight_to_postgresql_the_store_sets_the_timeout_itself(make_sql_url, caplog):
    store = SQLBackend(make_sql_url("postgresql"), statement_timeout=12.5)
    with caplog.at_level(logging.WARNING, logger="s3service"):
        store.add_account(ACCOUNT, display_name="direct")
    assert milliseconds(statement_timeout(store)) == 12_500
    assert prepare_threshold(store) == 5, "psycopg's own: prepared after 5 executions"
    assert not [r for r in caplog.records if "statement_timeout" in r.getMessage()]
    store.close()


@pytest.mark.parametrize("shown, ms", [("0", 0), ("250ms", 250), ("30s", 30_000),
                                       ("1min", 60_000), ("2h", 7_200_000)])
def test_durations_as_postgresql_shows_them(shown, ms):
    assert milliseconds(shown) == ms
