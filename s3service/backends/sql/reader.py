"""The SQL store's reads on the request path, straight through the database driver.

A listing is one or two small indexed queries; through SQLAlchemy each costs
more in building, caching and transaction bookkeeping than in the database.
A :class:`Reader` sends the statement text itself, in autocommit mode (each
statement sees every change committed before it; no BEGIN/COMMIT round
trips), on a connection borrowed from the store's engine -- the very pool
its transactions use, so a process never holds more connections than that
pool's ``pool_size``, whatever its thread count -- and given back as soon as
the rows are fetched.

The pool pings a connection before lending it (``pool_pre_ping``); a Reader
borrows without that ping, a round trip of its own for every statement:
instead, a connection that fails is dropped and the statement tried once on
another (a database restart breaks every pooled connection, and the first
failure makes the pool replace all of them).  If that fails too, if the
database did not answer in time, or if no connection came free within the
pool's timeout, the store is unavailable.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..base import BackendUnavailable

_unpinged = threading.local()     # .on: this thread's checkout skips the pool's ping


def install(engine: Engine) -> None:
    """Let :class:`Reader`\\ s borrow ``engine``'s connections without the pre-ping."""
    dialect = engine.dialect
    ping = dialect.do_ping

    def do_ping(dbapi_connection: Any) -> bool:
        return True if getattr(_unpinged, "on", False) else ping(dbapi_connection)

    dialect.do_ping = do_ping  # type: ignore[method-assign]


class Reader:
    """Runs read-only statements on ``engine``'s pooled connections; thread-safe.

    ``outage(exc)`` makes the :class:`BackendUnavailable` raised when the
    database cannot be reached (it words the message; no password in it).
    Call :func:`install` on the engine first, or each borrowing pings.
    """

    def __init__(self, engine: Engine, outage: Callable[[Exception], BackendUnavailable]) -> None:
        self._engine = engine
        self._outage = outage
        dbapi = engine.dialect.loaded_dbapi
        self._lost = (dbapi.OperationalError, dbapi.InterfaceError)
        # (SQLite's connections are in autocommit mode already: see the store)
        self._autocommit = engine.dialect.name != "sqlite"
        self._qmark = engine.dialect.paramstyle == "qmark"

    def statement(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, in the driver's own style."""
        return sql if self._qmark else sql.replace("?", "%s")

    def rows(self, statement: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """All rows of a :meth:`statement`; raises BackendUnavailable when the database is down."""
        for attempt in (1, 2):
            # (a second try borrows with the ping: it replaces the pool's broken connections)
            connection = self._borrow(ping=attempt == 2)
            dbapi_connection = connection.dbapi_connection
            try:
                if self._autocommit:
                    dbapi_connection.autocommit = True
                cursor = dbapi_connection.cursor()
                try:
                    cursor.execute(statement, params)
                    return cursor.fetchall()
                finally:
                    cursor.close()
            except self._lost as exc:
                connection.invalidate(exc)
                # (a timed-out wait would only be waited for again: see pgwait)
                if attempt == 2 or not getattr(exc, "retry", True):
                    raise self._outage(exc) from exc
            finally:
                if self._autocommit and connection.is_valid:
                    dbapi_connection.autocommit = False     # as the pool lends it
                connection.close()                          # back to the pool
        raise AssertionError("unreachable")

    def value(self, statement: str, params: Sequence[object]) -> Any:
        """The first column of the first row, or ``None`` when there is no row."""
        found = self.rows(statement, params)
        return found[0][0] if found else None

    def _borrow(self, ping: bool) -> Any:
        """A connection of the pool (its proxy); BackendUnavailable if none comes in time."""
        _unpinged.on = not ping
        try:
            return self._engine.raw_connection()
        except (*self._lost, OperationalError, InterfaceError, PoolTimeout) as exc:
            raise self._outage(exc) from exc  # (the pool raises the driver's own errors)
        finally:
            _unpinged.on = False
