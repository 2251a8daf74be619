"""A store kept in SQLite (embedded default) or PostgreSQL, through SQLAlchemy Core.

Example::

    store = SQLBackend("sqlite:///s3service.db")        # or postgresql+psycopg://user@host/db
    store.add_account("79a59df9...", display_name="Test")
    store.add_key("79a59df9...", "AKIDEXAMPLE", "secret")
    app = S3ServiceMiddleware(gateway_app, credentials=store, buckets=store)

The tables live in :mod:`.schema` and are created on first use.
"""
from __future__ import annotations

import logging
import math
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import (Connection, Engine, and_, create_engine, delete, event, exists, insert,
                        literal, select, update)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.pool import QueuePool, StaticPool

from ...forking import in_each_child
from ...parameters import check_number, check_optional_number
from ...regions import DEFAULT_REGION
from ..protocols import checked_timeout
from . import schema
from ..base import (BackendUnavailable, BucketInfo, BucketNameTaken, Credential, UnknownAccount,
                   UnknownBucket)
from ..records import UserRecord
from .listingcache import ListingCache
from .schema import (access_keys, accounts, attachments, buckets, group_members, groups,
                     inline_policies, policies, policy_documents, policy_versions, revocations,
                     users)
from .revocation import Generation, bump
from ..sortedbuckets import listing
from .cors import SQLCORS
from .metrics import SQLMetrics
from .policies import SQLPolicies
from .guard import DDL_ATTEMPTS, DDL_PAUSE, OutageGuard, retry
from .observing import TRANSACTION, DatabaseObserver, Timed
from .reader import Reader
from ..secretbox import SecretBox, open_secret, stored_secret

__all__ = ["SQLBackend"]

log = logging.getLogger("s3service")

T = TypeVar("T")

CACHE_ENTRIES = 10_000           # bound of the per-process credential cache
USAGE_WRITE_SECONDS = 60.0       # a process writes a key's last use at most this often
NEGATIVE_CACHE_SECONDS = 1.0     # upper bound for remembering "no such key"
PG_CONNECT_TIMEOUT = 5           # seconds; psycopg's connect_timeout
PG_STATEMENT_TIMEOUT = 30.0      # seconds; server-side statement_timeout (None: the server's)
BACKEND_TIMEOUT = 5.0            # seconds a request waits for PostgreSQL's answer (client side)
POOL_TIMEOUT = 10                # seconds to wait for a pooled connection (SQLAlchemy: 30)
POOL_SIZE = 4                    # connections a process holds at most (database servers)
PG_TCP_OPTIONS = {               # notice a silently vanished server (no RST) on pooled connections
    "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # ms of unacknowledged sends before giving up
}
SQLITE_BUSY_MS = 5000            # how long SQLite waits for another writer
SQLITE_FILE_MODE = 0o600         # a new SQLite database file (its -wal and -shm follow it)
_RETRIES = 3                     # tries of a write that lost a race (a duplicate key)
_MAX_CODE_POINT = 0x10FFFF

_fork_lock = threading.Lock()


def _new_fork_lock() -> None:
    global _fork_lock
    _fork_lock = threading.Lock()


in_each_child(_new_fork_lock)


@dataclass
class _ProcessState:
    """Everything that must not cross a fork: the connections and the caches."""

    pid: int
    engine: Engine
    reader: Reader
    listings: ListingCache = field(default_factory=ListingCache)
    cache: OrderedDict = field(default_factory=OrderedDict)   # access key -> (deadline, Credential|None)
    cache_lock: threading.Lock = field(default_factory=threading.Lock)
    schema_lock: threading.Lock = field(default_factory=threading.Lock)
    schema_ready: bool = False
    generation: Generation | None = None
    used: dict = field(default_factory=dict)   # access key -> when this process last wrote its use


def _sqlite_on_connect(dbapi_conn: Any, record: Any) -> None:
    # Take transaction control away from the sqlite3 module (it would not
    # BEGIN before DDL or SELECT); SQLAlchemy's "begin" event emits BEGIN.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        # Switching a new file to WAL needs its exclusive lock.  Connections
        # racing to do it each hold a read lock the others wait on, so SQLite
        # fails all but one at once with "database is locked" (the busy
        # timeout does not apply to a wait that could deadlock): try again.
        retry(partial(cur.execute, "PRAGMA journal_mode = WAL"), on=sqlite3.OperationalError,
              attempts=DDL_ATTEMPTS, pause=DDL_PAUSE, diagnose=_locked)
        cur.execute("PRAGMA foreign_keys = ON")
        files = [row[2] for row in cur.execute("PRAGMA database_list") if row[1] == "main"]
    finally:
        cur.close()
    if files and files[0]:
        _no_looser_than(files[0], ("-wal", "-shm"))


def _locked(exc: sqlite3.OperationalError) -> bool:
    return "database is locked" in str(exc)


