"""Candidate factories for the shared ListBuckets harness (``../shared/bench``).

Each factory ``f(n)`` seeds the ``n`` buckets named ``harness.bucket_names(n)``
under one account and returns ``(wsgi_app, harness.SignedListBuckets(key, secret))``
as the harness's contract asks (see the docstring of ``harness.py``).

``s3service_memory``
    The middleware over a ``MemoryBackend``.
``s3service_metered``
    The same with ``metrics=`` on.
``s3service_sqlite``
    The middleware over ``SQLBackend`` on a new SQLite file (a temporary
    directory, removed at exit).
``s3service_postgres``
    The middleware over ``SQLBackend`` on PostgreSQL: the database at
    ``$S3SERVICE_BENCH_PG_URL`` (``postgresql+psycopg://user@host:port/db``;
    the bench account's buckets there are replaced at each call), or else a
    new database on a throw-away cluster started on 127.0.0.1 with the tests'
    helper (``tests/helpers/pg.py``; needs PostgreSQL's server binaries) and removed
    at exit.

The SQL stores are seeded through the library API (``add_account``,
``add_key``, ``add_bucket``), so they hold exactly what a deployment would.

Use them from the shared harness::

    PYTHONPATH=benchmarks:../shared/bench python ../shared/bench/peers.py \\
        --peers bare,moto,swift-s3api --candidate s3service=factories:s3service_memory \\
        --candidate s3service-sqlite=factories:s3service_sqlite \\
        --candidate s3service-postgres=factories:s3service_postgres

The harness module is found on ``PYTHONPATH`` or, failing that, in
``$S3SERVICE_BENCH_HARNESS`` or the ``shared/bench`` folder next to this
checkout (``../../shared/bench`` from this file).
"""
from __future__ import annotations

import atexit
import importlib
import importlib.util
import inspect
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/


def _import_harness():
    if importlib.util.find_spec("harness") is None:
        here = os.path.dirname(os.path.abspath(__file__))
        folder = os.environ.get("S3SERVICE_BENCH_HARNESS") or os.path.normpath(
            os.path.join(here, "..", "..", "shared", "bench"))
        if not os.path.exists(os.path.join(folder, "harness.py")):
            raise ImportError("the shared bench harness (harness.py) is neither on PYTHONPATH "
                              "nor in %s; set S3SERVICE_BENCH_HARNESS" % folder) from None
        sys.path.insert(0, folder)
    return importlib.import_module("harness")


harness = _import_harness()

from s3service import S3ServiceMiddleware  # noqa: E402
from s3service.backends.memory import MemoryBackend  # noqa: E402

if TYPE_CHECKING:
    from s3service.backends.sql import SQLBackend

import account  # noqa: E402
from account import ACCESS_KEY, ACCOUNT_ID, CREATED, DISPLAY_NAME, REGION, SECRET_KEY  # noqa: E402,F401
PG_URL_ENV = "S3SERVICE_BENCH_PG_URL"
TESTS_DIR = Path(__file__).resolve().parent.parent / "tests"


def gateway_app(environ, start_response):
    """The storage gateway behind the middleware: never reached by ListBuckets."""
    body = b"not found"
    start_response("404 Not Found", [("Content-Type", "text/plain"),
                                     ("Content-Length", str(len(body)))])
    return [body]


def memory_store(names, account_id=ACCOUNT_ID):
    """A MemoryBackend with one account, its key, and ``names`` as its buckets."""
    store = MemoryBackend()
    store.add_account(account_id, display_name=DISPLAY_NAME)
    store.add_key(account_id, ACCESS_KEY, SECRET_KEY)
    for name in names:
        store.add_bucket(account_id, name, created=CREATED, region=REGION)
    return store


def middleware(store, credentials=None, **options):
    """The middleware as a gateway would deploy it (path-style, one service host)."""
    return S3ServiceMiddleware(gateway_app, credentials=credentials or store, buckets=store,
                               region=REGION, service_hosts=["localhost"], **options)


def signer(endpoint="http://localhost"):
    return harness.SignedListBuckets(ACCESS_KEY, SECRET_KEY, endpoint=endpoint, region=REGION)


def s3service_memory(n):
    """s3service over its MemoryBackend, ``n`` buckets under one account."""
    store = memory_store(harness.bucket_names(n))
    return middleware(store), signer()


def has_metrics():
    """Whether this version of the middleware takes a ``metrics=`` store."""
    return "metrics" in inspect.signature(S3ServiceMiddleware.__init__).parameters


def s3service_metered(n):
    """Same as :func:`s3service_memory` with request metrics recorded (if supported)."""
    if not has_metrics():
        raise RuntimeError("S3ServiceMiddleware has no metrics= parameter in this version")
    store = memory_store(harness.bucket_names(n))  # a MemoryBackend is a metrics store too
    return middleware(store, metrics=store), signer()


# -- the SQL store ----------------------------------------------------------------------

def sql_store(url: str, names: Iterable[str], account_id: str = ACCOUNT_ID) -> SQLBackend:
    """An ``SQLBackend`` at ``url`` with one account, its key, and exactly ``names`` as buckets.

    Buckets the account already had there (an earlier size on the same
    database) are deleted first.  The store's connections are closed at exit.
    """
    from s3service.backends.sql import SQLBackend

    store = SQLBackend(url)
    atexit.register(store.close)
    account.seed(store, names, account_id)
    return store


def s3service_sqlite(n: int) -> tuple[Any, Any]:
    """s3service over SQLBackend on a new SQLite file, ``n`` buckets under one account."""
    folder = tempfile.mkdtemp(prefix="s3s-bench-sqlite-")
    atexit.register(shutil.rmtree, folder, True)     # runs after the store is closed
    store = sql_store(f"sqlite:///{folder}/s3service.db", harness.bucket_names(n))
    return middleware(store), signer()


_pg_server: Any = None     # the throw-away cluster, once started


def _tests_pg() -> ModuleType:
    """The tests' PostgreSQL helper, ``tests/helpers/pg.py`` (loaded by its path)."""
    path = TESTS_DIR / "helpers" / "pg.py"
    spec = importlib.util.spec_from_file_location("s3service_tests_pg", path)
    if spec is None or spec.loader is None or not path.exists():
        raise ImportError(f"no PostgreSQL helper at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def postgres_url() -> str:
    """``$S3SERVICE_BENCH_PG_URL``, or else a new database on a throw-away cluster.

    The cluster (``tests/helpers/pg.py``'s ``PostgresServer.create()``: ``initdb`` into
    a temporary directory, ``postgres`` on 127.0.0.1) is started on first use
    and stopped and removed at exit.
    """
    url = os.environ.get(PG_URL_ENV)
    if url:
        return url
    global _pg_server
    if _pg_server is None:
        _pg_server = _tests_pg().PostgresServer.create()   # registers its own cleanup at exit
    return _pg_server.create_database()


def s3service_postgres(n: int) -> tuple[Any, Any]:
    """s3service over SQLBackend on PostgreSQL, ``n`` buckets under one account."""
    store = sql_store(postgres_url(), harness.bucket_names(n))
    return middleware(store), signer()
