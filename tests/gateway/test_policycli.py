"""``s3service policy`` and ``s3service group``: storing, attaching, listing, simulating.

Run in this process (``cliserver.run_cli``) on a real SQLite file.
"""
from __future__ import annotations

import json

import pytest

from tests.helpers.cliserver import run_cli

ACCOUNT = "acct-1"
DOCUMENT = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "List", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
    {"Sid": "Buckets", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::*"},
    {"Sid": "KeepPhotos", "Effect": "Deny", "Action": "s3:DeleteBucket",
     "Resource": "arn:aws:s3:::photos"},
    {"Sid": "Office", "Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24"]}}}
  ]
}
"""


@pytest.fixture
def cli(tmp_path):
    db = f"sqlite:///{tmp_path / 'policies.db'}"

    def run(*args: str, stdin: str | None = None):
        if stdin is not None:
            import io
            import sys
            from unittest import mock
            with mock.patch.object(sys, "stdin", io.StringIO(stdin)):
                return run_cli("--db", db, *args, cwd=tmp_path)
        return run_cli("--db", db, *args, cwd=tmp_path)

    assert run("account", "create", ACCOUNT, "--name", "One").returncode == 0
    for user in ("alice", "bob"):
        assert run("user", "create", ACCOUNT, user).returncode == 0
    return run


def ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def error(result, code: int, *fragments: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("s3service: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_create_attach_list_detach(cli, tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(DOCUMENT)
    assert "created policy office (4 statements)" in ok(cli("policy", "create", ACCOUNT,
                                                            "office", str(path)))
    created = json.loads(ok(cli("policy", "create", ACCOUNT, "list-only", "-", "--json",
                                stdin='{"Version": "2012-10-17", "Statement": {"Effect": "Allow",'
                                      ' "Action": "s3:ListAllMyBuckets", "Resource": "*"}}')))
    assert created == {"account_id": ACCOUNT, "policy": "list-only", "statements": 1}
    ok(cli("group", "create", ACCOUNT, "staff"))
    ok(cli("group", "add-user", ACCOUNT, "staff", "alice"))
    ok(cli("group", "add-user", ACCOUNT, "staff", "bob"))
    assert "attached policy office to group staff" in ok(
        cli("policy", "attach", ACCOUNT, "--group", "staff", "office"))
    ok(cli("policy", "attach", ACCOUNT, "--user", "bob", "list-only"))
    listed = json.loads(ok(cli("policy", "list", ACCOUNT, "--json")))
    assert listed == [{"policy": "list-only", "kind": "managed", "attached": ["user:bob"]},
                      {"policy": "office", "kind": "managed", "attached": ["group:staff"]}]
    text = ok(cli("policy", "list", ACCOUNT))
    assert text.splitlines()[0].split() == ["POLICY", "KIND", "ATTACHED", "TO"]
    assert json.loads(ok(cli("group", "list", ACCOUNT, "--json"))) == [
        {"group": "staff", "users": ["alice", "bob"]}]
    assert "detached policy office from group staff" in ok(
        cli("policy", "detach", ACCOUNT, "--group", "staff", "office"))
    error(cli("policy", "detach", ACCOUNT, "--group", "staff", "office"), 1,
          "policy 'office' is not attached to group 'staff'")


def test_simulate_says_what_decided(cli, tmp_path):
    (tmp_path / "p.json").write_text(DOCUMENT)
    ok(cli("policy", "create", ACCOUNT, "office", str(tmp_path / "p.json")))
    inside = ("--context", "aws:SourceIp=10.1.2.3")

    def simulate(user, action, resource, *extra):
        return json.loads(ok(cli("policy", "simulate", ACCOUNT, user, action, resource,
                                 *extra, "--json")))

    assert simulate("alice", "s3:ListAllMyBuckets", "arn:aws:s3:::*", *inside)["decision"] \
        == "implicit deny"                                   # nothing attached yet
    ok(cli("policy", "attach", ACCOUNT, "--user", "alice", "office"))
    allowed = simulate("alice", "s3:ListAllMyBuckets", "arn:aws:s3:::*", *inside)
    assert allowed == {"decision": "allowed", "policy": "office", "sid": "List", "statement": 1,
                       "line": 4, "explanation": 'allowed by Sid "List" (line 4) of policy office'}
    denied = simulate("alice", "s3:DeleteBucket", "arn:aws:s3:::photos", *inside)
    assert (denied["decision"], denied["sid"], denied["line"]) == ("explicit deny", "KeepPhotos", 6)
    other = simulate("alice", "s3:DeleteBucket", "arn:aws:s3:::scratch", *inside)
    assert (other["decision"], other["sid"]) == ("allowed", "Buckets")
    outside = simulate("alice", "s3:ListAllMyBuckets", "arn:aws:s3:::*",
                       "--context", "aws:SourceIp=203.0.113.5")
    assert (outside["decision"], outside["sid"]) == ("explicit deny", "Office")
    several = simulate("alice", "s3:ListAllMyBuckets", "arn:aws:s3:::*",
                       "--context", "aws:SecureTransport=true", "aws:SourceIp=192.0.2.9")
    assert (several["decision"], several["sid"]) == ("allowed", "List")
    no_address = simulate("alice", "s3:ListAllMyBuckets", "arn:aws:s3:::*")
    assert no_address["decision"] == "explicit deny"          # NotIpAddress: no key passes
    text = ok(cli("policy", "simulate", ACCOUNT, "alice", "s3:CreateBucket",
                  "arn:aws:s3:::x", *inside))
    assert text.strip() == 'allowed by Sid "Buckets" (line 5) of policy office'
    assert ok(cli("policy", "simulate", ACCOUNT, "bob", "s3:CreateBucket", "arn:aws:s3:::x")
              ).strip() == "implicit deny: no statement allows it"


def test_malformed_documents_are_refused_with_line_and_reason(cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"Version": "2012-10-17",\n "Statement": [\n  {"Effect": "Allow",\n'
                   '   "Action": "s3:*"}\n ]}\n')
    error(cli("policy", "create", ACCOUNT, "bad", str(bad)), 2, str(bad),
          "line 3: a statement needs Resource or NotResource")
    bad.write_text('{"Version": "2012-10-17",\n "Statement": [,]}')
    error(cli("policy", "create", ACCOUNT, "bad", str(bad)), 2, "line 2: not valid JSON")
    error(cli("policy", "create", ACCOUNT, "bad", "-", stdin="{}"), 2, "standard input",
          'line 1: missing "Version"')
    error(cli("policy", "create", ACCOUNT, "bad", str(tmp_path / "missing.json")), 2,
          "cannot read", "No such file")
    assert json.loads(ok(cli("policy", "list", ACCOUNT, "--json"))) == []   # nothing stored


def test_unknown_names_and_bad_arguments(cli, tmp_path):
    (tmp_path / "p.json").write_text(DOCUMENT)
    error(cli("policy", "create", "nobody", "p", str(tmp_path / "p.json")), 1,
          "unknown account 'nobody'")
    error(cli("policy", "create", ACCOUNT, "bad name", str(tmp_path / "p.json")), 2,
          "invalid policy name")
    ok(cli("policy", "create", ACCOUNT, "p", str(tmp_path / "p.json")))
    error(cli("policy", "attach", ACCOUNT, "--user", "carol", "p"), 1, "unknown user 'carol'")
    error(cli("policy", "attach", ACCOUNT, "--group", "staff", "p"), 1, "unknown group 'staff'")
    error(cli("policy", "attach", ACCOUNT, "--user", "alice", "q"), 1, "unknown policy 'q'")
    error(cli("group", "add-user", ACCOUNT, "staff", "alice"), 1, "unknown group 'staff'")
    ok(cli("group", "create", ACCOUNT, "staff"))
    error(cli("group", "add-user", ACCOUNT, "staff", "carol"), 1, "unknown user 'carol'")
    error(cli("policy", "simulate", ACCOUNT, "carol", "s3:ListBucket", "arn:aws:s3:::x"), 1,
          "unknown user 'carol'")
    usage = cli("policy", "attach", ACCOUNT, "p")               # neither --user nor --group
    assert usage.returncode == 2 and "--user" in usage.stderr
    usage = cli("policy", "simulate", ACCOUNT, "alice", "s3:x", "*", "--context", "novalue")
    assert usage.returncode == 2 and "KEY=VALUE" in usage.stderr


def test_conditions_on_keys_no_request_has_are_refused_with_their_line(cli, tmp_path):
    """A Deny on a key never set would never apply: refused when created (fail closed)."""
    document = tmp_path / "region.json"
    document.write_text('{"Version": "2012-10-17",\n "Statement": [\n'
                        '  {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},\n'
                        '  {"Effect": "Deny", "Action": "s3:*", "Resource": "*",\n'
                        '   "Condition": {\n'
                        '    "StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}}\n ]}\n')
    error(cli("policy", "create", ACCOUNT, "region", str(document)), 2, str(document),
          "line 6: unknown condition key in StringNotEquals: 'aws:requestedregion'")
    document.write_text('{"Version": "2012-10-17", "Statement": {"Effect": "Allow",\n'
                        ' "Action": "s3:*", "Resource": "arn:aws:s3:::${aws:nickname}"}}')
    error(cli("policy", "create", ACCOUNT, "region", str(document)), 2,
          "line 1: unknown policy variable: 'aws:nickname'")
    assert json.loads(ok(cli("policy", "list", ACCOUNT, "--json"))) == []   # nothing stored

    # s3service's own keys, S3's that a gateway may give, and the gateway's own with --key
    document.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {
            "StringLike": {"aws:UserAgent": "curl/*", "aws:Referer": "*",
                           "s3:x-amz-acl": "public-*", "s3:ExistingObjectTag/team": "*"},
            "Bool": {"aws:SecureTransport": "false"}}}]}))
    ok(cli("policy", "create", ACCOUNT, "ok", str(document)))
    document.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Action": "s3:*", "Resource": "*",
        "Condition": {"StringEquals": {"gw:Tier": "cold"}}}]}))
    error(cli("policy", "create", ACCOUNT, "own", str(document)), 2, "'gw:tier'")
    ok(cli("policy", "create", ACCOUNT, "own", str(document), "--key", "gw:Tier"))


def test_policies_are_bounded_as_iam_bounds_them(cli, tmp_path):
    big = tmp_path / "big.json"
    resources = [f"arn:aws:s3:::bucket-{n:05}" for n in range(300)]   # ~6,800 characters
    big.write_text(json.dumps({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Action": "s3:*", "Resource": resources}}, indent=4))
    error(cli("policy", "create", ACCOUNT, "big", str(big)), 1, "LimitExceeded",
          "a managed policy may have 6144")
    small = tmp_path / "small.json"
    small.write_text(DOCUMENT)
    for n in range(11):
        ok(cli("policy", "create", ACCOUNT, f"p{n}", str(small)))
    for n in range(10):
        ok(cli("policy", "attach", ACCOUNT, "--user", "alice", f"p{n}"))
    ok(cli("policy", "attach", ACCOUNT, "--user", "alice", "p9"))          # already attached
    error(cli("policy", "attach", ACCOUNT, "--user", "alice", "p10"), 1, "LimitExceeded",
          "user 'alice' has 10 managed policies attached")
    ok(cli("group", "create", ACCOUNT, "g"))
    for n in range(10):
        ok(cli("policy", "attach", ACCOUNT, "--group", "g", f"p{n}"))
    error(cli("policy", "attach", ACCOUNT, "--group", "g", "p10"), 1, "LimitExceeded")
    ok(cli("policy", "attach", ACCOUNT, "--user", "bob", "p10"))
