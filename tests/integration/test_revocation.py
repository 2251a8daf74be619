"""Revocation in a fleet: two ``s3service serve`` processes (one worker, and two) on one
PostgreSQL database, with their default 5 s credential cache.

A key deleted (with the CLI), a user disabled and a policy detached (with ``aws iam``
through the first server) is refused by the next request of the process that made the
change, and by every worker of both servers within one second
(:data:`~s3service.backends.protocols.REVOCATION_SECONDS`).  Each check after the
change opens a new connection, so the kernel spreads the requests over the workers.
"""
from __future__ import annotations

import http.client
import json
import time

import boto3
from botocore.config import Config

from s3service.backends.protocols import REVOCATION_SECONDS
from tests.helpers.cliserver import run_cli, start_server  # noqa: F401 (a fixture)
from tests.helpers.signing import presigned_url

LIST_ALL = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
WARM = 12                       # requests per server before a change: every worker's cache warm
CHECKS = 12                     # requests per server after the second is up


def admin(db: str, *args: str) -> dict:
    result = run_cli("--db", db, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def list_status(server, key: dict) -> tuple[int, bytes]:
    """A ListBuckets on a new connection: its status and body."""
    url = presigned_url("GET", f"{server.endpoint}/", key["access_key"], key["secret_key"])
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", url.split(str(server.port), 1)[1])
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def iam_client(server, key: dict):
    return boto3.session.Session().client(
        "iam", endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id=key["access_key"], aws_secret_access_key=key["secret_key"],
        config=Config(retries={"max_attempts": 1}))


def refused_everywhere(servers, key: dict, refused_code: bytes, since: float) -> float:
    """Wait (at most 5 s) for both servers to refuse ``key``; then, once REVOCATION_SECONDS
    have passed since the change, every request of every worker must be refused.  Returns
    the seconds the last server took to refuse it first."""
    first: dict[int, float] = {}
    while len(first) < len(servers) and time.monotonic() - since < 5:
        for server in servers:
            if server.port not in first:
                status, body = list_status(server, key)
                if status == 403 and refused_code in body:
                    first[server.port] = time.monotonic() - since
        time.sleep(0.05)
    assert len(first) == len(servers), f"still accepted after 5 s ({first})"
    time.sleep(max(0.0, since + REVOCATION_SECONDS - time.monotonic()))
    for server in servers:
        answers = [list_status(server, key) for _ in range(CHECKS)]
        assert all(status == 403 and refused_code in body for status, body in answers), answers
    return max(first.values())


def test_revocations_hold_in_every_process_within_a_second(make_sql_url, start_server):  # noqa: F811
    db = make_sql_url("postgresql")
    account = admin(db, "account", "create", "fleet-account", "--name", "fleet")["account_id"]
    root = admin(db, "key", "create", "fleet")
    users = {}
    for name in ("carol", "dave", "erin"):
        admin(db, "user", "create", "fleet", name)
        users[name] = admin(db, "key", "create", "fleet", "--user", name)
    one = start_server(db, "--workers", "1")
    two = start_server(db, "--workers", "2")
    one.wait_ready()
    two.wait_ready()
    iam_one = iam_client(one, root)
    policy = iam_one.create_policy(PolicyName="list-all", PolicyDocument=LIST_ALL)["Policy"]
    for name in users:
        iam_one.attach_user_policy(UserName=name, PolicyArn=policy["Arn"])

    def warm(key: dict) -> None:
        deadline = time.monotonic() + 5       # (a policy attached a moment ago: up to 1 s)
        for server in (one, two):
            while list_status(server, key)[0] != 200:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            for _ in range(WARM):
                assert list_status(server, key)[0] == 200

    # 1. A key deleted with aws iam through server one (one worker: the process that
    # made the change answers the next request there).
    warm(users["carol"])
    iam_one.delete_access_key(UserName="carol", AccessKeyId=users["carol"]["access_key"])
    since = time.monotonic()
    status, body = list_status(one, users["carol"])
    assert status == 403 and b"InvalidAccessKeyId" in body, "the very next request"
    took = refused_everywhere((one, two), users["carol"], b"InvalidAccessKeyId", since)
    print(f"deleted key refused everywhere after {took:.2f} s")

    # 2. A user disabled with the CLI (another process): both servers within a second.
    warm(users["dave"])
    assert admin(db, "user", "disable", "fleet", "dave")["active"] is False
    took = refused_everywhere((one, two), users["dave"], b"InvalidAccessKeyId",
                              time.monotonic())
    print(f"disabled user refused everywhere after {took:.2f} s")
    admin(db, "user", "enable", account, "dave")

    # 3. A policy detached with aws iam through server one (one worker: the process
    # that made the change answers the next request).
    warm(users["erin"])
    iam_one.detach_user_policy(UserName="erin", PolicyArn=policy["Arn"])
    since = time.monotonic()
    status, body = list_status(one, users["erin"])
    assert status == 403 and b"AccessDenied" in body, "the very next request"
    took = refused_everywhere((one, two), users["erin"], b"AccessDenied", since)
    print(f"detached policy refused everywhere after {took:.2f} s")
    # A disabled user enabled again works again (nothing was lost).
    warm(users["dave"])
