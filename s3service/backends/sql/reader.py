"""The SQL store's reads on the request path, straight through the database driver.

A listing is one or two small indexed queries; through SQLAlchemy each costs
more in building, caching and transaction bookkeeping than in the database.
A :class:`Reader` sends the statement text itself, in autocommit mode (each
statement sees every change committed before it; no BEGIN/COMMIT round
trips).

Its connections come from the store's engine -- the very pool its
transactions use, so a process never holds more than that pool's
``pool_size``, whatever its thread count -- but a Reader keeps the ones it
took, in autocommit mode with a cursor each, and lends them to its threads
one statement at a time: borrowing from the engine's pool each time (its
ping, its reset, switching autocommit on and off) would cost more than the
statement.  It keeps at most ``pool_size - 1`` of them, so that a
transaction always finds one; with a pool of one, it borrows each time.  A
thread that finds them all busy waits for one at most the pool's timeout.

A connection that fails is dropped and the statement tried once on a new
one, which the pool pings first (a database restart breaks every pooled
connection, and the first failure makes the pool replace them all); if that
fails too, if the database did not answer in time, or if no connection came
free in time, the store is unavailable.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import StaticPool

from ..base import BackendUnavailable
from .observing import READ, DatabaseObserver, Timed

# Connections a forked child inherited: kept referenced, never closed, so that
# closing them does not end the parent's sessions (as engine.dispose(close=False)).
_inherited: list[Any] = []


class Reader:
    """Runs read-only statements for one process; thread-safe.

    ``outage(exc)`` makes the :class:`BackendUnavailable` raised when the
    database cannot be reached (it words the message; no password in it).
    ``keep``: the most connections it keeps (0: borrow from the pool each
    time); ``wait``: the most seconds a thread waits for one (``None``: no bound).
    """

    def __init__(self, engine: Engine, outage: Callable[[Exception], BackendUnavailable], *,
                 keep: int, wait: float | None) -> None:
        self._engine = engine
        self._outage = outage
        dbapi = engine.dialect.loaded_dbapi
        self._lost = (dbapi.OperationalError, dbapi.InterfaceError)
        self._shared = isinstance(engine.pool, StaticPool)  # one connection for all (":memory:")
        self._qmark = engine.dialect.paramstyle == "qmark"
        # (SQLite's connections are in autocommit mode already: see the store)
        self._autocommit = engine.dialect.name != "sqlite"
        self._keep, self._wait = keep, wait
        self._kept: list[tuple[Any, Any]] = []      # (pool's proxy, cursor), idle, latest last
        self._held = 0                              # kept, idle or lent
        self._free = threading.Condition()
        self._observer: DatabaseObserver | None = None
        self._took: Callable[[float], object] | None = None

    def observe(self, observer: DatabaseObserver | None) -> None:
        """Tell ``observer`` of each :meth:`rows` (see :mod:`.observing`); ``None``: no one."""
        self._observer = observer
        self._took = None if observer is None else observer.call_timer(READ)

    def statement(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, in the driver's own style."""
        return sql if self._qmark else sql.replace("?", "%s")

    def rows(self, statement: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """All rows of a :meth:`statement`; raises BackendUnavailable when the database is down."""
        if self._observer is None or self._took is None:
            return self._rows(statement, params)
        with Timed(self._observer, READ, self._took):
            return self._rows(statement, params)

    def _rows(self, statement: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        for attempt in (1, 2):
            connection, cursor, kept = self._borrow()
            try:
                cursor.execute(statement, params)
                found = cursor.fetchall()
            except self._lost as exc:
                self._drop(connection, kept, exc)
                # (a timed-out wait would only be waited for again: see pgwait)
                if attempt == 2 or not getattr(exc, "retry", True):
                    raise self._outage(exc) from exc
                continue
            except BaseException:
                self._give_back(connection, cursor, kept)
                raise
            self._give_back(connection, cursor, kept)
            return found
        raise AssertionError("unreachable")

    def value(self, statement: str, params: Sequence[object]) -> Any:
        """The first column of the first row, or ``None`` when there is no row."""
        found = self.rows(statement, params)
        return found[0][0] if found else None

    def _borrow(self) -> tuple[Any, Any, bool]:
        """A connection, its cursor, and whether it is one this reader keeps."""
        deadline = None
        with self._free:
            while True:
                if self._kept:
                    connection, cursor = self._kept.pop()
                    return connection, cursor, True
                if self._held < self._keep:
                    self._held += 1
                    kept = True
                    break
                if self._keep == 0:
                    kept = False
                    break
                if self._wait is not None:
                    deadline = deadline or time.monotonic() + self._wait
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise self._outage(PoolTimeout(
                            f"no database connection came free within {self._wait:g} s"))
                self._free.wait(None if self._wait is None else remaining)
        try:
            connection = self._engine.raw_connection()
        except (*self._lost, OperationalError, InterfaceError, PoolTimeout) as exc:
            if kept:
                self._release()
            raise self._outage(exc) from exc  # (the pool raises the driver's own errors)
        if self._autocommit and not self._shared:
            connection.dbapi_connection.autocommit = True
        return connection, connection.dbapi_connection.cursor(), kept

    def _give_back(self, connection: Any, cursor: Any, kept: bool) -> None:
        if kept:
            with self._free:
                self._kept.append((connection, cursor))
                self._free.notify()
        else:
            self._return(connection, cursor)

    def _return(self, connection: Any, cursor: Any) -> None:
        """Give a connection back to the engine's pool, as the pool lent it."""
        try:
            cursor.close()
            if self._autocommit and not self._shared:
                connection.dbapi_connection.autocommit = False
        except self._lost:
            connection.invalidate()
        connection.close()

    def _drop(self, connection: Any, kept: bool, exc: BaseException) -> None:
        """Drop a failed connection, and the idle ones too: a restart broke them all."""
        with self._free:
            idle, self._kept = self._kept, []
            self._held -= len(idle) + kept
            self._free.notify_all()
        for broken in [connection, *(kept_connection for kept_connection, _ in idle)]:
            if not self._shared:
                broken.invalidate(exc)
            broken.close()

    def _release(self) -> None:
        with self._free:
            self._held -= 1
            self._free.notify()

    def in_use(self) -> int:
        """How many of its connections are lent to a statement right now."""
        with self._free:
            return self._held - len(self._kept)

    def idle(self) -> list[Any]:
        """The driver connections it keeps idle (for tests to inspect)."""
        with self._free:
            return [connection.dbapi_connection for connection, _ in self._kept]

    def close(self) -> None:
        """Give every kept connection back to the pool (call when no request is running)."""
        with self._free:
            kept, self._kept = self._kept, []
            self._held -= len(kept)
        for connection, cursor in kept:
            self._return(connection, cursor)

    def abandon(self) -> None:
        """Forget the kept connections without closing them: in a forked child, they are the parent's."""
        with self._free:
            _inherited.extend(self._kept)
            self._kept, self._held = [], 0
