"""A fleet's listings are never stale: two ``s3service serve`` processes on one database.

A bucket created or deleted through one process -- or through the store by a
third -- shows in the other's very next listing, paged and unpaged, on
SQLite and on PostgreSQL.  Each server has two workers, and every step lists
several times, so every worker (and each one's cached snapshot) is asked.
"""
from __future__ import annotations

from datetime import datetime, timezone

import boto3
import pytest
from botocore.config import Config

from tests.helpers.cliserver import start_server  # noqa: F401 (a fixture)
from s3service.backends.sql import SQLBackend

ACCOUNT = "fleet" + "0" * 59
KEY, SECRET = "AKIDFLEETLISTING", "fleet-listing-secret"
ASKS = 6   # listings per step and server: enough to reach both workers


def client(endpoint: str):
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=KEY, aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"},
                      connect_timeout=5, read_timeout=15))


def unpaged(s3) -> list[str]:
    return [b["Name"] for b in s3.list_buckets()["Buckets"]]


def paged(s3) -> list[str]:
    names, token = [], None
    while True:
        page = s3.list_buckets(MaxBuckets=2, **({"ContinuationToken": token} if token else {}))
        names += [b["Name"] for b in page["Buckets"]]
        token = page.get("ContinuationToken")
        if not token:
            return names


def everyone_sees(servers, expected: list[str]) -> None:
    for s3 in servers:
        for _ in range(ASKS):
            assert unpaged(s3) == expected
            assert paged(s3) == expected


@pytest.fixture(params=["sqlite", "postgresql", "pgbouncer"])
def sql_url(request, make_sql_url):
    """pgbouncer: both servers (and the third process) through one PgBouncer, transaction pooling."""
    return make_sql_url(request.param)


def test_changes_show_in_the_very_next_listing(sql_url, start_server):  # noqa: F811
    store = SQLBackend(sql_url)
    store.add_account(ACCOUNT, display_name="fleet")
    store.add_key(ACCOUNT, KEY, SECRET)
    for name in ("b-1", "b-3", "b-5"):
        store.add_bucket(ACCOUNT, name, created=datetime(2024, 1, 1, tzinfo=timezone.utc))
    one, two = start_server(sql_url, "--workers", "2"), start_server(sql_url, "--workers", "2")
    one.wait_ready()
    two.wait_ready()
    via_one, via_two = client(one.endpoint), client(two.endpoint)
    both = (via_one, via_two)
    everyone_sees(both, ["b-1", "b-3", "b-5"])            # every worker has a snapshot now

    via_one.create_bucket(Bucket="b-2")
    everyone_sees((via_two, via_one), ["b-1", "b-2", "b-3", "b-5"])
    via_two.delete_bucket(Bucket="b-3")
    everyone_sees(both, ["b-1", "b-2", "b-5"])

    store.add_bucket(ACCOUNT, "b-4")                        # a third process: this one
    everyone_sees(both, ["b-1", "b-2", "b-4", "b-5"])
    store.delete_bucket("b-1")
    everyone_sees(both, ["b-2", "b-4", "b-5"])

    # A write that bypasses the store (an older s3service, a hand-written fix):
    # the database's trigger still bumps the version, so nothing goes stale.
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM s3service_buckets WHERE name = 'b-5'")
    everyone_sees(both, ["b-2", "b-4"])
    store.close()
