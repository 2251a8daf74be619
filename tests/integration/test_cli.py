"""The ``s3service`` command on a temporary SQLite store.

Commands run in this process (``cliserver.run_cli``: ``main(argv)`` with its
output, exit status and environment as a subprocess would have them); one test
runs the installed console script and ``python -m s3service`` for real, and
``serve`` answers the AWS CLI from a real server.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cliserver import aws_command, command_env, free_port, run_cli
from tests.helpers.cliserver import start_server  # noqa: F401 (a fixture)

TIMEOUT = 60
UNREACHABLE_PG = "postgresql+psycopg://u:SECRETPW@127.0.0.1:1/x"


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def cli(db, tmp_path):
    """``cli(*args)``: run ``s3service --db DB args`` (in this process); a CompletedProcess."""
    def run(*args: str, db_url: str | None = db):
        argv = [] if db_url is None else ["--db", db_url]
        return run_cli(*argv, *args, cwd=tmp_path)
    return run


def ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def as_json(result):
    return json.loads(ok(result))


def assert_error(result, code: int, *fragments: str) -> str:
    """The command failed with ``code`` and one line ``s3service: error: ...`` on stderr."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("s3service: error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


# -- accounts, users, keys, buckets ------------------------------------------------------

def test_accounts(cli):
    generated = as_json(cli("account", "create", "--name", "Alice", "--json"))
    assert re.fullmatch(r"[0-9a-f]{64}", generated["account_id"])
    assert generated["display_name"] == "Alice"
    assert as_json(cli("--json", "account", "create", "bob-id", "--name", "Bob")) == \
        {"account_id": "bob-id", "display_name": "Bob"}
    assert "created account" in ok(cli("account", "create", "carol-id"))

    accounts = as_json(cli("account", "list", "--json"))
    assert {(a["account_id"], a["display_name"]) for a in accounts} == {
        (generated["account_id"], "Alice"), ("bob-id", "Bob"), ("carol-id", "")}
    text = ok(cli("account", "list"))
    assert "bob-id" in text and "Alice" in text

    assert_error(cli("account", "create", "bob-id"), 1, "already exists")
    assert_error(cli("account", "create", "has space"), 2, "invalid account ID")


def test_a_display_name_cannot_drive_the_operators_terminal(cli):
    hostile = "Eve\x1b]0;pwned\x07\x1b[2J\nroot-id  Admin"
    ok(cli("account", "create", "eve-id", "--name", hostile))
    text = ok(cli("account", "list"))
    assert "\x1b" not in text and "\x07" not in text
    assert text.splitlines()[1:] == ["eve-id   Eve\\x1b]0;pwned\\x07\\x1b[2J\\nroot-id  Admin"]
    assert as_json(cli("account", "list", "--json"))[0]["display_name"] == hostile

def test_users_and_keys(cli):
    ok(cli("account", "create", "acct"))
    assert as_json(cli("user", "create", "acct", "carol", "--json")) == \
        {"account_id": "acct", "user": "carol"}
    assert [u["user"] for u in as_json(cli("user", "list", "acct", "--json"))] == ["carol"]
    assert_error(cli("user", "create", "acct", "carol"), 1, "already exists")
    assert_error(cli("user", "create", "nobody", "dave"), 1, "unknown account 'nobody'")

    root = as_json(cli("key", "create", "acct", "--json"))
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", root["access_key"])
    assert len(root["secret_key"]) == 40 and root["user"] is None
    text = cli("key", "create", "acct", "--user", "carol")
    user_key = re.search(r"access key: (AKIA[A-Z0-9]{16})", ok(text)).group(1)
    user_secret = re.search(r"secret key: (\S{40})", text.stdout).group(1)
    assert "only" in text.stderr                        # the secret is shown once

    keys = cli("key", "list", "acct", "--json")
    assert root["secret_key"] not in keys.stdout and user_secret not in keys.stdout
    assert {(k["access_key"], k["user"], k["active"]) for k in as_json(keys)} == {
        (root["access_key"], None, True), (user_key, "carol", True)}

    assert as_json(cli("key", "disable", user_key, "--json")) == \
        {"access_key": user_key, "active": False}
    listed = ok(cli("key", "list", "acct"))
    assert re.search(rf"{user_key}\s+carol\s+disabled", listed)
    ok(cli("key", "enable", user_key))
    assert all(k["active"] for k in as_json(cli("key", "list", "acct", "--json")))

    assert_error(cli("key", "disable", "AKIANOSUCHKEY0000000"), 1, "unknown access key")
    assert_error(cli("key", "create", "acct", "--user", "nobody"), 1, "unknown user 'nobody'")
    assert_error(cli("key", "create", "nobody"), 1, "unknown account 'nobody'")
    assert_error(cli("key", "list", "nobody"), 1, "unknown account 'nobody'")