def _create_private(path: str) -> None:
    """Create the (empty) SQLite database file ``path`` readable by its owner only.

    SQLite would create it with the process umask (0644, typically), and its
    ``-wal`` and ``-shm`` files with the database's mode; it keeps secret keys.
    An existing file is left as it is.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                     SQLITE_FILE_MODE)
    except FileExistsError:
        return
    except OSError:         # no such directory, no permission...: SQLite will say so
        return
    os.close(fd)


def _no_looser_than(database: str, suffixes: Sequence[str]) -> None:
    """Take from ``database + suffix`` files any permission the database itself lacks."""
    try:
        allowed = os.stat(database).st_mode & 0o777
    except OSError:
        return
    for suffix in suffixes:
        try:
            mode = os.stat(database + suffix).st_mode & 0o777
            if mode & ~allowed:
                os.chmod(database + suffix, mode & allowed)
        except OSError:     # gone meanwhile, or another user's: nothing to tighten
            pass


#: An execution option: the SQLite transaction takes the write lock when it begins.
#: Writers that first read (the schema's upgrade, IAM changes, a bucket's CORS
#: rules) then wait their turn for up to ``SQLITE_BUSY_MS``; begun deferred, one
#: whose snapshot another writer changed meanwhile is failed at once with
#: "database is locked".
SQLITE_IMMEDIATE = "s3service_sqlite_immediate"


def _sqlite_on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(SQLITE_IMMEDIATE)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _prefix_end(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (None: no bound)."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop())
        if code < _MAX_CODE_POINT:
            code += 1
            if 0xD800 <= code <= 0xDFFF:      # surrogates cannot be stored; skip them
                code = 0xE000
            return "".join(chars) + chr(code)
    return None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


class SQLBackend(SQLPolicies, SQLMetrics, SQLCORS):
    """Accounts, IAM users, access keys and buckets in an SQL database.

    Every protocol of :mod:`s3service.backends.protocols`; its two parts are
    mixins, each saying what it needs of the store: a policy store
    (:class:`~.policies.SQLPolicies`: IAM policies, groups and attachments)
    and a metrics store (:class:`~.metrics.SQLMetrics`), and each bucket's CORS
    rules (:class:`~.cors.SQLCORS`), all in the same database.

    ``url`` is an SQLAlchemy URL: ``sqlite:///s3service.db`` (embedded; WAL
    journal, busy timeout of 5 s) or ``postgresql+psycopg://user@host:port/db``
    (pre-pinged pool, 5 s connect timeout and TCP keepalives unless the URL's
    query sets ``connect_timeout``, ``keepalives*`` or ``tcp_user_timeout``).  ``engine_kwargs`` go to
    :func:`sqlalchemy.create_engine` and override these defaults.

    A process holds at most ``pool_size`` connections to a database server
    (default :data:`POOL_SIZE`), whatever its thread count: its requests share
    them, each borrowing one only while its statements run, and wait for one
    at most ``backend_timeout`` seconds (else 503, as for a database that does
    not answer).  ``pool_size`` may be changed until a process first uses the
    store, as ``backend_timeout``; it does not apply to SQLite.

    Nothing waits on PostgreSQL for ever: besides the connect timeout and the
    keepalives, each connection sets the server-side ``statement_timeout`` to
    ``statement_timeout`` seconds (default 30; ``None`` keeps the server's
    setting; ignored when the URL's query or ``connect_args`` set ``options``;
    through a transaction-pooling PgBouncer, which refuses that, it must be
    set for the role or database instead, and a warning says so: see
    :mod:`.pgsession`, which also keeps psycopg from preparing statements),
    a request waits at most :data:`POOL_TIMEOUT` seconds for a pooled
    connection (``pool_timeout`` in ``engine_kwargs`` overrides it), and with
    psycopg 3 it waits at most ``backend_timeout`` seconds (default 5; ``None``:
    no bound; the same setting as the middleware's, see :mod:`s3service.timeouts`)
    for each answer of the server, even one whose kernel still
    acknowledges every packet (a stopped or stuck server; see :mod:`.pgwait`).
    A read that times out is answered ``503`` at once; a write may first spend
    as long again opening a fresh connection.  ``backend_timeout`` may be
    changed until a process first uses the store (``serve --backend-timeout``
    sets it before forking its workers).

    Safe to share between threads, and between gunicorn's pre-forked workers:
    each process builds its own engine (connection pool) on first use, and
    rebuilds it when it finds itself in a forked child.

    Credentials are cached in each process for ``credential_cache_seconds``
    (0 disables the cache); unknown keys are remembered for at most
    ``min(1 s, credential_cache_seconds / 5)``.  A revocation (a key disabled
    or deleted, a user disabled, renamed or deleted, an account deleted, any
    policy change) made through this instance takes effect at once in this
    process, and through another process (or instance) within a second: each
    bumps the revocation generation, which every process reads at most every
    :data:`~.revocation.POLL_SECONDS` and forgets its caches when it moved
    (see :mod:`.revocation`).  Other changes (an account renamed) may take
    the cache time.

    When the database cannot be reached, every method raises
    :class:`~..base.BackendUnavailable` (no password in the message); service
    resumes by itself once the database is back.

    With ``secrets``, a :class:`~..secretbox.SecretBox`, secret keys are
    written encrypted, and read back through it (once per credential cache
    miss); without it, they are written in plaintext and a key stored
    encrypted cannot be used (see :mod:`.sealing`).

    Users: an IAM user is a name under an account.  :meth:`add_key` with a
    ``user`` that does not exist yet creates the user implicitly.
    """

    def __init__(self, url: str, *, credential_cache_seconds: float = 5.0,
                 statement_timeout: float | None = PG_STATEMENT_TIMEOUT,
                 backend_timeout: float | None = BACKEND_TIMEOUT, pool_size: int = POOL_SIZE,
                 secrets: SecretBox | None = None, **engine_kwargs: Any) -> None:
        if not isinstance(url, (str, URL)):
            raise TypeError(f"url: expected a database URL string such as "
                            f"'sqlite:///s3service.db'; got {type(url).__name__}")
        credential_cache_seconds = check_number("credential_cache_seconds",
                                                credential_cache_seconds)
        statement_timeout = check_optional_number("statement_timeout", statement_timeout,
                                                  positive=True)
        try:
            self._url = make_url(url)
        except ArgumentError:
            raise ValueError("url: expected a database URL such as 'sqlite:///s3service.db' "
                             "or 'postgresql+psycopg://user@host/db'") from None
        self.secrets = secrets
        self._statement_timeout = statement_timeout
        self.backend_timeout = checked_timeout(backend_timeout)
        if isinstance(pool_size, bool) or not isinstance(pool_size, int):
            raise TypeError(f"pool_size: expected a whole number of connections; got {pool_size!r}")
        if pool_size < 1:
            raise ValueError(f"pool_size: expected at least 1 connection; got {pool_size!r}")
        self.pool_size = pool_size
        self._guard = OutageGuard(self._url)
        self._cache_ttl = max(0.0, float(credential_cache_seconds))
        self._negative_ttl = min(NEGATIVE_CACHE_SECONDS, self._cache_ttl / 5)
        self._engine_kwargs = engine_kwargs
        self._state: _ProcessState | None = None
        self._observer: DatabaseObserver | None = None
        self._transaction_took: Callable[[float], object] | None = None
        self._init_policies()
        self._init_metrics(self._transaction)

    def __repr__(self) -> str:
        return f"SQLBackend({self._guard.safe_url!r})"

    @property
    def database_kind(self) -> str:
        """The database's kind as its URL names it: ``sqlite``, ``postgresql``..."""
        return self._url.get_backend_name()

    # -- engine, schema, errors ------------------------------------------------

    def _process_state(self) -> _ProcessState:
        state = self._state
        pid = os.getpid()
        if state is not None and state.pid == pid:
            return state
        with _fork_lock:
            state = self._state
            if state is None or state.pid != pid:
                if state is not None:
                    # Inherited from the parent: forget its connections
                    # without closing them under the parent's feet.
                    state.engine.dispose(close=False)
                    state.reader.abandon()
                engine = self._create_engine()
                state = _ProcessState(pid=pid, engine=engine, reader=self._reader(engine))
                state.reader.observe(self._observer)
                self._state = state
            return state

    def _create_engine(self) -> Engine:
        kwargs: dict[str, Any] = {"hide_parameters": True}
        statement_timeout_ms: int | None = None      # (asked for in the startup options)
        extra = dict(self._engine_kwargs)
        connect_args = dict(extra.pop("connect_args", {}))
        backend = self._url.get_backend_name()
        if backend == "sqlite":
            connect_args.setdefault("check_same_thread", False)
            if self._url.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool    # one shared in-memory database
            elif not self._url.query.get("uri"):    # (a file: URI is SQLite's to open)
                _create_private(os.path.abspath(self._url.database))
        else:
            kwargs["pool_pre_ping"] = True
            if backend == "postgresql":
                connect_timeout = PG_CONNECT_TIMEOUT
                if self.backend_timeout is not None:    # (libpq counts whole seconds)
                    connect_timeout = min(connect_timeout, math.ceil(self.backend_timeout))
                defaults = {"connect_timeout": connect_timeout, **PG_TCP_OPTIONS}
                for option, value in defaults.items():
                    if option not in self._url.query:
                        connect_args.setdefault(option, value)
                if (self._statement_timeout and "options" not in self._url.query
                        and "options" not in connect_args):
                    statement_timeout_ms = max(1, int(float(self._statement_timeout) * 1000))
                    connect_args["options"] = f"-c statement_timeout={statement_timeout_ms}"
            if "poolclass" not in extra:        # a QueuePool: at most pool_size connections,
                kwargs.update(pool_size=self.pool_size, max_overflow=0, pool_use_lifo=True,
                              pool_timeout=POOL_TIMEOUT if self.backend_timeout is None
                              else self.backend_timeout)     # and a bounded wait for one
        kwargs.update(extra)
        kwargs["connect_args"] = connect_args
        engine = create_engine(self._url, **kwargs)
        if backend == "postgresql" and engine.driver == "psycopg" and "creator" not in extra:
            from . import pgsession
            pgsession.install(engine, statement_timeout_ms=statement_timeout_ms,
                              wait_timeout=None if self.backend_timeout is None
                              else float(self.backend_timeout))
        if backend == "sqlite":
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
        return engine

    def _reader(self, engine: Engine) -> Reader:
        """The request path's reader on ``engine``, keeping what the pool can spare."""
        pool = engine.pool
        if not isinstance(pool, QueuePool):             # (SQLite's one in-memory connection)
            return Reader(engine, self._guard.unavailable, keep=1 << 16, wait=None)
        # One connection always left to the transactions (a pool of one is lent each
        # time); SQLite's pool has as many again as overflow.
        keep = pool.size() if self.database_kind == "sqlite" else pool.size() - 1
        return Reader(engine, self._guard.unavailable, keep=keep, wait=pool.timeout())

    def observe_database(self, observer: DatabaseObserver | None) -> None:
        """Tell ``observer`` how long each of this process's calls to the database takes, and
        which find it unreachable (see :mod:`.observing`); ``None``: tell no one.

        Call it in each process that is to be observed (a forked worker: in the worker).
        """
        self._observer = observer
        self._transaction_took = None if observer is None else observer.call_timer(TRANSACTION)
        state = self._state
        if state is not None and state.pid == os.getpid():
            state.reader.observe(observer)

    @property
    def engine(self) -> Engine:
        """This process's SQLAlchemy engine (built on first use)."""
        return self._process_state().engine

    def close(self) -> None:
        """Close this process's pooled connections (the backend stays usable)."""
        state = self._state
        if state is not None and state.pid == os.getpid():
            state.reader.close()
            state.engine.dispose()

    def _ready_engine(self) -> Engine:
        return self._ready_state().engine

    def _ready_state(self) -> _ProcessState:
        """This process's state, with the schema created or upgraded."""
        state = self._process_state()
        if not state.schema_ready:
            with state.schema_lock:
                if not state.schema_ready:
                    with self._guard:
                        self._ensure_schema(state.engine)
                    state.schema_ready = True
        return state

    @staticmethod
    def _ensure_schema(engine: Engine) -> None:
        """Create or upgrade the tables (see :func:`.schema.upgrade`).

        Another process doing the same at the same moment makes a statement
        fail: roll back and look again, unless the connection itself was lost.
        """
        with engine.connect() as conn:       # a dead database fails here, once
            conn.execution_options(**{SQLITE_IMMEDIATE: True})

            def upgrade() -> None:
                with conn.begin():
                    schema.upgrade(conn)

            retry(upgrade, on=DBAPIError, attempts=DDL_ATTEMPTS, pause=DDL_PAUSE,
                  diagnose=lambda exc: not (conn.invalidated or exc.connection_invalidated))

    @contextmanager
    def _transaction(self, *, writing: bool = False) -> Iterator[Connection]:
        """One short transaction on a pooled connection; an outage raises BackendUnavailable.

        ``writing``: it reads, then writes what it read decided; on SQLite it
        takes the write lock when it begins (see :data:`SQLITE_IMMEDIATE`).
        """
        timed: AbstractContextManager[None] = nullcontext()
        if self._observer is not None and self._transaction_took is not None:
            timed = Timed(self._observer, TRANSACTION, self._transaction_took)
        with timed, self._guard, self._ready_engine().connect() as conn:
            if writing:
                conn.execution_options(**{SQLITE_IMMEDIATE: True})
            with conn.begin():
                yield conn

    def _in_transaction(self, work: Callable[[Connection], T], *, writing: bool = False) -> T:
        """``work(conn)`` in one :meth:`_transaction` (``writing``: as it takes)."""
        with self._transaction(writing=writing) as conn:
            return work(conn)

    def _write(self, work: Callable[[Connection], T], account_id: str) -> T:
        """Run a write (holding SQLite's write lock from its start, as it may read first);
        retry on a race, diagnose a missing account."""
        def diagnose(exc: IntegrityError) -> bool:
            if not self._account_exists(account_id):
                raise UnknownAccount(account_id) from None
            return True

        return retry(lambda: self._in_transaction(work, writing=True), on=IntegrityError,
                     attempts=_RETRIES, diagnose=diagnose)

    def _account_exists(self, account_id: str) -> bool:
        with self._transaction() as conn:
            return conn.execute(select(accounts.c.account_id)
                                .where(accounts.c.account_id == account_id)).first() is not None

    # -- credential cache --------------------------------------------------------

    def _cache_get(self, state: _ProcessState, access_key: str) -> tuple[bool, Credential | None]:
        with state.cache_lock:
            hit = state.cache.get(access_key)
            if hit is None:
                return False, None
            if hit[0] <= time.monotonic():
                del state.cache[access_key]
                return False, None
            state.cache.move_to_end(access_key)
            return True, hit[1]

    def _cache_put(self, state: _ProcessState, access_key: str, cred: Credential | None) -> None:
        ttl = self._cache_ttl if cred is not None else self._negative_ttl
        if ttl <= 0:
            return
        with state.cache_lock:
            state.cache[access_key] = (time.monotonic() + ttl, cred)
            state.cache.move_to_end(access_key)
            while len(state.cache) > CACHE_ENTRIES:
                state.cache.popitem(last=False)

    def _cache_drop(self, access_key: str | None = None) -> None:
        state = self._process_state()
        with state.cache_lock:
            if access_key is None:
                state.cache.clear()
            else:
                state.cache.pop(access_key, None)

    # -- administration ----------------------------------------------------------

    def add_account(self, account_id: str, display_name: str = "") -> None:
        """Create (or rename) an account identified by its canonical user ID."""
        def work(conn: Connection) -> None:
            done = conn.execute(update(accounts).where(accounts.c.account_id == account_id)
                                .values(display_name=display_name)).rowcount
            if not done:
                conn.execute(insert(accounts).values(account_id=account_id,
                                                     display_name=display_name))

        # A duplicate key: created meanwhile by someone else; the next try renames it.
        retry(lambda: self._in_transaction(work), on=IntegrityError, attempts=_RETRIES)
        self._cache_drop()

    def list_accounts(self) -> list[tuple[str, str]]:
        """All accounts as ``(account_id, display_name)``, sorted by id."""
        with self._transaction() as conn:
            rows = conn.execute(select(accounts.c.account_id, accounts.c.display_name)
                                .order_by(accounts.c.account_id)).all()
        return [(row.account_id, row.display_name) for row in rows]

    def add_user(self, account_id: str, user: str) -> None:
        """Create the IAM user ``user`` under the account (no-op if it exists)."""
        self._write(lambda conn: conn.execute(self._insert_user(account_id, user)), account_id)

    @staticmethod
    def _insert_user(account_id: str, user: str):
        # INSERT ... SELECT ... WHERE NOT EXISTS: a single statement that
        # writes first (SQLite then holds the write lock from the start).
        missing = ~exists().where(users.c.account_id == account_id, users.c.name == user)
        return insert(users).from_select(["account_id", "name", "created"],
                                         select(literal(account_id, users.c.account_id.type),
                                                literal(user, users.c.name.type),
                                                literal(datetime.now(timezone.utc),
                                                        users.c.created.type)).where(missing))

    def describe_users(self, account_id: str) -> list[UserRecord]:
        """The account's IAM users with their creation time and status, sorted by name."""
        with self._transaction() as conn:
            self._require_account(conn, account_id)
            rows = conn.execute(select(users.c.name, users.c.created, users.c.active)
                                .where(users.c.account_id == account_id)
                                .order_by(users.c.name)).all()
        return [UserRecord(row.name, row.created, bool(row.active)) for row in rows]

    def set_user_active(self, account_id: str, user: str, active: bool) -> None:
        """Enable or disable a user (its keys are refused while it is disabled)."""
        def work(conn: Connection) -> None:
            self._require_user(conn, account_id, user)
            conn.execute(update(users).where(users.c.account_id == account_id,
                                             users.c.name == user).values(active=bool(active)))

        self._revoke(work)

    def rename_user(self, account_id: str, user: str, new_name: str) -> None:
        """Rename a user, keeping its keys, groups and policies (ValueError if the name is taken)."""
        def work(conn: Connection) -> None:
            self._require_user(conn, account_id, user)
            if conn.execute(select(users.c.name).where(users.c.account_id == account_id,
                                                       users.c.name == new_name)).first():
                raise ValueError(f"user {new_name!r} exists")
            old = conn.execute(select(users.c.active, users.c.created).where(
                users.c.account_id == account_id, users.c.name == user)).one()
            conn.execute(insert(users).values(account_id=account_id, name=new_name,
                                              active=old.active, created=old.created))
            for table, column in ((access_keys, access_keys.c.user_name),
                                  (group_members, group_members.c.user_name),
                                  (inline_policies, inline_policies.c.user_name)):
                conn.execute(update(table).where(table.c.account_id == account_id, column == user)
                             .values({column.name: new_name}))
            conn.execute(update(attachments).where(
                attachments.c.account_id == account_id, attachments.c.kind == "user",
                attachments.c.principal == user).values(principal=new_name))
            conn.execute(delete(users).where(users.c.account_id == account_id,
                                             users.c.name == user))
            self._bump_policies(conn, account_id)

        self._revoke(work)

    def delete_user(self, account_id: str, user: str) -> None:
        """Delete a user with its keys, group memberships, inline policies and attachments."""
        def work(conn: Connection) -> None:
            self._require_user(conn, account_id, user)
            conn.execute(delete(attachments).where(
                attachments.c.account_id == account_id, attachments.c.kind == "user",
                attachments.c.principal == user))
            for table, column in ((access_keys, access_keys.c.user_name),
                                  (group_members, group_members.c.user_name),
                                  (inline_policies, inline_policies.c.user_name)):
                conn.execute(delete(table).where(table.c.account_id == account_id,
                                                 column == user))
            conn.execute(delete(users).where(users.c.account_id == account_id,
                                             users.c.name == user))
            self._bump_policies(conn, account_id)

        self._revoke(work)

    def delete_account(self, account_id: str) -> None:
        """Delete an account and everything it owns: buckets, users, keys, policies, groups."""
        def work(conn: Connection) -> None:
            self._require_account(conn, account_id)
            for table in (attachments, inline_policies, group_members, policy_documents, policies,
                          groups, policy_versions, access_keys, users):
                conn.execute(delete(table).where(table.c.account_id == account_id))
            conn.execute(delete(buckets).where(buckets.c.owner == account_id))
            conn.execute(delete(accounts).where(accounts.c.account_id == account_id))

        self._revoke(work)

    def list_users(self, account_id: str) -> list[str]:
        """The names of the account's IAM users, sorted."""
        with self._transaction() as conn:
            self._require_account(conn, account_id)
            return list(conn.execute(select(users.c.name).where(users.c.account_id == account_id)
                                     .order_by(users.c.name)).scalars())

    def add_key(self, account_id: str, access_key: str, secret_key: str, *, user: str | None = None,
                active: bool = True, session_token: str | None = None,
                expires: datetime | None = None) -> Credential:
        """Give the account (or its IAM ``user``, created if need be) an access key.

        An existing key of the same name is replaced.
        """
        expires = _utc(expires)
        created = datetime.now(timezone.utc)
        stored = stored_secret(self.secrets, access_key, secret_key)

        def work(conn: Connection) -> str:
            if user is not None:
                conn.execute(self._insert_user(account_id, user))
            conn.execute(delete(access_keys).where(access_keys.c.access_key == access_key))
            conn.execute(insert(access_keys).values(
                access_key=access_key, secret_key=stored, account_id=account_id,
                user_name=user, active=active, session_token=session_token, expires=expires,
                created=created))
            return conn.execute(select(accounts.c.display_name)
                                .where(accounts.c.account_id == account_id)).scalar_one()

        failure = None
        try:
            display_name = self._write(work, account_id)
        except DBAPIError as exc:  # (outages are BackendUnavailable by now, see _transaction)
            # The database's own message may quote the row (secret, token):
            # raise without it, and outside this block so it is not chained.
            failure = (f"could not store access key {access_key!r}: "
                       f"{type(getattr(exc, 'orig', None) or exc).__name__} (details withheld)")
        if failure is not None:
            raise RuntimeError(failure)
        self._cache_drop(access_key)
        return Credential(access_key=access_key, secret_key=secret_key, account_id=account_id,
                          display_name=display_name, user=user, active=active,
                          session_token=session_token, expires=expires, created=created)

    def set_key_active(self, access_key: str, active: bool) -> None:
        """Enable or disable a key (a disabled key is refused as ``InvalidAccessKeyId``).

        Raises :class:`KeyError` for an unknown key.
        """
        done = self._revoke(lambda conn: conn.execute(
            update(access_keys).where(access_keys.c.access_key == access_key)
            .values(active=bool(active))).rowcount)
        if not done:
            raise KeyError(access_key)

    def delete_key(self, access_key: str) -> None:
        """Delete a key; :class:`KeyError` for an unknown key."""
        done = self._revoke(lambda conn: conn.execute(
            delete(access_keys).where(access_keys.c.access_key == access_key)).rowcount)
        if not done:
            raise KeyError(access_key)

    def list_keys(self, account_id: str) -> list[Credential]:
        """The keys of the account and of its IAM users, sorted by access key."""
        with self._transaction() as conn:
            self._require_account(conn, account_id)
            rows = conn.execute(self._credential_query()
                                .where(access_keys.c.account_id == account_id)
                                .order_by(access_keys.c.access_key)).all()
        return [self._credential(row) for row in rows]

    def add_bucket(self, account_id: str, name: str, *, created: datetime | None = None,
                   region: str = DEFAULT_REGION) -> BucketInfo:
        """Create a bucket; raises :class:`BucketNameTaken` if the name is taken by anyone."""
        info = BucketInfo(name=name, created=_utc(created) or datetime.now(timezone.utc), region=region)

        def work(conn: Connection) -> None:
            conn.execute(insert(buckets).values(name=name, owner=account_id, created=info.created,
                                                region=region, listing_entry=info.listing_xml))

        def diagnose(exc: IntegrityError) -> bool:
            # Taken (the primary key) or no such account (the foreign key)?
            with self._transaction() as conn:
                self._require_account(conn, account_id)
                owner = conn.execute(select(buckets.c.owner)
                                     .where(buckets.c.name == name)).scalar()
            if owner is not None:
                raise BucketNameTaken(name, owner) from None
            return True             # deleted again in between: try once more

        try:
            retry(lambda: self._in_transaction(work), on=IntegrityError, attempts=_RETRIES,
                  diagnose=diagnose)
        except IntegrityError:
            raise BackendUnavailable(f"bucket {name!r} keeps changing; try again") from None
        return info

    def delete_bucket(self, name: str, *, owner: str | None = None) -> None:
        """Delete a bucket; raises :class:`~..base.UnknownBucket` if there is none of that name.

        With ``owner``, only that account's bucket is deleted, in one
        statement (``DELETE ... WHERE name = ? AND owner = ?``): a bucket of the
        name owned by another account is left alone, and UnknownBucket raised.
        """
        condition = buckets.c.name == name
        if owner is not None:
            condition = condition & (buckets.c.owner == owner)
        with self._transaction() as conn:
            done = conn.execute(delete(buckets).where(condition)).rowcount
        if not done:
            raise UnknownBucket(name)

    def get_bucket(self, name: str) -> tuple[str, BucketInfo] | None:
        """The owner and info of a bucket, or ``None``."""
        with self._transaction() as conn:
            row = conn.execute(select(buckets.c.owner, buckets.c.name, buckets.c.created,
                                      buckets.c.region).where(buckets.c.name == name)).first()
        if row is None:
            return None
        return row.owner, BucketInfo(name=row.name, created=row.created, region=row.region)

    def bucket_owners(self, names: Iterable[str]) -> dict[str, str]:
        """The owner of each of ``names`` that is a bucket (one query per 500 names)."""
        wanted = sorted(set(names))
        found: dict[str, str] = {}
        with self._transaction() as conn:
            for i in range(0, len(wanted), 500):
                found.update(conn.execute(select(buckets.c.name, buckets.c.owner)
                                          .where(buckets.c.name.in_(wanted[i:i + 500]))).all())
        return found

    @staticmethod
    def _require_account(conn: Connection, account_id: str) -> None:
        if conn.execute(select(accounts.c.account_id)
                        .where(accounts.c.account_id == account_id)).first() is None:
            raise UnknownAccount(account_id)

    # -- the protocols --------------------------------------------------------------

    @staticmethod
    def _credential_query():
        return (select(access_keys, accounts.c.display_name,
                       users.c.active.label("user_active"))
                .join(accounts, accounts.c.account_id == access_keys.c.account_id)
                .outerjoin(users, and_(users.c.account_id == access_keys.c.account_id,
                                       users.c.name == access_keys.c.user_name)))

    def _credential(self, row: Any) -> Credential:
        active = bool(row.active) and (row.user_active is None or bool(row.user_active))
        secret_key = open_secret(self.secrets, row.access_key, row.secret_key)
        return Credential(access_key=row.access_key, secret_key=secret_key,
                          account_id=row.account_id, display_name=row.display_name,
                          user=row.user_name, active=active,
                          session_token=row.session_token, expires=row.expires,
                          created=row.created, last_used=row.last_used,
                          last_used_service=row.last_used_service,
                          last_used_region=row.last_used_region)

    # -- revocations (see .revocation) ------------------------------------------------------

    def _check_revocations(self, state: _ProcessState) -> None:
        generation = state.generation
        if generation is None:
            generation = state.generation = Generation(self._read_generation,
                                                       self._forget_cached)
        generation.check()

    def _read_generation(self) -> int | None:
        with self._transaction() as conn:
            return conn.execute(select(revocations.c.generation)
                                .where(revocations.c.id == 1)).scalar()

    def _forget_cached(self) -> None:
        self._cache_drop()
        self._versions.clear()

    def _revoke(self, work: Callable[[Connection], T]) -> T:
        """``work(conn)`` and a bump of the revocation generation in one transaction;
        this process forgets its cached credentials and versions at once."""
        def both(conn: Connection) -> T:
            result = work(conn)
            bump(conn)
            return result

        try:
            return self._in_transaction(both, writing=True)      # (work may read first)
        finally:
            self._forget_cached()

    def note_key_used(self, access_key: str, service: str, region: str) -> None:
        """Record the key's last use: written at once, then at most once a minute per process."""
        state = self._process_state()
        now = time.monotonic()
        if now - state.used.get(access_key, -USAGE_WRITE_SECONDS) < USAGE_WRITE_SECONDS:
            return
        state.used[access_key] = now
        if len(state.used) > CACHE_ENTRIES:
            state.used.clear()
        try:
            with self._transaction() as conn:
                conn.execute(update(access_keys).where(access_keys.c.access_key == access_key)
                             .values(last_used=datetime.now(timezone.utc),
                                     last_used_service=service[:32], last_used_region=region[:64]))
        except Exception as exc:  # (bookkeeping: the request it was noted for goes on)
            log.warning("could not record the use of key %s: %s", access_key,
                        type(exc).__name__)

    def get_credential(self, access_key: str) -> Credential | None:
        state = self._process_state()
        self._check_revocations(state)
        if self._cache_ttl > 0:
            hit, cred = self._cache_get(state, access_key)
            if hit:
                return cred
        if "\x00" in access_key:
            return None
        with self._transaction() as conn:
            row = conn.execute(self._credential_query()
                               .where(access_keys.c.access_key == access_key)).first()
        cred = None if row is None else self._credential(row)
        self._cache_put(state, access_key, cred)
        return cred

    def list_buckets(self, account_id: str, *, prefix: str = "", after: str | None = None,
                     region: str | None = None, limit: int | None = None) -> Iterable[BucketInfo]:
        """See :meth:`.base.BucketStore.list_buckets`.

        Reads the account's bucket version, then answers from this process's
        snapshot of the account's buckets at that version, reading them
        whole when it has none (see :mod:`.listingcache`).  An account too
        large to keep is read in keyset pages of :data:`~.sortedbuckets.RUN` rows
        (``name > last ORDER BY name LIMIT n``), lazily, one statement each,
        so nothing is held while the consumer works.
        """
        # Bucket names never contain NUL (PostgreSQL cannot even store it):
        # no name starts with such a prefix, and for names without NUL,
        # "name > after" equals "name > after-cut-at-the-NUL".  No region has one either.
        if "\x00" in prefix or "\x00" in account_id or (region is not None and "\x00" in region):
            return []
        if after is not None and "\x00" in after:
            after = after[:after.index("\x00")]
        state = self._ready_state()
        reader, listings = state.reader, state.listings
        version = reader.value(reader.statement(_BUCKET_VERSION), (account_id,))
        if version is None:
            return []                                   # no such account
        snapshot = listings.get(account_id, version)
        if snapshot is None and not listings.is_large(account_id, version):
            rows = reader.rows(reader.statement(_ALL_BUCKETS),
                               (account_id, listings.max_account + 1))
            if len(rows) > listings.max_account:
                listings.mark_large(account_id, version)
            else:
                snapshot = listings.put(account_id, version, _buckets(rows))
        if snapshot is not None:
            return listing(lambda start, size: snapshot.run(prefix, start, region, size),
                           after, limit)
        return listing(partial(self._read_run, reader, account_id, prefix, region), after, limit)

    @staticmethod
    def _read_run(reader: Reader, account_id: str, prefix: str, region: str | None,
                  after: str | None, size: int) -> tuple[list[BucketInfo], str | None, bool]:
        """One keyset page of an account's buckets, read from the database."""
        conditions, params = ["owner = ?"], [account_id]
        if after is not None and after >= prefix:
            conditions.append("name > ?")
            params.append(after)
        elif prefix:
            conditions.append("name >= ?")
            params.append(prefix)
        upper = _prefix_end(prefix)
        if upper is not None:
            conditions.append("name < ?")
            params.append(upper)
        if region is not None:
            conditions.append("region = ?")
            params.append(region)
        rows = reader.rows(reader.statement(
            f"{_SELECT_BUCKETS} WHERE {' AND '.join(conditions)} ORDER BY name LIMIT ?"),
            (*params, size))
        return _buckets(rows), rows[-1][0] if rows else after, len(rows) < size


# The listing's statements, for the Reader (written with "?" placeholders).
_BUCKET_VERSION = "SELECT bucket_version FROM s3service_accounts WHERE account_id = ?"
_SELECT_BUCKETS = ("SELECT name, region, listing_entry, "
                   "CASE WHEN listing_entry IS NULL THEN created END FROM s3service_buckets")
_ALL_BUCKETS = f"{_SELECT_BUCKETS} WHERE owner = ? ORDER BY name LIMIT ?"


def _buckets(rows: list[tuple[str, str, str | None, Any]]) -> list[BucketInfo]:
    """Listing rows ``(name, region, listing_entry, created)`` as BucketInfos."""
    kept = BucketInfo.from_entry
    return [kept(name, region, entry) if entry is not None else _unkept(name, region, created)
            for name, region, entry, created in rows]


def _unkept(name: str, region: str, created: datetime | str) -> BucketInfo:
    # A row written by an s3service older than schema version 3: no entry kept.
    if isinstance(created, str):                    # SQLite hands back its text
        created = datetime.fromisoformat(created)
    return BucketInfo(name, _utc(created), region)  # type: ignore[arg-type]
