"""The lifecycle commands, in this process on a temporary SQLite store: accounts by name,
users disabled and deleted, keys deleted, policy versions, inline policies, groups taken
apart -- each with ``--json`` and the documented exit statuses (1 failed, 2 bad arguments)."""
from __future__ import annotations

import json

import pytest

from s3service.backends.sql import SQLBackend
from tests.helpers.cliserver import run_cli

POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
WIDER = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


@pytest.fixture
def cli(tmp_path):
    db = f"sqlite:///{tmp_path / 'life.db'}"

    def run(*args: str):
        return run_cli("--db", db, *args, cwd=tmp_path)

    run.db = db
    return run


def ok(result, *, as_json: bool = True):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if as_json else result.stdout


def failed(result, status: int, *fragments: str) -> str:
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    line, = result.stderr.splitlines()
    assert line.startswith("s3service: error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in line, line
    return line


def test_accounts_are_named_by_a_unique_name_or_their_id(cli):
    made = ok(cli("account", "create", "--name", "tenant-a", "--json"))
    account = made["account_id"]
    assert ok(cli("user", "create", "tenant-a", "alice", "--json")) == \
        {"account_id": account, "user": "alice"}
    assert [u["user"] for u in ok(cli("user", "list", account, "--json"))] == ["alice"]
    failed(cli("account", "create", "--name", "tenant-a"), 1, "taken")
    other = ok(cli("account", "create", "--name", "tenant-b", "--json"))["account_id"]
    failed(cli("account", "rename", other, "tenant-a"), 1, "taken")
    assert ok(cli("account", "rename", "tenant-b", "tenant-c", "--json")) == \
        {"account_id": other, "display_name": "tenant-c"}
    assert ok(cli("user", "list", "tenant-c", "--json")) == []
    failed(cli("user", "list", "tenant-b"), 1, "unknown account 'tenant-b'")


def test_account_delete_is_refused_while_it_owns_buckets(cli):
    account = ok(cli("account", "create", "--name", "gone", "--json"))["account_id"]
    key = ok(cli("key", "create", "gone", "--json"))
    ok(cli("bucket", "create", "gone", "gone-bucket", "--json"))
    failed(cli("account", "delete", "gone"), 1, "owns buckets", "gone-bucket", "--force")
    assert ok(cli("account", "delete", "gone", "--force", "--json")) == \
        {"account_id": account, "deleted": True}
    assert ok(cli("account", "list", "--json")) == []
    assert ok(cli("bucket", "list", "--json")) == []
    assert SQLBackend(cli.db).get_credential(key["access_key"]) is None
    failed(cli("account", "delete", "gone"), 1, "unknown account")


def test_users_are_disabled_enabled_and_deleted(cli):
    account = ok(cli("account", "create", "--name", "acct", "--json"))["account_id"]
    ok(cli("user", "create", "acct", "bob", "--json"))
    key = ok(cli("key", "create", "acct", "--user", "bob", "--json"))
    store = SQLBackend(cli.db, credential_cache_seconds=0)
    assert store.get_credential(key["access_key"]).active

    disabled = ok(cli("user", "disable", "acct", "bob", "--json"))
    assert disabled["active"] is False and disabled["created"]
    assert not store.get_credential(key["access_key"]).active
    listed = ok(cli("user", "list", "acct"), as_json=False)
    assert "bob" in listed and "disabled" in listed
    assert ok(cli("user", "enable", "acct", "bob", "--json"))["active"] is True
    assert store.get_credential(key["access_key"]).active

    ok(cli("group", "create", "acct", "staff", "--json"))
    ok(cli("group", "add-user", "acct", "staff", "bob", "--json"))
    assert ok(cli("user", "delete", "acct", "bob", "--json")) == \
        {"account_id": account, "user": "bob", "deleted": True}
    assert store.get_credential(key["access_key"]) is None
    assert ok(cli("group", "list", "acct", "--json")) == [{"group": "staff", "users": []}]
    failed(cli("user", "delete", "acct", "bob"), 1, "unknown user 'bob'")
    failed(cli("user", "disable", "acct", "bad name"), 1, "unknown user")


def test_keys_are_deleted_and_show_when_they_were_made_and_used(cli):
    ok(cli("account", "create", "--name", "acct", "--json"))
    key = ok(cli("key", "create", "acct", "--json"))
    listed = ok(cli("key", "list", "acct", "--json"))
    assert listed[0]["created"] and listed[0]["last_used"] is None
    SQLBackend(cli.db).note_key_used(key["access_key"], "s3", "us-east-1")
    assert ok(cli("key", "list", "acct", "--json"))[0]["last_used"]
    text = ok(cli("key", "list", "acct"), as_json=False)
    assert "CREATED" in text and "LAST USED" in text
    assert ok(cli("key", "delete", key["access_key"], "--json"))["deleted"] is True
    assert ok(cli("key", "list", "acct", "--json")) == []
    failed(cli("key", "delete", key["access_key"]), 1, "unknown access key")


def test_policy_versions_inline_policies_and_groups(cli, tmp_path):
    ok(cli("account", "create", "--name", "acct", "--json"))
    ok(cli("user", "create", "acct", "carol", "--json"))
    (tmp_path / "p.json").write_text(POLICY)
    (tmp_path / "wider.json").write_text(WIDER)
    (tmp_path / "bad.json").write_text('{"Version": "2012-10-17", "Statement": []}')
    ok(cli("policy", "create", "acct", "list", str(tmp_path / "p.json"), "--json"))
    update = ok(cli("policy", "update", "acct", "list", str(tmp_path / "wider.json"), "--json"))
    assert update["version"] == "v2" and update["default"] is True
    versions = ok(cli("policy", "versions", "acct", "list", "--json"))
    assert [(v["version"], v["default"]) for v in versions] == [("v2", True), ("v1", False)]
    assert json.loads(versions[1]["document"]) == json.loads(POLICY)
    failed(cli("policy", "update", "acct", "list", str(tmp_path / "bad.json")), 2,
           "malformed policy")
    failed(cli("policy", "update", "acct", "nope", str(tmp_path / "p.json")), 1,
           "unknown policy 'nope'")

    ok(cli("group", "create", "acct", "staff", "--json"))
    ok(cli("group", "add-user", "acct", "staff", "carol", "--json"))
    ok(cli("policy", "attach", "acct", "--group", "staff", "list", "--json"))
    failed(cli("policy", "delete", "acct", "list"), 1, "DeleteConflict", "detach it first")
    assert ok(cli("group", "detach", "acct", "staff", "list", "--json"))["kind"] == "group"
    failed(cli("group", "detach", "acct", "staff", "list"), 1, "not attached")
    assert ok(cli("group", "remove-user", "acct", "staff", "carol", "--json"))["user"] == "carol"
    assert ok(cli("group", "list", "acct", "--json")) == [{"group": "staff", "users": []}]
    assert ok(cli("group", "delete", "acct", "staff", "--json"))["deleted"] is True
    assert ok(cli("group", "list", "acct", "--json")) == []
    assert ok(cli("policy", "delete", "acct", "list", "--json"))["deleted"] is True
    failed(cli("policy", "versions", "acct", "list"), 1, "unknown policy")

    ok(cli("policy", "put-inline", "acct", "carol", "mine", str(tmp_path / "p.json"), "--json"))
    got = ok(cli("policy", "get-inline", "acct", "carol", "mine", "--json"))
    assert json.loads(got["document"]) == json.loads(POLICY)
    assert json.loads(ok(cli("policy", "get-inline", "acct", "carol", "mine"),
                         as_json=False)) == json.loads(POLICY)
    failed(cli("policy", "put-inline", "acct", "carol", "x", str(tmp_path / "bad.json")), 2)
    assert ok(cli("policy", "delete-inline", "acct", "carol", "mine", "--json"))["deleted"]
    failed(cli("policy", "get-inline", "acct", "carol", "mine"), 1, "no inline policy")
