"""PostgreSQL connections that wait for the server's answer for a bounded time.

A server that is alive to the kernel but not answering (stopped with
SIGSTOP, swapping, stuck on a lock in a way ``statement_timeout`` cannot
see) gets its requests acknowledged by TCP, so neither the keepalives nor
``tcp_user_timeout`` ever fire, and a plain connection waits for ever.  A
:class:`BoundedConnection` gives up after ``wait_timeout`` seconds: it
closes itself (its state is unknown; the answer may still come) and raises
:class:`DatabaseTimeout`, which the SQL store turns into ``503
ServiceUnavailable`` without retrying.

For psycopg 3 (``postgresql+psycopg://`` URLs); :func:`install` makes an
SQLAlchemy engine open its connections as this class.
"""
from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors
from sqlalchemy import Engine, event

__all__ = ["BoundedConnection", "DatabaseTimeout", "install"]

_POLL_INTERVAL = 0.1   # seconds between checks for Ctrl-C while waiting (psycopg's default)


class DatabaseTimeout(psycopg.OperationalError):
    """The server did not answer within the connection's ``wait_timeout``; it is closed now."""

    #: A retry would wait as long again: the store answers 503 at once instead.
    retry = False


class BoundedConnection(psycopg.Connection):
    """A psycopg connection that waits at most ``wait_timeout`` seconds for each answer."""

    wait_timeout: float | None = None

    def wait(self, gen: Any, interval: float = _POLL_INTERVAL, timeout: float | None = None) -> Any:
        bound = self.wait_timeout if timeout is None else timeout
        try:
            return super().wait(gen, interval=interval, timeout=bound)
        except errors._WaitTimeout:
            self.pgconn.finish()
            raise DatabaseTimeout(f"no answer from the database within {bound:g} s") from None


def install(engine: Engine, wait_timeout: float) -> None:
    """Make ``engine`` open :class:`BoundedConnection`\\ s waiting at most ``wait_timeout`` s."""

    @event.listens_for(engine, "do_connect")
    def connect(dialect: Any, record: Any, cargs: Any, cparams: Any) -> BoundedConnection:
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.wait_timeout = wait_timeout
        return connection
