"""Metrics in an SQL database (SQLite or PostgreSQL), shared by every process of a fleet.

Two tables, part of the store's versioned schema (see
:mod:`s3service.backends.sql.schema`) and also created on first use if missing,
for an ``SQLMetrics`` on an engine of its own.  An entity
(:class:`~.metrics_base.Entity`) is its three columns ``level``, ``account_id``
and ``name``:

``s3service_utilization``
    one row per ``(entity, interval_start, operation)`` (interval starts in
    epoch ms) with ``requests``, ``incoming_bytes`` and ``outgoing_bytes``;
``s3service_utilization_storage``
    one row per ``(entity, interval_start)`` with the ``bytes_delta`` and
    ``objects_delta`` recorded in it.

The primary keys lead with the entity, so one entity's range is one index scan;
an index on the counters' ``interval_start`` lets retention remove old
intervals in one ``DELETE`` (:meth:`SQLMetrics.remove_metrics_before`).

A flush adds a whole batch in one transaction with one
``INSERT ... ON CONFLICT (...) DO UPDATE SET n = n + excluded.n`` statement per
table (SQLite >= 3.24 and PostgreSQL), so any number of processes add to the
same rows without reading them first, and nothing is ever counted twice or lost
to a race.  Rows are written in key order so concurrent flushes cannot deadlock.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import (BigInteger, Column, Connection, Engine, Index, MetaData, String, Table,
                        case, delete, func, select)
from sqlalchemy.exc import DBAPIError

from ..metrics_base import S3, UNCLASSIFIED, Entity, MetricsTotals, interval_start
from .guard import DDL_ATTEMPTS, DDL_PAUSE, OutageGuard, retry

metadata = MetaData()

_ENTITY = ("level", "account_id", "name")


def _entity_columns() -> list[Column]:
    return [Column("level", String(8), primary_key=True),
            Column("account_id", String(128), primary_key=True),
            Column("name", String(255), primary_key=True)]


counters = Table(
    "s3service_utilization", metadata,
    *_entity_columns(),
    Column("interval_start", BigInteger, primary_key=True, autoincrement=False),
    Column("operation", String(64), primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("incoming_bytes", BigInteger, nullable=False),
    Column("outgoing_bytes", BigInteger, nullable=False),
    # (retention removes old intervals without reading every row)
    Index("ix_s3service_utilization_interval", "interval_start"),
)

storage_deltas = Table(
    "s3service_utilization_storage", metadata,
    *_entity_columns(),
    Column("interval_start", BigInteger, primary_key=True, autoincrement=False),
    Column("bytes_delta", BigInteger, nullable=False),
    Column("objects_delta", BigInteger, nullable=False),
)


def _upsert(conn: Connection, table: Table, keys: Sequence[str], rows: list[dict[str, Any]]
            ) -> None:
    """Add ``rows`` to ``table``: insert new keys, add the counters of existing ones."""
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"metrics are not supported on {name}")
    stmt = insert(table)
    values = [c.name for c in table.columns if c.name not in keys]
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={v: table.c[v] + stmt.excluded[v] for v in values})
    conn.execute(stmt, rows)


class SQLMetrics:
    """A :class:`~s3service.metrics.MetricsStore` on SQLAlchemy.

    :param connect: an :class:`~sqlalchemy.Engine` (an outage then raises
        :class:`~s3service.backends.base.BackendUnavailable`, see
        :class:`~.guard.OutageGuard`), or a callable returning a context
        manager that yields a :class:`~sqlalchemy.Connection` inside a
        transaction (committed on exit) and raises ``BackendUnavailable`` when
        the database cannot be reached.

    Also a part of :class:`~s3service.backends.sql.SQLBackend` (a mixin: the
    store calls :meth:`_init_metrics` with its own transactions).
    """

    def __init__(self, connect: Engine | Callable[[], AbstractContextManager[Connection]]) -> None:
        if isinstance(connect, Engine):
            engine, guard = connect, OutageGuard(connect.url)
            self._init_metrics(lambda: _guarded_begin(engine, guard))
        else:
            self._init_metrics(connect)

    def _init_metrics(self, begin: Callable[[], AbstractContextManager[Connection]]) -> None:
        self._metrics_begin = begin
        self._metrics_ready = False
        self._metrics_ready_lock = threading.Lock()

    def _ensure_metrics_tables(self) -> None:
        """Create the tables if missing, once per instance.

        Another process creating them at the same moment makes a statement
        fail: look again.
        """
        if self._metrics_ready:
            return
        with self._metrics_ready_lock:
            if self._metrics_ready:
                return

            def create() -> None:
                with self._metrics_begin() as conn:
                    metadata.create_all(conn, checkfirst=True)

            retry(create, on=DBAPIError, attempts=DDL_ATTEMPTS, pause=DDL_PAUSE)
            self._metrics_ready = True

    def add_metrics(self, operations: Mapping[tuple[int, Entity, str], Sequence[int]],
                    storage: Mapping[tuple[int, Entity], Sequence[int]]) -> None:
        """Add the batch in one transaction (:class:`~s3service.metrics.MetricsStore`)."""
        if not operations and not storage:
            return
        self._ensure_metrics_tables()
        # Sorted in primary-key order, so that concurrent flushes lock rows alike.
        op_rows = [{"level": e.level, "account_id": e.account, "name": e.name,
                    "interval_start": t, "operation": op, "requests": v[0],
                    "incoming_bytes": v[1], "outgoing_bytes": v[2]}
                   for (e, t, op), v in sorted(((e, t, op), v)
                                               for (t, e, op), v in operations.items())]
        storage_rows = [{"level": e.level, "account_id": e.account, "name": e.name,
                         "interval_start": t, "bytes_delta": v[0], "objects_delta": v[1]}
                        for (e, t), v in sorted(((e, t), v) for (t, e), v in storage.items())]
        with self._metrics_begin() as conn:
            if op_rows:
                _upsert(conn, counters, (*_ENTITY, "interval_start", "operation"), op_rows)
            if storage_rows:
                _upsert(conn, storage_deltas, (*_ENTITY, "interval_start"), storage_rows)

    def remove_metrics_before(self, interval: int) -> None:
        """Remove the request counters of the intervals starting before ``interval``
        (one statement, on the index of ``interval_start``)."""
        self._ensure_metrics_tables()
        with self._metrics_begin() as conn:
            conn.execute(delete(counters).where(counters.c.interval_start < interval))

    def get_metrics(self, start: int, end: int, entity: Entity = S3) -> MetricsTotals:
        """``entity``'s totals of the intervals starting in ``[start, end]`` (epoch ms, inclusive)."""
        self._ensure_metrics_tables()
        c, s = counters.c, storage_deltas.c
        first = interval_start(start)
        ops_query = (select(c.operation, func.sum(c.requests), func.sum(c.incoming_bytes),
                            func.sum(c.outgoing_bytes))
                     .where(c.level == entity.level, c.account_id == entity.account,
                            c.name == entity.name,
                            c.interval_start >= start, c.interval_start <= end)
                     .group_by(c.operation))
        before = s.interval_start < first
        levels_query = (select(func.sum(case((before, s.bytes_delta), else_=0)),
                               func.sum(case((before, s.objects_delta), else_=0)),
                               func.sum(s.bytes_delta), func.sum(s.objects_delta))
                        .where(s.level == entity.level, s.account_id == entity.account,
                               s.name == entity.name, s.interval_start <= end))
        operations: dict[str, int] = {}
        incoming = outgoing = 0
        with self._metrics_begin() as conn:
            for op, requests, inc, out in conn.execute(ops_query):
                if op != UNCLASSIFIED:
                    operations[op] = int(requests or 0)
                incoming += int(inc or 0)
                outgoing += int(out or 0)
            levels = conn.execute(levels_query).one()
        b0, o0, b1, o1 = (int(x or 0) for x in levels)
        return MetricsTotals(operations=operations, incoming_bytes=incoming,
                             outgoing_bytes=outgoing, storage_utilized=(b0, b1),
                             number_of_objects=(o0, o1))


@contextmanager
def _guarded_begin(engine: Engine, guard: OutageGuard) -> Iterator[Connection]:
    """A transaction on ``engine``; an outage raises BackendUnavailable."""
    with guard, engine.begin() as conn:
        yield conn
