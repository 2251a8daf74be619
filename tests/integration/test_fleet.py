"""A fleet: two ``s3service serve`` processes on two ports sharing one PostgreSQL database.

The servers cache credentials for :data:`CACHE_SECONDS` (``cli_credential_cache``:
the real command, its SQL stores built with that cache time) so that waiting
for a disabled key to be refused everywhere takes a second, not the default 5 s.
"""
from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers.cliserver import run_cli, start_server  # noqa: F401 (a fixture)

CACHE_SECONDS = 1.0   # the servers' credential cache time
SLACK = 0.5           # a look-up that began before the change may be cached a moment after it


def admin(db: str, *args: str) -> dict:
    result = run_cli("--db", db, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def client(endpoint: str, key: dict):
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=key["access_key"], aws_secret_access_key=key["secret_key"],
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"},
                      connect_timeout=5, read_timeout=15))


def listing(s3) -> dict:
    return {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]}


def refused(s3) -> bool:
    try:
        s3.list_buckets()
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "InvalidAccessKeyId"
        return True
    return False


@pytest.mark.parametrize("kind", ["postgresql", "pgbouncer"])
def test_two_gateways_share_one_store(kind, make_sql_url, start_server):  # noqa: F811
    db = make_sql_url(kind)            # pgbouncer: both servers through one, transaction pooling
    account_id = admin(db, "account", "create", "--name", "fleet")["account_id"]
    key = admin(db, "key", "create", account_id)
    one, two = (start_server(db, "--workers", "2", module="cli_credential_cache",
                             env={"S3SERVICE_TEST_CREDENTIAL_CACHE": str(CACHE_SECONDS)})
                for _ in range(2))
    one.wait_ready()
    two.wait_ready()
    via_one, via_two = client(one.endpoint, key), client(two.endpoint, key)

    via_one.create_bucket(Bucket="fleet-photos")
    via_two.create_bucket(Bucket="fleet-videos")
    seen_one, seen_two = listing(via_one), listing(via_two)
    assert sorted(seen_one) == sorted(seen_two) == ["fleet-photos", "fleet-videos"]
    assert seen_one == seen_two, "the same creation dates through both gateways"
    via_two.create_bucket(Bucket="fleet-photos")        # yours already: us-east-1 says 200
    assert listing(via_two) == seen_one, "unchanged, creation date included"

    # Warm both gateways' credential caches, then disable the key in the database.
    for _ in range(4):
        listing(via_one), listing(via_two)
    admin(db, "key", "disable", key["access_key"])
    disabled_at = time.monotonic()
    pending = {"one": via_one, "two": via_two}
    while pending and time.monotonic() - disabled_at < CACHE_SECONDS + 5:
        for name in [n for n, s3 in pending.items() if refused(s3)]:
            del pending[name]
        time.sleep(0.2)
    assert not pending, f"still accepted after {CACHE_SECONDS + 5} s by {sorted(pending)}"
    print(f"disabled key refused by both gateways after {time.monotonic() - disabled_at:.1f} s")
    # Once every worker's cache has expired, every worker of both servers refuses it,
    # request after request.
    time.sleep(max(0.0, disabled_at + CACHE_SECONDS + SLACK - time.monotonic()))
    assert all(refused(s3) for s3 in (via_one, via_two) for _ in range(6))
