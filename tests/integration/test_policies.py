"""Policies enforced over HTTP: ``s3service serve`` (gunicorn, two workers, SQLite) and real clients.

The store is set up with the CLI (in this process); boto3 (SigV4 and SigV2),
the MinIO SDK and the AWS CLI talk to the server.  Policies change while it runs, and every
worker follows within the store's credential cache time (5 s).
"""
from __future__ import annotations

import json
import os
import subprocess
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers.cliserver import aws_command, command_env, run_cli
from tests.helpers.cliserver import start_server  # noqa: F401 (a fixture)

ACCOUNT = "acct-policies"
CACHE_TIME = 5.0                 # SQLBackend's default credential_cache_seconds


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


LIST_ALL = policy({"Sid": "List", "Effect": "Allow", "Action": "s3:ListAllMyBuckets",
                   "Resource": "*"})
BUCKETS_BUT_KEEP = policy(
    {"Sid": "List", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
    {"Sid": "Buckets", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::*"},
    {"Sid": "Keep", "Effect": "Deny", "Action": "s3:DeleteBucket",
     "Resource": "arn:aws:s3:::keep"})
ELSEWHERE_ONLY = policy(
    {"Sid": "List", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
    {"Sid": "Elsewhere", "Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}})


@pytest.fixture
def setup(tmp_path, start_server):
    db = f"sqlite:///{tmp_path / 'policies.db'}"

    def cli(*args: str) -> str:
        result = run_cli("--db", db, *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def key(user: str | None = None) -> tuple[str, str]:
        if user is not None:
            cli("user", "create", ACCOUNT, user)
        made = json.loads(cli("key", "create", ACCOUNT, "--json",
                              *(("--user", user) if user else ())))
        return made["access_key"], made["secret_key"]

    cli("account", "create", ACCOUNT)
    for name in ("keep", "scratch", "photos"):
        cli("bucket", "create", ACCOUNT, name)
    keys = {"root": key(), **{user: key(user) for user in ("alice", "bob", "carol")}}
    for name, text in (("list-all", LIST_ALL), ("buckets-but-keep", BUCKETS_BUT_KEEP),
                       ("elsewhere-only", ELSEWHERE_ONLY)):
        (tmp_path / f"{name}.json").write_text(text)
        cli("policy", "create", ACCOUNT, name, str(tmp_path / f"{name}.json"))
    cli("group", "create", ACCOUNT, "staff")
    cli("group", "add-user", ACCOUNT, "staff", "bob")
    cli("policy", "attach", ACCOUNT, "--group", "staff", "buckets-but-keep")
    cli("policy", "attach", ACCOUNT, "--user", "carol", "elsewhere-only")
    server = start_server(db, "--workers", "2")
    server.wait_ready()
    return server, keys, cli, tmp_path


def client(server, key: tuple[str, str], signature_version: str = "s3v4"):
    config = Config(signature_version=signature_version, s3={"addressing_style": "path"},
                    retries={"max_attempts": 1, "mode": "standard"})
    return boto3.session.Session().client(
        "s3", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=key[0],
        aws_secret_access_key=key[1], config=config)


def minio_client(server, key: tuple[str, str]):
    import minio
    import urllib3

    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=10),
                               retries=urllib3.Retry(total=0))
    return minio.Minio(f"127.0.0.1:{server.port}", access_key=key[0], secret_key=key[1],
                       secure=False, region="us-east-1", http_client=http)


def refused(call, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return caught.value.response["Error"]["Code"]


def names(s3) -> list[str]:
    return [b["Name"] for b in s3.list_buckets()["Buckets"]]


def eventually(check, what: str, since: float) -> None:
    """``check()`` true on every worker once the cache time has passed since ``since``.

    (Each worker reads the account's policy version at most once per cache
    time: before that, one may answer by the new policies and another by the old.)
    """
    time.sleep(max(0.0, since + CACHE_TIME + 0.5 - time.monotonic()))
    for _ in range(8):                     # whichever worker answers
        assert check(), what


def test_an_iam_user_is_held_to_its_policies(setup, monkeypatch):
    server, keys, cli, tmp_path = setup
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, os.devnull)
    root, alice, bob = (client(server, keys[k]) for k in ("root", "alice", "bob"))

    # The account's own key may do everything, with no policy at all.
    assert names(root) == ["keep", "photos", "scratch"]

    # No policy: AccessDenied, on ListBuckets and on every bucket operation.
    assert refused(alice.list_buckets) == "AccessDenied"
    assert refused(alice.create_bucket, Bucket="alices") == "AccessDenied"
    assert refused(alice.get_bucket_location, Bucket="photos") == "AccessDenied"
    assert refused(client(server, keys["alice"], "s3").list_buckets) == "AccessDenied"
    from minio.error import S3Error
    with pytest.raises(S3Error) as caught:
        minio_client(server, keys["alice"]).list_buckets()
    assert caught.value.code == "AccessDenied"

    # s3:ListAllMyBuckets: the parent account's buckets -- and nothing more.
    cli("policy", "attach", ACCOUNT, "--user", "alice", "list-all")
    eventually(lambda: _lists(alice), "alice never got ListAllMyBuckets", time.monotonic())
    assert names(alice) == ["keep", "photos", "scratch"]
    assert names(client(server, keys["alice"], "s3")) == ["keep", "photos", "scratch"]  # SigV2
    assert [b.name for b in minio_client(server, keys["alice"]).list_buckets()] == \
        ["keep", "photos", "scratch"]
    assert refused(alice.delete_bucket, Bucket="scratch") == "AccessDenied"

    # A Deny on one bucket's ARN (through a group): that one stays, another goes.
    assert names(bob) == ["keep", "photos", "scratch"]
    assert refused(bob.delete_bucket, Bucket="keep") == "AccessDenied"
    bob.delete_bucket(Bucket="scratch")
    assert names(root) == ["keep", "photos"]
    bob.create_bucket(Bucket="bobs")                   # s3:* on buckets
    assert bob.get_bucket_location(Bucket="bobs")["LocationConstraint"] is None
    bob.delete_bucket(Bucket="bobs")

    # A condition on the source address: the server sees 127.0.0.1, outside 192.0.2.0/24.
    assert refused(client(server, keys["carol"]).list_buckets) == "AccessDenied"

    # The AWS CLI, as bob.
    aws = aws_command()
    env = command_env(AWS_ACCESS_KEY_ID=keys["bob"][0], AWS_SECRET_ACCESS_KEY=keys["bob"][1],
                      AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
                      AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")

    def aws_run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([aws, "--endpoint-url", server.endpoint, *args],
                              capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)

    listed = aws_run("s3", "ls")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[-1] for line in listed.stdout.splitlines()] == ["keep", "photos"]
    kept = aws_run("s3", "rb", "s3://keep")
    assert kept.returncode != 0 and "AccessDenied" in kept.stderr

    # Taken away again: every worker refuses within the cache time.
    cli("policy", "detach", ACCOUNT, "--group", "staff", "buckets-but-keep")
    eventually(lambda: not _lists(bob), "bob kept his rights", time.monotonic())
    assert names(root) == ["keep", "photos"]


def _lists(s3) -> bool:
    try:
        s3.list_buckets()
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "AccessDenied"
        return False
    return True
