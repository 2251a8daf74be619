"""SQLBackend specifics: schema, sharing between instances, concurrency, outages, paging.

Everything runs against real SQLite files and a real throw-away PostgreSQL.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
import traceback
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, event, func, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from s3service.backends import BackendUnavailable, BucketNameTaken
from s3service.backends.sql import listingcache, schema
from s3service.backends.sql import store as sqlmod
from s3service.backends.sql import SQLBackend
from s3service.backends.sql.guard import OutageGuard, retry
from s3service.backends.sql.reader import Reader

A = "a" * 64
B = "b" * 64


def _peek(url: str):
    """A separate engine for looking at the database behind the backend's back."""
    return create_engine(url, poolclass=NullPool)


@pytest.fixture
def backends():
    made: list[SQLBackend] = []

    def make(url: str, **kw) -> SQLBackend:
        backend = SQLBackend(url, **kw)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


METRICS_TABLES = {"s3service_utilization", "s3service_utilization_storage"}


# -- schema ----------------------------------------------------------------------------

def test_schema_created_on_first_use_and_versioned(sql_url, backends):
    peek = _peek(sql_url)
    store = backends(sql_url)
    assert inspect(peek).get_table_names() == []          # constructing does not touch the DB
    assert store.list_accounts() == []
    tables = set(inspect(peek).get_table_names())
    assert {t.name for t in schema.metadata.sorted_tables} | METRICS_TABLES == tables
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(peek).get_indexes("s3service_buckets")}
    assert indexes["ix_s3service_buckets_owner_name"] == ["owner", "name"]
    with peek.connect() as conn:
        assert conn.execute(select(schema.schema_version)).all() == [(1, schema.SCHEMA_VERSION)]
        if peek.dialect.name == "postgresql":
            collation = conn.execute(text(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_name = 's3service_buckets' AND column_name = 'name'")).scalar()
            assert collation == "C"
    store.add_account(A, "kept")
    store.add_bucket(A, "kept-bucket")
    store.close()

    again = backends(sql_url)
    assert again.list_accounts() == [(A, "kept")]
    assert [b.name for b in again.list_buckets(A)] == ["kept-bucket"]
    with peek.connect() as conn:
        assert conn.execute(select(schema.schema_version)).all() == [(1, schema.SCHEMA_VERSION)]
    peek.dispose()


def test_version_1_database_is_migrated(sql_url, backends):
    peek = _peek(sql_url)
    with peek.begin() as conn:   # a database as the first release left it
        schema.schema_version.create(conn)
        schema.MIGRATIONS[0](conn)
        conn.execute(schema.schema_version.insert().values(id=1, version=1))
    assert not METRICS_TABLES & set(inspect(peek).get_table_names())
    store = backends(sql_url)
    store.add_account(A, "old")
    assert METRICS_TABLES <= set(inspect(peek).get_table_names())
    with peek.connect() as conn:
        assert conn.execute(select(schema.schema_version)).all() == [(1, schema.SCHEMA_VERSION)]
    assert store.list_accounts() == [(A, "old")]
    peek.dispose()


def test_version_2_database_gets_bucket_versions_and_kept_entries(sql_url, backends):
    peek = _peek(sql_url)
    created = datetime(2021, 3, 4, 5, 6, 7, 890000, tzinfo=timezone.utc)
    with peek.begin() as conn:   # a database as the previous release left it
        schema.schema_version.create(conn)
        schema.MIGRATIONS[0](conn)
        schema.MIGRATIONS[1](conn)
        conn.exec_driver_sql("ALTER TABLE s3service_accounts DROP COLUMN bucket_version")
        conn.exec_driver_sql("ALTER TABLE s3service_buckets DROP COLUMN listing_entry")
        conn.execute(schema.schema_version.insert().values(id=1, version=2))
        conn.execute(insert(schema.accounts).values(account_id=A, display_name="old"))
        conn.execute(insert(schema.buckets).values(name="kept", owner=A, created=created,
                                                   region="eu-west-1"))
    store = backends(sql_url)
    listed = list(store.list_buckets(A))
    assert [(b.name, b.created, b.region) for b in listed] == [("kept", created, "eu-west-1")]
    with peek.connect() as conn:
        assert conn.execute(select(schema.schema_version)).all() == [(1, schema.SCHEMA_VERSION)]
        assert conn.execute(select(schema.buckets.c.listing_entry)).scalar() == \
            listed[0].listing_xml
    # A process of the previous release writes as it always did: no entry, no
    # version bump of its own.  The trigger bumps the version; the row is read
    # without its entry.
    with peek.begin() as conn:
        conn.execute(insert(schema.buckets).values(name="older", owner=A, created=created))
    assert [(b.name, b.creation_date) for b in store.list_buckets(A)] == [
        ("kept", "2021-03-04T05:06:07.890Z"), ("older", "2021-03-04T05:06:07.890Z")]
    peek.dispose()


def test_service_level_metrics_of_the_previous_version_are_migrated(sql_url, backends):
    level = schema.MIGRATIONS.index(schema._utilization_levels)
    t0 = 1704190500000
    peek = _peek(sql_url)
    with peek.begin() as conn:   # metrics as the release before per-entity metrics kept them
        schema.schema_version.create(conn)
        for migration in schema.MIGRATIONS[:level]:
            migration(conn)
        conn.execute(schema.schema_version.insert().values(id=1, version=level))
        conn.execute(insert(schema._v2_counters), [
            {"interval_start": t0, "operation": "s3:PutObject", "requests": 3,
             "incoming_bytes": 300, "outgoing_bytes": 0},
            {"interval_start": t0, "operation": "", "requests": 1,
             "incoming_bytes": 0, "outgoing_bytes": 9}])
        conn.execute(insert(schema._v2_storage).values(interval_start=t0, bytes_delta=300,
                                                       objects_delta=3))
    store = backends(sql_url)
    totals = store.get_metrics(t0, t0)
    assert totals.operations == {"s3:PutObject": 3}
    assert (totals.incoming_bytes, totals.outgoing_bytes) == (300, 9)
    assert totals.storage_utilized == (0, 300) and totals.number_of_objects == (0, 3)
    tables = set(inspect(peek).get_table_names())
    assert METRICS_TABLES <= tables and not {"s3service_metrics",
                                             "s3service_metrics_storage"} & tables
    with peek.connect() as conn:
        assert conn.execute(select(schema.schema_version)).all() == [(1, schema.SCHEMA_VERSION)]
    peek.dispose()


def test_bucket_metrics_of_the_previous_version_go_to_the_owner_of_their_tenure(sql_url,
                                                                            backends):
    from s3service.backends.metrics_base import Entity
    level = schema.MIGRATIONS.index(schema._bucket_rows_by_owner)
    t0 = 1704190500000                                  # an interval's start
    created = datetime.fromtimestamp((t0 + 60_000) / 1000, timezone.utc)
    peek = _peek(sql_url)
    with peek.begin() as conn:   # bucket rows keyed by name only, as before
        schema.schema_version.create(conn)
        for migration in schema.MIGRATIONS[:level]:
            migration(conn)
        conn.execute(schema.schema_version.insert().values(id=1, version=level))
        conn.execute(insert(schema.accounts).values(account_id=B, display_name="b"))
        conn.execute(insert(schema.buckets).values(name="ledger", owner=B, created=created))
        row = {"level": "buckets", "account_id": "", "operation": "s3:GetObject",
               "requests": 1, "incoming_bytes": 0, "outgoing_bytes": 5}
        conn.execute(insert(schema._utilization_counters), [
            {**row, "name": "ledger", "interval_start": t0 - 900_000},   # A's tenure
            {**row, "name": "ledger", "interval_start": t0},             # B's
            {**row, "name": "made-up", "interval_start": t0}])
        conn.execute(insert(schema._utilization_storage), [
            {"level": "buckets", "account_id": "", "name": "ledger", "interval_start": t,
             "bytes_delta": 10, "objects_delta": 1} for t in (t0 - 900_000, t0)])
    store = backends(sql_url)
    later = t0 + 900_000
    ledger = store.get_metrics(0, later, Entity.bucket("ledger", B))
    assert ledger.operations == {"s3:GetObject": 1} and ledger.storage_utilized == (0, 10)
    with peek.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema._utilization_counters)
                            ).scalar() == 1
        assert conn.execute(select(func.count()).select_from(schema._utilization_storage)
                            ).scalar() == 1
    peek.dispose()


