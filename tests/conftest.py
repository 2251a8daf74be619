"""Shared pytest fixtures.  Keep each group in its own marked section."""
from __future__ import annotations

import os
import uuid

import pytest


# =============================================================================
# SQL store / PostgreSQL fixtures (owner: s3service.backends.sql)
#
#   postgres_server  session-wide throw-away PostgreSQL (tests/helpers/pg.py); skips
#                    when no binaries are found, fails instead when CI=true
#   sql_url          parametrized: "sqlite" (a temp file) and "postgresql"
#                    (a fresh database on postgres_server per test)
#   make_sql_url     the same as a function: make_sql_url("sqlite"|"postgresql"|"pgbouncer")
#   pgbouncer        session-wide PgBouncer (transaction pooling) in front of postgres_server
#                    (tests/helpers/pgbouncer.py); make_sql_url("pgbouncer") is a fresh
#                    database on postgres_server, its statement_timeout set for the
#                    database (as docs/scaling.rst says), reached through it
# =============================================================================

def _no_postgres(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture(scope="session")
def postgres_server():
    from tests.helpers import pg

    server = pg.PostgresServer.from_env()
    if server is not None:
        yield server
        return
    if pg.find_bindir() is None:
        _no_postgres("no initdb/pg_ctl/postgres found (set S3SERVICE_TEST_PG_URL or install postgresql)")
    try:
        server = pg.PostgresServer.create()
    except pg.PostgresUnavailable as exc:
        _no_postgres(str(exc))
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def pgbouncer(postgres_server):
    from tests.helpers import pgbouncer

    if not postgres_server.can_restart:
        pytest.skip("PgBouncer runs in front of the tests' own cluster only")
    if pgbouncer.find_binary() is None:
        _no_postgres("no pgbouncer binary (apt-get install pgbouncer)")
    try:
        bouncer = pgbouncer.PgBouncer.start("127.0.0.1", postgres_server.port)
    except pgbouncer.PgBouncerUnavailable as exc:
        _no_postgres(str(exc))
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture
def make_sql_url(request, tmp_path):
    """``make_sql_url(kind)``: the URL of a new, empty database of that kind."""
    made: list[tuple[object, str]] = []

    def make(kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / f's3service-{uuid.uuid4().hex[:8]}.db'}"
        if kind == "postgresql":
            server = request.getfixturevalue("postgres_server")
            url = server.create_database()
            made.append((server, url))
            return url
        if kind == "pgbouncer":
            bouncer = request.getfixturevalue("pgbouncer")
            server = request.getfixturevalue("postgres_server")
            url = server.create_database()
            made.append((server, url))
            server.set_for_database(url, "statement_timeout", "30s")
            return bouncer.url(url)
        raise ValueError(kind)

    yield make
    for server, url in made:
        server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request, make_sql_url):
    return make_sql_url(request.param)

# ============================ end of SQL section ==============================


# =============================================================================
# The in-memory store (owner: the middleware's unit tests)
#
#   store   a fresh MemoryBackend per test, holding its test module's SEED:
#
#     SEED = {"accounts": {account_id: display_name, ...},
#             "keys": [(account_id, access_key, secret_key), ...],
#             "buckets": [(account_id, name), ...]}
#
#           a key or bucket tuple may end with a dict of add_key / add_bucket
#           options ({"user": "alice"}, {"created": ..., "region": ...}).
#           Modules wanting another kind of store name their fixture otherwise
#           (backends/test_contract.py's empty_store, test_fuzz's fuzz_store).
# =============================================================================

@pytest.fixture
def store(request):
    from s3service.backends.memory import MemoryBackend

    seed = getattr(request.module, "SEED", None)
    if seed is None:
        pytest.fail(f"{request.module.__name__} uses the store fixture but defines no SEED",
                    pytrace=False)
    store = MemoryBackend()
    for account_id, display_name in seed.get("accounts", {}).items():
        store.add_account(account_id, display_name=display_name)
    for entry in seed.get("keys", ()):
        store.add_key(*_arguments(entry), **_options(entry))
    for entry in seed.get("buckets", ()):
        store.add_bucket(*_arguments(entry), **_options(entry))
    return store


def _arguments(entry: tuple) -> tuple:
    return entry[:-1] if isinstance(entry[-1], dict) else entry


def _options(entry: tuple) -> dict:
    return entry[-1] if isinstance(entry[-1], dict) else {}

# ========================== end of in-memory store ===========================
