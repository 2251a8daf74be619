"""The SQL metrics store, on SQLite and PostgreSQL: additive batches, shared totals."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, func, select

from s3service.backends.base import BackendUnavailable
from s3service.backends.sql import SQLBackend
from s3service.metrics import INTERVAL_MS, Meter, MetricsStore
from s3service.backends.metrics_base import S3, Entity
from s3service.backends.sql.metrics import SQLMetrics, counters
from s3service.paste import filter_factory

T0 = 1704190500000
BUCKET = Entity.bucket("photos")


def test_sql_backend_is_a_metrics_store(sql_url):
    store = SQLBackend(sql_url)
    assert isinstance(store, MetricsStore)
    empty = store.get_metrics(T0, T0 + INTERVAL_MS - 1)
    assert empty.operations == {} and empty.storage_utilized == (0, 0)


def test_batches_add_up(sql_url):
    store = SQLBackend(sql_url)
    store.add_metrics({(T0, S3, "s3:PutObject"): (2, 100, 0), (T0, S3, ""): (1, 7, 9),
                       (T0 + INTERVAL_MS, S3, "s3:GetObject"): (1, 0, 50),
                       (T0, BUCKET, "s3:PutObject"): (4, 40, 0)},
                      {(T0 - INTERVAL_MS, S3): (1000, 2), (T0, S3): (100, 1),
                       (T0 + INTERVAL_MS, S3): (-50, -1), (T0, BUCKET): (40, 4)})
    store.add_metrics({(T0, S3, "s3:PutObject"): (1, 10, 0)}, {(T0, S3): (1, 0)})
    store.add_metrics({}, {})
    first = store.get_metrics(T0, T0 + INTERVAL_MS - 1)
    assert first.operations == {"s3:PutObject": 3}
    assert (first.incoming_bytes, first.outgoing_bytes) == (117, 9)
    assert first.storage_utilized == (1000, 1101) and first.number_of_objects == (2, 3)
    both = store.get_metrics(T0, T0 + 2 * INTERVAL_MS - 1)
    assert both.operations == {"s3:PutObject": 3, "s3:GetObject": 1}
    assert both.storage_utilized == (1000, 1051) and both.number_of_objects == (2, 2)
    # a second backend on the same database (another process of the fleet) sees the same
    other = SQLBackend(sql_url)
    assert other.get_metrics(T0, T0 + 2 * INTERVAL_MS - 1) == both
    bucket = other.get_metrics(T0, T0, BUCKET)
    assert bucket.operations == {"s3:PutObject": 4} and bucket.incoming_bytes == 40
    assert bucket.storage_utilized == (0, 40) and bucket.number_of_objects == (0, 4)
    assert other.get_metrics(T0, T0, Entity.for_account("nobody")).operations == {}


def test_big_counters(sql_url):
    store = SQLBackend(sql_url)
    big = 5 * 2 ** 40                                    # 5 TiB in one interval
    store.add_metrics({(T0, S3, "s3:PutObject"): (1, big, 0)}, {(T0, S3): (big, 1)})
    store.add_metrics({(T0, S3, "s3:PutObject"): (1, big, 0)}, {(T0, S3): (big, 1)})
    totals = store.get_metrics(T0, T0)
    assert totals.incoming_bytes == 2 * big and totals.storage_utilized == (0, 2 * big)


def test_concurrent_meters_lose_nothing(sql_url):
    """Several meters (as several processes would) flushing the same keys at once."""
    stores = [SQLBackend(sql_url) for _ in range(4)]
    stores[0].get_metrics(T0, T0)                        # tables exist before the race
    meters = [Meter(s, flush_interval=None, flush_requests=25, clock=lambda: T0 / 1000)
              for s in stores]

    def work(meter):
        for i in range(200):
            meter.count("s3:GetObject" if i % 2 else "s3:PutObject", 3, 5)
        meter.flush()

    threads = [threading.Thread(target=work, args=(m,)) for m in meters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    totals = stores[0].get_metrics(T0, T0)
    assert totals.operations == {"s3:GetObject": 400, "s3:PutObject": 400}
    assert (totals.incoming_bytes, totals.outgoing_bytes) == (2400, 4000)


def test_batches_are_one_row_per_key(sql_url):
    store = SQLBackend(sql_url)
    meter = Meter(store, flush_interval=None, clock=lambda: T0 / 1000)
    for _ in range(500):
        meter.count("s3:HeadObject")
    meter.flush()
    engine = create_engine(sql_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(counters)).scalar() == 1
    engine.dispose()


def test_unreachable_database_keeps_the_batch(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/missing-dir/x.db")
    store = SQLMetrics(engine)
    with pytest.raises(BackendUnavailable):
        store.add_metrics({(T0, S3, "s3:GetObject"): (1, 0, 0)}, {})
    meter = Meter(store, flush_interval=None, clock=lambda: T0 / 1000)
    meter.count("s3:GetObject")
    assert not meter.flush() and meter.pending == 1


def test_outage_on_an_engine_hides_the_password():
    engine = create_engine("postgresql+psycopg://s3:hunter2@127.0.0.1:1/s3")   # nothing listens
    try:
        with pytest.raises(BackendUnavailable) as info:
            SQLMetrics(engine).get_metrics(T0, T0)
    finally:
        engine.dispose()
    assert str(info.value).startswith("database postgresql+psycopg://s3:***@127.0.0.1:1/s3 unavailable: ")
    assert "hunter2" not in str(info.value)


def test_paste_metrics_option(tmp_path):
    url = f"sqlite:///{tmp_path}/paste.db"
    make = filter_factory({}, db=url, metrics="true", metrics_flush_interval="0.5")
    mw = make(lambda environ, start_response: [])
    assert isinstance(mw.metrics, SQLBackend) and mw.meter.flush_interval == 0.5
    assert filter_factory({}, db="memory")(lambda e, s: []).metrics is None
    custom = filter_factory({}, db="memory",
                            metrics="s3service.backends.memory.metrics:MemoryMetrics")(lambda e, s: [])
    assert type(custom.metrics).__name__ == "MemoryMetrics"
    assert mw.metrics_api.admins == frozenset()
    admins = filter_factory({}, db="memory", metrics="true",
                            metrics_admins="ops1, ops2")(lambda e, s: [])
    assert admins.metrics_api.admins == {"ops1", "ops2"}


def test_names_no_store_could_keep_are_not_metered_per_bucket(sql_url):
    """A NUL in a path, or a host naming a 300-character bucket, must not block the batch."""
    from s3service import S3ServiceMiddleware
    from s3service.backends.metrics_base import Entity

    store = SQLBackend(sql_url)

    def gateway(environ, start_response):
        start_response("404 Not Found", [("Content-Length", "0")])
        return []

    mw = S3ServiceMiddleware(gateway, credentials=store, buckets=store, metrics=store,
                             metrics_flush_interval=None, service_hosts=["s3.example.com"])
    for environ in ({"PATH_INFO": "/a\x00b/key"},
                    {"PATH_INFO": "/key", "HTTP_HOST": "b" * 300 + ".s3.example.com"},
                    {"PATH_INFO": "/" + "c" * 256 + "/key"},
                    {"PATH_INFO": "/fine/key"}):
        environ.update(REQUEST_METHOD="GET", QUERY_STRING="")
        list(mw(environ, lambda status, headers, exc_info=None: None))
    assert mw.meter.flush()
    now = int(time.time() * 1000)
    assert store.get_metrics(0, now).operations == {"s3:GetObject": 4}


def test_paste_metrics_retention_days():
    def made(**conf):
        return filter_factory({}, db="memory", metrics="true", **conf)(lambda e, s: [])

    assert made().meter.retention_days == 400
    assert made(metrics_retention_days="30").meter.retention_days == 30
    assert made(metrics_retention_days="0").meter.retention_days is None