def test_newer_schema_is_refused(sql_url, backends):
    backends(sql_url).list_accounts()
    peek = _peek(sql_url)
    with peek.begin() as conn:
        conn.execute(update(schema.schema_version).values(version=99))
    peek.dispose()
    with pytest.raises(schema.SchemaTooNew):
        backends(sql_url).list_accounts()


def first_used_together(stores: list[SQLBackend]) -> list[BaseException]:
    """What ``stores`` raised, each first used (``list_accounts``) in a thread of its own at
    one moment."""
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def first_use(store: SQLBackend) -> None:
        try:
            barrier.wait()
            store.list_accounts()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_schema_creation_race(sql_url, backends):
    assert first_used_together([backends(sql_url) for _ in range(8)]) == []
    peek = _peek(sql_url)
    with peek.connect() as conn:
        assert conn.execute(select(schema.schema_version)).all() == [(1, schema.SCHEMA_VERSION)]
    peek.dispose()


def test_stores_switching_one_new_sqlite_file_to_wal_together_all_succeed(tmp_path, backends):
    # Each new file is switched to WAL by whichever connection gets its
    # exclusive lock first; SQLite fails the others at once rather than have
    # them wait on each other.  Without the store's retry, one round of eight
    # stores lost that race about one time in ten; thirty rounds failed 4 of 7 runs.
    errors = [exc for round_ in range(30) for exc in first_used_together(
        [backends(f"sqlite:///{tmp_path / f'new-{round_}.db'}") for _ in range(8)])]
    assert errors == []