def test_buckets(cli):
    ok(cli("account", "create", "alice"))
    ok(cli("account", "create", "bob"))
    created = as_json(cli("bucket", "create", "alice", "photos", "--json"))
    assert created["name"] == "photos" and created["owner"] == "alice"
    assert created["region"] == "us-east-1"
    ok(cli("bucket", "create", "alice", "eu-photos", "--region", "eu-west-1"))
    ok(cli("bucket", "create", "bob", "bobs-bucket"))

    alice = as_json(cli("bucket", "list", "alice", "--json"))
    assert [(b["name"], b["region"]) for b in alice] == [("eu-photos", "eu-west-1"),
                                                         ("photos", "us-east-1")]
    everyone = as_json(cli("bucket", "list", "--json"))
    assert [(b["name"], b["owner"]) for b in everyone] == [
        ("bobs-bucket", "bob"), ("eu-photos", "alice"), ("photos", "alice")]
    assert "bobs-bucket" in ok(cli("bucket", "list"))

    assert_error(cli("bucket", "create", "alice", "photos"), 1, "already exists", "by you")
    assert_error(cli("bucket", "create", "bob", "photos"), 1, "already exists",
                 "another account")
    assert_error(cli("bucket", "create", "alice", "Bad_Name"), 2, "invalid bucket name",
                 "'Bad_Name'")
    assert_error(cli("bucket", "create", "alice", "192.168.1.1"), 2, "IP address")
    assert_error(cli("bucket", "create", "nobody", "free-name"), 1, "unknown account 'nobody'")
    assert_error(cli("bucket", "list", "nobody"), 1, "unknown account")

    assert as_json(cli("bucket", "delete", "photos", "--json")) == \
        {"name": "photos", "deleted": True}
    assert_error(cli("bucket", "delete", "photos"), 1, "no such bucket 'photos'")
    assert [b["name"] for b in as_json(cli("bucket", "list", "alice", "--json"))] == \
        ["eu-photos"]


def test_db_from_environment(tmp_path):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    ok(run_cli("account", "create", "x1", env={"S3SERVICE_DB": url}, cwd=tmp_path))
    assert (tmp_path / "env.db").exists()


@pytest.mark.parametrize("args", [["account", "list"], ["bucket", "create", "a", "bucket"],
                                  ["serve", "--demo"]])
def test_unreachable_database(cli, args):
    if args[0] == "serve":                  # fails before it listens
        args = args + ["--port", str(free_port())]
    result = cli(*args, db_url=UNREACHABLE_PG)
    line = assert_error(result, 3, "unavailable")
    assert "SECRETPW" not in result.stdout + result.stderr
    assert "u:***@127.0.0.1:1" in line


def test_bad_database_url(cli):
    result = cli("account", "list", db_url="nosuchdialect://u:SECRETPW@h/x")
    assert_error(result, 2, "invalid database URL")
    assert "SECRETPW" not in result.stdout + result.stderr


@pytest.mark.parametrize("url, status", [
    ("postgresql+nosuchdriver://u@127.0.0.1:1/db?password=SECRETPW", 2),
    ("postgresql+psycopg://u@127.0.0.1:1/db?password=SECRETPW&connect_timeout=abc", 1),
    ("postgresql+psycopg://u@127.0.0.1:1/db?sslpassword=SECRETPW&connect_timeout=1", 3),
])
def test_a_password_given_as_a_parameter_is_never_shown(cli, url, status):
    result = cli("account", "list", db_url=url)
    line = assert_error(result, status, "")
    assert "SECRETPW" not in result.stdout + result.stderr
    assert "password=***" in line


def test_usage_errors(cli):
    assert cli().returncode == 2                               # no command
    assert cli("bucket").returncode == 2                       # no action
    assert cli("serve", "--port", "http").returncode == 2
    for option in ("--backend-timeout", "--send-timeout"):
        for seconds in ("0", "-1", "nan", "inf", "soon"):
            refused = cli("serve", option, seconds)
            assert refused.returncode == 2 and "positive number of seconds" in refused.stderr
    result = cli("account", "list", db_url="memory")
    assert_error(result, 2, "need a database")
    assert_error(cli("serve", "--region", "Not A Region"), 2, "invalid region")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert_error(cli("serve", "--port", port), 1, "cannot listen on", port)
    assert ok(cli("--help")).startswith("usage: s3service")


