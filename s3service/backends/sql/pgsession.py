"""PostgreSQL sessions that work straight to the server and through a transaction-pooling PgBouncer.

Between a client and PostgreSQL, PgBouncer in ``pool_mode = transaction``
hands each transaction whichever server connection is free.  Two things a
driver does by default then break:

* **the startup ``options``**, which the store uses to set the server-side
  ``statement_timeout`` of each connection: PgBouncer refuses the
  connection (``unsupported startup parameter: options``) unless told to
  ignore them (``ignore_startup_parameters``), and then the timeout is
  silently gone.  :func:`install` connects again without them when refused,
  and checks once per process, on its first connection, that the server's
  ``statement_timeout`` is what the store asked for; when it is not (unset,
  or longer), it logs a warning saying how to set it where PgBouncer keeps
  it: for the role or the database (``ALTER ROLE ... SET statement_timeout``),
  which every server connection starts with.
* **prepared statements**: psycopg 3 prepares a statement on the server
  after its fifth execution, and the next transaction may run on a server
  connection that never saw it (PgBouncer 1.18, Debian 12's, cannot track
  them).  Straight to PostgreSQL they halve what a listing's one statement
  costs (63 against 120 us, ``benchmarks/scale.py``'s machine), so they are
  given up only behind a pooler: when the startup options were refused, or
  when the server process that answers is not the one the connection was
  told it talks to (a pooler gives its clients a key of its own), the
  connections of the process never prepare (``prepare_threshold=None``).
  An explicit ``prepare_threshold`` in ``connect_args`` is left as it is.

For psycopg 3 (``postgresql+psycopg://`` URLs).
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any

import psycopg
from sqlalchemy import Engine, event

from .pgwait import BoundedConnection

__all__ = ["install", "milliseconds"]

log = logging.getLogger("s3service.backends.sql")

_REFUSED_OPTIONS = "unsupported startup parameter: options"
_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


def milliseconds(setting: str) -> float:
    """A duration as PostgreSQL's ``SHOW`` prints it (``0``, ``250ms``, ``30s``, ``1min``), in ms."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([a-z]*)\s*", setting)
    if match is None or match.group(2) not in ("", *_UNITS_MS):
        raise ValueError(f"not a duration: {setting!r}")
    return float(match.group(1)) * _UNITS_MS.get(match.group(2) or "ms", 1)


class _Session:
    """One engine's connection settings, and what its process has learnt about the server."""

    def __init__(self, wait_timeout: float | None, statement_timeout_ms: int | None) -> None:
        self.wait_timeout = wait_timeout
        self.statement_timeout_ms = statement_timeout_ms
        self.refuses_options = False        # a pooler in between said no to them
        self.pooled = False                 # a pooler is in between
        self.checked = False
        self.lock = threading.Lock()

    def connect(self, cargs: Any, cparams: dict[str, Any]) -> psycopg.Connection:
        chosen = "prepare_threshold" in cparams
        if self.pooled and not chosen:
            cparams["prepare_threshold"] = None
        if self.refuses_options:
            cparams.pop("options", None)
        try:
            connection = self._open(cargs, cparams)
        except psycopg.OperationalError as exc:
            if "options" not in cparams or _REFUSED_OPTIONS not in str(exc):
                raise
            self.refuses_options = True
            cparams.pop("options")
            connection = self._open(cargs, cparams)
        if not self.checked:
            with self.lock:
                if not self.checked:
                    try:
                        self._check(connection)
                    except BaseException:
                        connection.close()
                        raise
                    self.checked = True
        if self.pooled and not chosen:
            connection.prepare_threshold = None
        return connection

    def _open(self, cargs: Any, cparams: dict[str, Any]) -> psycopg.Connection:
        if self.wait_timeout is None:
            return psycopg.Connection.connect(*cargs, **cparams)
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.wait_timeout = self.wait_timeout
        return connection

    def _check(self, connection: psycopg.Connection) -> None:
        """Find a pooler in between; warn when the server's statement_timeout is not as wanted."""
        connection.autocommit = True        # (no transaction left open behind the query)
        try:
            setting, pid = connection.execute(
                "SELECT current_setting('statement_timeout'), pg_backend_pid()").fetchone()
        finally:
            connection.autocommit = False
        self.pooled = self.refuses_options or pid != connection.info.backend_pid
        wanted = self.statement_timeout_ms
        if wanted is None:
            return
        actual = milliseconds(setting)
        if actual == 0 or actual > wanted:
            how = ("it refused the startup option that sets it (a connection pooler such as "
                   "PgBouncer in between?)" if self.refuses_options else
                   "the startup option that sets it was not applied (a connection pooler "
                   "ignoring startup parameters?)")
            log.warning("the database's statement_timeout is %s, not %g s: %s; set it for the "
                        "database's role instead, e.g. ALTER ROLE <role> SET statement_timeout "
                        "= '%gs' (see docs/scaling.rst)", setting or "0", wanted / 1000, how,
                        wanted / 1000)


def install(engine: Engine, *, wait_timeout: float | None,
            statement_timeout_ms: int | None) -> None:
    """Make ``engine`` open its psycopg connections as described above.

    ``wait_timeout``: seconds each answer of the server is waited for (see
    :mod:`.pgwait`; ``None``: no bound); ``statement_timeout_ms``: the
    server-side ``statement_timeout`` the connections were asked to set
    through their startup ``options`` (``None``: none asked; nothing checked).
    """
    session = _Session(wait_timeout, statement_timeout_ms)

    @event.listens_for(engine, "do_connect")
    def connect(dialect: Any, record: Any, cargs: Any, cparams: Any) -> psycopg.Connection:
        return session.connect(cargs, cparams)