# -- several instances (as several processes would be) -------------------------------------

def test_instances_see_each_others_writes(sql_url, backends):
    ttl = 0.5
    one = backends(sql_url, credential_cache_seconds=ttl)
    two = backends(sql_url, credential_cache_seconds=ttl)
    one.add_account(A, "Alice")
    one.add_key(A, "AKIAONE", "secret")
    for i in range(3):
        one.add_bucket(A, f"from-one-{i}")
    two.add_bucket(A, "from-two")
    assert [b.name for b in two.list_buckets(A)] == ["from-one-0", "from-one-1", "from-one-2", "from-two"]
    assert [b.name for b in one.list_buckets(A)] == ["from-one-0", "from-one-1", "from-one-2", "from-two"]

    assert two.get_credential("AKIAONE").active
    one.set_key_active("AKIAONE", False)
    assert not one.get_credential("AKIAONE").active          # the writer's cache is dropped at once
    deadline = time.monotonic() + ttl + 0.5
    while (cred := two.get_credential("AKIAONE")).active and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not cred.active, "a disabled key must be refused once the cache time is over"

    # unknown keys are remembered only briefly
    assert two.get_credential("AKIALATE") is None
    one.add_key(A, "AKIALATE", "s")
    time.sleep(ttl / 5 + 0.05)
    assert two.get_credential("AKIALATE") is not None


def test_cache_is_bounded(sql_url, backends, monkeypatch):
    monkeypatch.setattr(sqlmod, "CACHE_ENTRIES", 5)
    store = backends(sql_url, credential_cache_seconds=60)
    store.add_account(A)
    for i in range(20):
        store.add_key(A, f"AK{i:02d}", "s")
    for i in range(20):
        assert store.get_credential(f"AK{i:02d}").access_key == f"AK{i:02d}"
        assert store.get_credential(f"NOPE{i:02d}") is None
    assert len(store._process_state().cache) <= 5