# -- the installed command -------------------------------------------------------------

def installed_command() -> str:
    beside = Path(sys.executable).with_name("s3service")
    found = str(beside) if beside.exists() else shutil.which("s3service")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the s3service console script is not installed")
        pytest.skip("the s3service console script is not installed (pip install -e .)")
    return found


def test_console_script_and_python_m(db, tmp_path):
    """The one subprocess run of admin commands: both ways in exit with main()'s status."""
    def run(*argv: str, **env: str):
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT,
                              cwd=tmp_path, env=command_env(**env))

    script, python_m = [installed_command()], [sys.executable, "-m", "s3service"]
    assert as_json(run(*script, "--db", db, "account", "create", "smoke", "--json")) == \
        {"account_id": "smoke", "display_name": ""}
    listed = as_json(run(*python_m, "account", "list", "--json", S3SERVICE_DB=db))
    assert [a["account_id"] for a in listed] == ["smoke"]
    assert_error(run(*script, "--db", db, "account", "create", "smoke"), 1, "already exists")
    assert_error(run(*python_m, "--db", db, "bucket", "create", "smoke", "Bad_Name"), 2,
                 "invalid bucket name")
    assert run(*script).returncode == 2                          # argparse: no command


# -- serve ----------------------------------------------------------------------------

def test_serve_demo_with_the_aws_cli(cli, db, start_server, tmp_path):
    aws = aws_command()
    server = start_server(db, "--demo")
    printed = server.wait_ready()
    assert f"aws --endpoint-url {server.endpoint} s3 ls" in printed
    assert "pip install awscli" in printed and "Ctrl-C" in printed
    assert f"database:   {db} ({tmp_path / 'cli.db'})" in printed
    # The line for those without the AWS CLI works with nothing but Python.
    fetch = re.search(r'^  (python3 -c "import urllib.*")$', printed, re.M).group(1)
    listed = subprocess.run(fetch.replace("python3", sys.executable, 1), shell=True,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert "<Name>demo-bucket</Name>" in listed.stdout, listed.stderr
    exports = dict(re.findall(r"export (AWS_[A-Z_]+)=(\S+)", printed))
    assert set(exports) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}
    account_id = re.search(r"account:\s+([0-9a-f]{64})", printed).group(1)

    env = command_env(**exports, AWS_CONFIG_FILE=os.devnull,
                      AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")

    def aws_run(*args: str, check: bool = True):
        result = subprocess.run([aws, "--endpoint-url", server.endpoint, *args],
                                capture_output=True, text=True, timeout=TIMEOUT, env=env,
                                cwd=tmp_path)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def bucket_names() -> list[str]:
        return [line.split()[-1] for line in aws_run("s3", "ls").stdout.splitlines()]

    assert bucket_names() == ["demo-bucket", "demo-photos"]
    assert "make_bucket: newbucket" in aws_run("s3", "mb", "s3://newbucket").stdout
    head = json.loads(aws_run("s3api", "head-bucket", "--bucket", "newbucket").stdout)
    assert head["BucketRegion"] == "us-east-1"
    location = json.loads(aws_run("s3api", "get-bucket-location", "--bucket", "newbucket").stdout)
    assert location["LocationConstraint"] is None                  # us-east-1
    listing = json.loads(aws_run("s3api", "list-objects-v2", "--bucket", "newbucket").stdout)
    assert "Contents" not in listing
    assert "newbucket" in bucket_names()
    again = aws_run("s3", "mb", "s3://demo-bucket")      # yours already: us-east-1 says 200
    assert "make_bucket: demo-bucket" in again.stdout
    assert "remove_bucket: newbucket" in aws_run("s3", "rb", "s3://newbucket").stdout
    gone = aws_run("s3api", "head-bucket", "--bucket", "newbucket", check=False)
    assert gone.returncode != 0 and "404" in gone.stderr

    ok(cli("bucket", "create", account_id, "from-the-cli"))          # same database
    assert bucket_names() == ["demo-bucket", "demo-photos", "from-the-cli"]

    # --demo again on the same database: nothing new, the same key.
    server.stop()
    again = start_server(db, "--demo", "--json")
    demo = json.loads(again.wait_ready().splitlines()[0])
    assert demo["access_key"] == exports["AWS_ACCESS_KEY_ID"]
    assert demo["secret_key"] == exports["AWS_SECRET_ACCESS_KEY"]
    assert demo["endpoint"] == again.endpoint
    assert demo["buckets"] == ["demo-bucket", "demo-photos"]
    assert len(as_json(cli("key", "list", account_id, "--json"))) == 1

