"""The SQL store's reads on the request path, straight through the database driver.

A listing is one or two small indexed queries; through SQLAlchemy each costs
more in building, caching and transaction bookkeeping than in the database.
A :class:`Reader` sends the statement text itself, on a connection of its
thread's own, in autocommit mode (each statement sees every change committed
before it; no BEGIN/COMMIT round trips).  The connections come from the
store's engine, with its connect arguments (timeouts, keepalives,
``statement_timeout``), but are kept by their thread rather than pooled.

A connection that fails is dropped and the statement tried once on a new one
(a database restart closes every kept connection); if that fails too, or if
the database did not answer in time, the store is unavailable.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import StaticPool

from ..base import BackendUnavailable

# Connections a forked child inherited: kept referenced, never closed, so that
# closing them does not end the parent's sessions (as engine.dispose(close=False)).
_inherited: list[Any] = []


class Reader:
    """Runs read-only statements for one process; thread-safe (a connection per thread).

    ``outage(exc)`` makes the :class:`BackendUnavailable` raised when the
    database cannot be reached (it words the message; no password in it).
    """

    def __init__(self, engine: Engine, outage: Callable[[Exception], BackendUnavailable]) -> None:
        self._engine = engine
        self._outage = outage
        dbapi = engine.dialect.loaded_dbapi
        self._lost = (dbapi.OperationalError, dbapi.InterfaceError)
        self._shared = isinstance(engine.pool, StaticPool)  # one connection for all (":memory:")
        self._qmark = engine.dialect.paramstyle == "qmark"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[Any] = []

    def statement(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, in the driver's own style."""
        return sql if self._qmark else sql.replace("?", "%s")

    def rows(self, statement: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """All rows of a :meth:`statement`; raises BackendUnavailable when the database is down."""
        for attempt in (1, 2):
            connection, cursor = self._connection()
            try:
                cursor.execute(statement, params)
                return cursor.fetchall()
            except self._lost as exc:
                self._drop(connection)
                # (a timed-out wait would only be waited for again: see pgwait)
                if attempt == 2 or not getattr(exc, "retry", True):
                    raise self._outage(exc) from exc
        raise AssertionError("unreachable")

    def value(self, statement: str, params: Sequence[object]) -> Any:
        """The first column of the first row, or ``None`` when there is no row."""
        found = self.rows(statement, params)
        return found[0][0] if found else None

    def _connection(self) -> tuple[Any, Any]:
        """This thread's connection (the pool's proxy of it) and its one cursor."""
        kept = getattr(self._local, "kept", None)
        if kept is None:
            try:
                connection = self._engine.raw_connection()
            except (*self._lost, OperationalError, InterfaceError, PoolTimeout) as exc:
                raise self._outage(exc) from exc  # (the pool raises the driver's own errors)
            if not self._shared:
                connection.detach()
                if hasattr(connection.dbapi_connection, "autocommit"):
                    connection.dbapi_connection.autocommit = True
            kept = self._local.kept = (connection, connection.dbapi_connection.cursor())
            with self._lock:
                self._open.append(connection)
        return kept

    def _drop(self, connection: Any) -> None:
        self._local.kept = None
        with self._lock:
            if connection in self._open:
                self._open.remove(connection)
        if not self._shared:
            _close(connection)

    def close(self) -> None:
        """Close every connection this reader opened (call when no request is running)."""
        with self._lock:
            opened, self._open = self._open, []
        for connection in opened:
            if not self._shared:
                _close(connection)
        self._local = threading.local()

    def abandon(self) -> None:
        """Forget the connections without closing them: in a forked child, they are the parent's."""
        with self._lock:
            _inherited.extend(self._open)
            self._open = []
        self._local = threading.local()


def _close(connection: Any) -> None:
    # The driver's connection itself: the pool's close() would first roll back,
    # and log a traceback when the database is gone.
    try:
        connection.dbapi_connection.close()
    except Exception:  # already broken: nothing more to release
        pass