def test_fork_builds_a_new_engine(tmp_path, backends):
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    store = backends(f"sqlite:///{tmp_path / 'fork.db'}")
    store.add_account(A)
    store.add_bucket(A, "parent")
    parent_engine = store.engine
    pid = os.fork()
    if pid == 0:                                   # the child: never return into pytest
        code = 1
        try:
            assert store.engine is not parent_engine
            assert [b.name for b in store.list_buckets(A)] == ["parent"]
            store.add_bucket(A, "child")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.engine is parent_engine
    assert [b.name for b in store.list_buckets(A)] == ["child", "parent"]


def test_in_memory_sqlite(backends):
    store = backends("sqlite://")
    store.add_account(A)
    worker = threading.Thread(target=store.add_bucket, args=(A, "threaded"))
    worker.start()
    worker.join()
    assert [b.name for b in store.list_buckets(A)] == ["threaded"]


# -- concurrency -------------------------------------------------------------------------

def _run_threads(n: int, target) -> list[BaseException]:
    errors: list[BaseException] = []

    def wrapped(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


def test_threads_create_distinct_buckets_while_listing(sql_url, backends):
    store = backends(sql_url)
    store.add_account(A)
    store.add_account(B)
    per_thread = 25

    def work(i: int) -> None:
        for j in range(per_thread):
            store.add_bucket(A if i % 2 else B, f"t{i:02d}-{j:03d}")
            listed = [b.name for b in store.list_buckets(A if i % 2 else B, limit=50)]
            assert listed == sorted(listed)
            assert all(int(n[1:3]) % 2 == i % 2 for n in listed)   # never the other account's

    assert _run_threads(16, work) == []
    expected_a = sorted(f"t{i:02d}-{j:03d}" for i in range(1, 16, 2) for j in range(per_thread))
    assert [b.name for b in store.list_buckets(A)] == expected_a
    assert len(list(store.list_buckets(B))) == 8 * per_thread


def test_racing_for_the_same_bucket_one_wins(sql_url, backends):
    stores = [backends(sql_url) for _ in range(4)]          # as if from several processes
    stores[0].add_account(A)
    stores[0].add_account(B)
    n = 12
    for round_ in range(5):
        name = f"contested-{round_}"
        barrier = threading.Barrier(n)
        winners: list[str] = []
        losers: list[str] = []

        def work(i: int) -> None:
            account = A if i % 2 else B
            barrier.wait()
            try:
                stores[i % len(stores)].add_bucket(account, name)
                winners.append(account)
            except BucketNameTaken as exc:
                losers.append(exc.owner)

        assert _run_threads(n, work) == []
        assert len(winners) == 1, winners
        assert losers == [winners[0]] * (n - 1)
        assert stores[1].get_bucket(name)[0] == winners[0]


# -- paging ------------------------------------------------------------------------------

def test_a_large_account_is_listed_in_keyset_pages(sql_url, backends, monkeypatch):
    monkeypatch.setattr(listingcache, "MAX_ACCOUNT", 1000)   # A is too large to keep
    store = backends(sql_url)
    store.add_account(A)
    store.add_account(B)
    created = datetime(2022, 1, 1, tzinfo=timezone.utc)
    rows = [{"name": f"bulk-{i:05d}", "owner": A, "created": created, "region": "us-east-1"}
            for i in range(5000)]
    rows += [{"name": f"bulk-{i:05d}x", "owner": B, "created": created, "region": "us-east-1"}
             for i in range(100)]
    with store.engine.begin() as conn:
        conn.execute(insert(schema.buckets), rows)

    statements: list[str] = []
    original = Reader.rows

    def recorded(reader, statement, params):
        if "s3service_buckets" in statement:
            statements.append(statement)
        return original(reader, statement, params)

    monkeypatch.setattr(Reader, "rows", recorded)
    listing = store.list_buckets(A)
    first = next(listing)
    assert first.name == "bulk-00000"
    assert store._process_state().reader.in_use() == 0, "no connection is held between pages"
    assert not _in_transaction(store), "nor any transaction left open"
    statements.clear()
    rest = list(listing)
    assert [b.name for b in rest] == [f"bulk-{i:05d}" for i in range(1, 5000)]
    assert len(statements) == 5
    assert all("ORDER BY NAME" in s.upper() and "LIMIT" in s.upper() for s in statements)
    assert not any("OFFSET" in s.upper() for s in statements)

    statements.clear()
    assert len(list(itertools.islice(store.list_buckets(A), 1500))) == 1500
    assert len(statements) == 2, "the listing stops when its consumer stops"

    statements.clear()
    assert len(list(store.list_buckets(A, limit=2000))) == 2000
    assert len(statements) == 2


def _in_transaction(store: SQLBackend) -> bool:
    """Whether a connection the reader keeps has a transaction open."""
    for connection in store._process_state().reader.idle():
        if hasattr(connection, "in_transaction"):                   # sqlite3
            if connection.in_transaction:
                return True
        elif connection.info.transaction_status != 0:               # psycopg: 0 is IDLE
            return True
    return False


# -- errors ------------------------------------------------------------------------------

def test_unreachable_sqlite_is_unavailable(tmp_path):
    store = SQLBackend(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    with pytest.raises(BackendUnavailable):
        store.list_accounts()
    with pytest.raises(BackendUnavailable):
        store.get_credential("AKIA")
    with pytest.raises(BackendUnavailable):
        list(store.list_buckets(A))


def test_guard_names_an_outage_without_the_password():
    # Nothing listens on port 1: a real "connection refused".
    store = SQLBackend("postgresql+psycopg://s3:hunter2@127.0.0.1:1/s3", credential_cache_seconds=0)
    try:
        with pytest.raises(BackendUnavailable) as info:
            store.get_credential("AKIA")
    finally:
        store.close()
    message = str(info.value)
    assert message.startswith("database postgresql+psycopg://s3:***@127.0.0.1:1/s3 unavailable: ")
    assert "hunter2" not in message and "\n" not in message
    assert isinstance(info.value.__cause__, OperationalError)


def test_guard_hides_a_quoted_password_and_passes_other_errors(tmp_path):
    guard = OutageGuard("postgresql+psycopg://s3:hunter2@db.example/s3")
    engine = create_engine(f"sqlite:///{tmp_path / 'guard.db'}")
    try:
        with pytest.raises(BackendUnavailable) as info:
            with guard, engine.connect() as conn:
                conn.execute(text("SELECT * FROM hunter2"))      # sqlite3.OperationalError
        assert str(info.value) == ("database postgresql+psycopg://s3:***@db.example/s3 "
                                   "unavailable: OperationalError: no such table: ***")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(IntegrityError):                        # not an outage: unchanged
            with guard, engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        engine.dispose()


@pytest.fixture
def keyed_table(tmp_path):
    """A real SQLite table holding key 1, and ``insert(key)`` running in its own transaction."""
    engine = create_engine(f"sqlite:///{tmp_path / 'retry.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    tried: list[int] = []

    def insert_key(key: int) -> int:
        tried.append(key)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:k)"), {"k": key})
        return key

    yield insert_key, tried
    engine.dispose()


def test_retry_succeeds_on_the_second_attempt(keyed_table):
    insert_key, tried = keyed_table
    keys = iter([1, 2])                                  # 1 is taken: a lost race
    assert retry(lambda: insert_key(next(keys)), on=IntegrityError, attempts=3) == 2
    assert tried == [1, 2]


def test_retry_gives_up_after_n_attempts_with_a_growing_pause(keyed_table):
    insert_key, tried = keyed_table
    started = time.monotonic()
    with pytest.raises(IntegrityError):
        retry(lambda: insert_key(1), on=IntegrityError, attempts=4, pause=0.01)
    assert tried == [1, 1, 1, 1]
    assert time.monotonic() - started >= 0.01 + 0.02 + 0.03
    tried.clear()
    with pytest.raises(IntegrityError):                  # other exceptions are not retried
        retry(lambda: insert_key(1), on=OperationalError, attempts=4)
    assert tried == [1]


def test_retry_diagnose_explains_or_stops(keyed_table):
    insert_key, tried = keyed_table
    seen: list[IntegrityError] = []

    def explain(exc: IntegrityError) -> bool:
        seen.append(exc)
        raise LookupError("key 1 is taken")

    with pytest.raises(LookupError, match="taken"):
        retry(lambda: insert_key(1), on=IntegrityError, attempts=3, diagnose=explain)
    assert tried == [1] and isinstance(seen[0], IntegrityError)
    tried.clear()
    with pytest.raises(IntegrityError):
        retry(lambda: insert_key(1), on=IntegrityError, attempts=3, diagnose=lambda exc: False)
    assert tried == [1]
    tried.clear()
    keys = iter([1, 1, 5])
    assert retry(lambda: insert_key(next(keys)), on=IntegrityError, attempts=3,
                 diagnose=lambda exc: True) == 5
    assert tried == [1, 1, 5]


def test_secrets_kept_out_of_errors(sql_url, backends):
    store = backends(sql_url)
    assert store.engine.hide_parameters
    store.add_account(A)
    # a NOT NULL violation: PostgreSQL would quote the failing row, token included
    token = "-".join(["TOPSECRET", "TOKEN"])     # not spelled out in the traceback's source lines
    with pytest.raises(Exception) as info:
        store.add_key(A, "AKIABAD", None, session_token=token)
    shown = "".join(traceback.format_exception(info.value))
    assert "TOPSECRET" not in shown
    assert "AKIABAD" in shown


def test_postgres_outage_and_recovery(private_postgres, backends, monkeypatch):
    monkeypatch.setattr(listingcache, "MAX_ACCOUNT", 1000)   # its pages come from the database
    server = private_postgres
    # trust authentication ignores the password; it must never be shown
    url = server.url.replace("postgres@", "postgres:hunter2@")
    store = backends(url, credential_cache_seconds=0)
    assert "hunter2" not in repr(store)
    store.add_account(A, "Alice")
    store.add_key(A, "AKIAPG", "secret")
    for i in range(3):
        store.add_bucket(A, f"b{i:04d}")
    with store.engine.begin() as conn:
        conn.execute(insert(schema.buckets), [
            {"name": f"b{i:04d}", "owner": A, "created": datetime.now(timezone.utc),
             "region": "us-east-1"} for i in range(3, 1500)])
    assert store.get_credential("AKIAPG").active

    listing = store.list_buckets(A)
    assert next(listing).name == "b0000"               # the first page is in hand

    server.stop()
    timings = {}
    for name, call in [("get_credential", lambda: store.get_credential("AKIAPG")),
                       ("list_buckets", lambda: list(store.list_buckets(A))),
                       ("add_bucket", lambda: store.add_bucket(A, "during-outage")),
                       ("next page", lambda: list(listing))]:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable) as info:
            call()
        timings[name] = time.monotonic() - started
        assert "hunter2" not in str(info.value)
        assert "hunter2" not in repr(info.value.__cause__)
        assert timings[name] < 10, timings
    print(f"\noutage detected in: {', '.join(f'{k} {v * 1000:.1f} ms' for k, v in timings.items())}")

    server.start()
    started = time.monotonic()
    assert store.get_credential("AKIAPG").account_id == A   # the same backend object recovers
    print(f"first call after restart: {(time.monotonic() - started) * 1000:.1f} ms")
    assert len(list(store.list_buckets(A))) == 1500
    store.add_bucket(A, "after-outage")
    assert store.get_bucket("after-outage")[0] == A

    # and once more, with the server killed rather than shut down
    server.stop("immediate")
    with pytest.raises(BackendUnavailable):
        store.get_credential("AKIAPG")
    server.start()
    assert store.get_credential("AKIAPG") is not None
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.buckets)).scalar() == 1501
