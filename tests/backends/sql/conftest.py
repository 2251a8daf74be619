"""Fixtures of the SQL store's tests."""
from __future__ import annotations

import os

import pytest


@pytest.fixture
def private_postgres():
    """A PostgreSQL cluster of this test's own, to stop and start at will."""
    from tests.helpers import pg

    if os.environ.get(pg.ENV_URL):
        pytest.skip("external PostgreSQL (S3SERVICE_TEST_PG_URL) cannot be stopped")
    if pg.find_bindir() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("PostgreSQL is required in CI")
        pytest.skip("PostgreSQL not available")
    server = pg.PostgresServer.create()
    try:
        yield server
    finally:
        server.cleanup()
