"""``aws iam`` and ``aws sts`` against ``s3service serve`` (SQLite, one worker): boto3 and the
AWS CLI over HTTP, two accounts, IAM users with and without ``iam:*`` permissions.

The accounts and their root keys are made with the CLI; everything else with the
real clients, which parse every answer with botocore's models of IAM and STS.
"""
from __future__ import annotations

import json
import os
import re
import subprocess

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers.cliserver import Server, aws_command, command_env, run_cli

TENANT_A, TENANT_B = "tenant-a", "tenant-b"


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*") -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("iam")
    db = f"sqlite:///{tmp / 'iam.db'}"

    def cli(*args: str) -> dict:
        result = run_cli("--db", db, "--json", *args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    accounts = {name: cli("account", "create", "--name", name)["account_id"]
                for name in (TENANT_A, TENANT_B)}
    roots = {name: cli("key", "create", name) for name in (TENANT_A, TENANT_B)}
    server = Server(tmp, db, "--workers", "1")
    try:
        server.wait_ready()
        yield server, accounts, roots, cli
    finally:
        server.stop()
    log = server.err.read_text()
    assert "Traceback" not in log
    # The log line of an IAM request names its key, as any other's does.
    assert re.search(rf" POST / - 200 [0-9.]+ms - {roots[TENANT_A]['access_key']}\n", log)
    assert re.search(rf" POST / - 404 [0-9.]+ms NoSuchEntity {roots[TENANT_B]['access_key']}\n",
                     log)


def client(server, service: str, key: dict | tuple, token: str | None = None):
    access, secret = (key["access_key"], key["secret_key"]) if isinstance(key, dict) else key
    return boto3.session.Session().client(
        service, endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id=access, aws_secret_access_key=secret, aws_session_token=token,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))


def code_of(call, **kwargs) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    return (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"],
            error["Error"]["Message"])


def test_a_tenant_manages_its_own_users_keys_policies_and_groups(fleet):
    server, accounts, roots, _ = fleet
    a = accounts[TENANT_A]
    iam = client(server, "iam", roots[TENANT_A])

    user = iam.create_user(UserName="alice")["User"]
    assert user["UserName"] == "alice" and user["Arn"] == f"arn:aws:iam::{a}:user/alice"
    assert user["UserId"].startswith("AIDA") and user["CreateDate"]
    assert code_of(iam.create_user, UserName="alice")[:2] == (409, "EntityAlreadyExists")
    assert code_of(iam.create_user, UserName="no spaces")[:2] == (400, "ValidationError")
    assert iam.get_user(UserName="alice")["User"]["UserId"] == user["UserId"]
    iam.create_user(UserName="bob")
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["alice", "bob"]
    iam.update_user(UserName="bob", NewUserName="robert")
    assert code_of(iam.get_user, UserName="bob")[:2] == (404, "NoSuchEntity")

    key = iam.create_access_key(UserName="alice")["AccessKey"]
    assert key["Status"] == "Active" and len(key["SecretAccessKey"]) == 40
    iam.create_access_key(UserName="alice")
    assert code_of(iam.create_access_key, UserName="alice")[:2] == (409, "LimitExceeded")
    listed = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert len(listed) == 2 and all("SecretAccessKey" not in k for k in listed)
    spare = next(k["AccessKeyId"] for k in listed if k["AccessKeyId"] != key["AccessKeyId"])
    iam.update_access_key(UserName="alice", AccessKeyId=spare, Status="Inactive")
    iam.delete_access_key(UserName="alice", AccessKeyId=spare)
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="alice")
            ["AccessKeyMetadata"]] == [key["AccessKeyId"]]
    never = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert never["UserName"] == "alice" and "LastUsedDate" not in never["AccessKeyLastUsed"]

    # A malformed document: IAM's MalformedPolicyDocument, saying where and why.
    status, code, message = code_of(iam.create_policy, PolicyName="broken", PolicyDocument=(
        '{"Version": "2012-10-17",\n "Statement": [{"Effect": "Perhaps", "Action": "s3:*",'
        ' "Resource": "*"}]}'))
    assert (status, code) == (400, "MalformedPolicyDocument")
    assert "line 2" in message and "Effect" in message
    assert code_of(iam.create_policy, PolicyName="broken", PolicyDocument="{not json")[1] == \
        "MalformedPolicyDocument"
    assert "broken" not in [p["PolicyName"] for p in iam.list_policies()["Policies"]]

    team_admin = document(
        allow(["iam:CreateUser", "iam:GetUser", "iam:CreateAccessKey"],
              f"arn:aws:iam::{a}:user/team-*"),
        allow("iam:ListUsers"), allow("s3:ListAllMyBuckets"))
    policy = iam.create_policy(PolicyName="team-admin", PolicyDocument=team_admin)["Policy"]
    assert policy["Arn"] == f"arn:aws:iam::{a}:policy/team-admin"
    assert policy["DefaultVersionId"] == "v1" and policy["AttachmentCount"] == 0
    iam.attach_user_policy(UserName="alice", PolicyArn=policy["Arn"])
    assert iam.get_policy(PolicyArn=policy["Arn"])["Policy"]["AttachmentCount"] == 1
    assert iam.list_attached_user_policies(UserName="alice")["AttachedPolicies"] == [
        {"PolicyName": "team-admin", "PolicyArn": policy["Arn"]}]
    assert code_of(iam.delete_policy, PolicyArn=policy["Arn"])[:2] == (409, "DeleteConflict")

    # alice (iam:* on team-* only) and robert (no policy at all)
    alice = client(server, "iam", (key["AccessKeyId"], key["SecretAccessKey"]))
    assert alice.create_user(UserName="team-x")["User"]["UserName"] == "team-x"
    status, code, message = code_of(alice.create_user, UserName="outsider")
    assert (status, code) == (403, "AccessDenied")
    assert f"iam:CreateUser on resource: arn:aws:iam::{a}:user/outsider" in message
    assert code_of(alice.delete_user, UserName="team-x")[1] == "AccessDenied"
    assert "team-x" in [u["UserName"] for u in alice.list_users()["Users"]]
    robert_key = iam.create_access_key(UserName="robert")["AccessKey"]
    robert = client(server, "iam", (robert_key["AccessKeyId"], robert_key["SecretAccessKey"]))
    for call, kwargs in ((robert.list_users, {}), (robert.create_user, {"UserName": "team-y"}),
                         (robert.list_policies, {}), (robert.get_user, {})):
        assert code_of(call, **kwargs)[:2] == (403, "AccessDenied")
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert used["ServiceName"] == "iam" and used["Region"] == "us-east-1" and used["LastUsedDate"]

    # Versions: a new default, the old one kept, then the default back.
    v2 = iam.create_policy_version(PolicyArn=policy["Arn"], SetAsDefault=True,
                                   PolicyDocument=document(allow("s3:ListAllMyBuckets")))
    assert v2["PolicyVersion"]["VersionId"] == "v2" and v2["PolicyVersion"]["IsDefaultVersion"]
    assert code_of(alice.create_user, UserName="team-z")[1] == "AccessDenied"
    versions = iam.list_policy_versions(PolicyArn=policy["Arn"])["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [("v2", True),
                                                                            ("v1", False)]
    v1 = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId="v1")["PolicyVersion"]
    assert v1["Document"] == json.loads(team_admin)
    assert code_of(iam.delete_policy_version, PolicyArn=policy["Arn"],
                   VersionId="v2")[:2] == (409, "DeleteConflict")
    iam.set_default_policy_version(PolicyArn=policy["Arn"], VersionId="v1")
    iam.delete_policy_version(PolicyArn=policy["Arn"], VersionId="v2")
    assert alice.create_user(UserName="team-z")["User"]["UserName"] == "team-z"

    # Inline policies and groups.
    inline = document(allow("iam:ListGroups"))
    iam.put_user_policy(UserName="robert", PolicyName="groups", PolicyDocument=inline)
    assert iam.list_user_policies(UserName="robert")["PolicyNames"] == ["groups"]
    assert iam.get_user_policy(UserName="robert", PolicyName="groups")["PolicyDocument"] == \
        json.loads(inline)
    group = iam.create_group(GroupName="staff")["Group"]
    assert group["Arn"] == f"arn:aws:iam::{a}:group/staff"
    assert [g["GroupName"] for g in robert.list_groups()["Groups"]] == ["staff"]
    iam.add_user_to_group(GroupName="staff", UserName="robert")
    assert [u["UserName"] for u in iam.get_group(GroupName="staff")["Users"]] == ["robert"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="robert")["Groups"]] == \
        ["staff"]
    iam.attach_group_policy(GroupName="staff", PolicyArn=policy["Arn"])
    assert iam.list_attached_group_policies(GroupName="staff")["AttachedPolicies"][0][
        "PolicyName"] == "team-admin"
    assert robert.create_user(UserName="team-r")["User"]["UserName"] == "team-r"
    assert code_of(iam.delete_group, GroupName="staff")[:2] == (409, "DeleteConflict")
    iam.detach_group_policy(GroupName="staff", PolicyArn=policy["Arn"])
    iam.remove_user_from_group(GroupName="staff", UserName="robert")
    iam.delete_group(GroupName="staff")
    assert code_of(robert.create_user, UserName="team-s")[1] == "AccessDenied"
    iam.delete_user_policy(UserName="robert", PolicyName="groups")
    assert iam.list_user_policies(UserName="robert")["PolicyNames"] == []

    results = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{a}:user/alice",
        ActionNames=["iam:CreateUser", "iam:DeleteUser"],
        ResourceArns=[f"arn:aws:iam::{a}:user/team-q"])["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in results] == [
        ("iam:CreateUser", "allowed"), ("iam:DeleteUser", "implicitDeny")]
    assert results[0]["MatchedStatements"][0]["SourcePolicyId"] == "team-admin"

    # IAM's rule: a user with keys, policies or groups is not deleted.
    assert code_of(iam.delete_user, UserName="robert")[:2] == (409, "DeleteConflict")
    iam.delete_access_key(UserName="robert", AccessKeyId=robert_key["AccessKeyId"])
    iam.delete_user(UserName="robert")
    assert code_of(robert.list_users)[1] == "InvalidClientTokenId"
    iam.detach_user_policy(UserName="alice", PolicyArn=policy["Arn"])
    assert code_of(alice.list_users)[1] == "AccessDenied"


def test_another_account_never_reaches_the_first_ones(fleet):
    server, accounts, roots, cli = fleet
    a = accounts[TENANT_A]
    mine = client(server, "iam", roots[TENANT_A])
    mine.create_user(UserName="victim")
    victim_key = mine.create_access_key(UserName="victim")["AccessKey"]["AccessKeyId"]
    arn = mine.create_policy(PolicyName="victims",
                             PolicyDocument=document(allow("s3:*")))["Policy"]["Arn"]
    mine.create_group(GroupName="victims")
    before = cli("user", "list", TENANT_A), cli("policy", "list", TENANT_A), \
        cli("key", "list", TENANT_A), cli("group", "list", TENANT_A)

    other = client(server, "iam", roots[TENANT_B])
    attempts = {
        "get_user": {"UserName": "victim"}, "update_user": {"UserName": "victim",
                                                            "NewUserName": "mine"},
        "delete_user": {"UserName": "victim"}, "create_access_key": {"UserName": "victim"},
        "list_access_keys": {"UserName": "victim"},
        "update_access_key": {"UserName": "victim", "AccessKeyId": victim_key,
                              "Status": "Inactive"},
        "delete_access_key": {"UserName": "victim", "AccessKeyId": victim_key},
        "get_access_key_last_used": {"AccessKeyId": victim_key},
        "get_policy": {"PolicyArn": arn}, "delete_policy": {"PolicyArn": arn},
        "create_policy_version": {"PolicyArn": arn, "PolicyDocument": document(allow("*"))},
        "get_policy_version": {"PolicyArn": arn, "VersionId": "v1"},
        "list_policy_versions": {"PolicyArn": arn},
        "delete_policy_version": {"PolicyArn": arn, "VersionId": "v1"},
        "attach_user_policy": {"UserName": "victim", "PolicyArn": arn},
        "detach_user_policy": {"UserName": "victim", "PolicyArn": arn},
        "list_attached_user_policies": {"UserName": "victim"},
        "attach_group_policy": {"GroupName": "victims", "PolicyArn": arn},
        "detach_group_policy": {"GroupName": "victims", "PolicyArn": arn},
        "list_attached_group_policies": {"GroupName": "victims"},
        "put_user_policy": {"UserName": "victim", "PolicyName": "p",
                            "PolicyDocument": document(allow("*"))},
        "get_user_policy": {"UserName": "victim", "PolicyName": "p"},
        "list_user_policies": {"UserName": "victim"},
        "delete_user_policy": {"UserName": "victim", "PolicyName": "p"},
        "get_group": {"GroupName": "victims"}, "delete_group": {"GroupName": "victims"},
        "add_user_to_group": {"GroupName": "victims", "UserName": "victim"},
        "remove_user_from_group": {"GroupName": "victims", "UserName": "victim"},
        "list_groups_for_user": {"UserName": "victim"},
        "simulate_principal_policy": {"PolicySourceArn": f"arn:aws:iam::{a}:user/victim",
                                      "ActionNames": ["s3:GetObject"]},
    }
    for method, kwargs in attempts.items():
        code = code_of(getattr(other, method), **kwargs)[1]
        assert code in ("NoSuchEntity", "AccessDenied"), (method, code)
    for listing in (other.list_users()["Users"], other.list_policies()["Policies"],
                    other.list_groups()["Groups"], other.list_access_keys()["AccessKeyMetadata"]):
        assert not any("victim" in json.dumps(item, default=str) for item in listing)
    after = cli("user", "list", TENANT_A), cli("policy", "list", TENANT_A), \
        cli("key", "list", TENANT_A), cli("group", "list", TENANT_A)
    strip = [[{k: v for k, v in row.items() if k != "last_used"} for row in part]
             for part in before]
    assert strip == [[{k: v for k, v in row.items() if k != "last_used"} for row in part]
                     for part in after], "nothing of tenant-a changed"


def test_sts_identity_and_session_credentials(fleet):
    server, accounts, roots, _ = fleet
    a = accounts[TENANT_A]
    sts = client(server, "sts", roots[TENANT_A])
    me = sts.get_caller_identity()
    assert (me["Account"], me["Arn"]) == (a, f"arn:aws:iam::{a}:root")
    iam = client(server, "iam", roots[TENANT_A])
    iam.create_user(UserName="sts-user")
    key = iam.create_access_key(UserName="sts-user")["AccessKey"]
    user_sts = client(server, "sts", (key["AccessKeyId"], key["SecretAccessKey"]))
    assert user_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{a}:user/sts-user"

    assert code_of(sts.get_session_token, DurationSeconds=7200)[1] == "ValidationError"  # root: 1 h
    credentials = sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and credentials["Expiration"]
    session = (credentials["AccessKeyId"], credentials["SecretAccessKey"])
    token = credentials["SessionToken"]
    s3 = client(server, "s3", session, token)
    s3.create_bucket(Bucket="made-with-a-session")          # the gateway accepts them
    assert "made-with-a-session" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert client(server, "sts", session, token).get_caller_identity()["Account"] == a
    assert code_of(client(server, "iam", session, token).list_users)[1] == "AccessDenied"
    assert code_of(client(server, "s3", session, "not-the-token").list_buckets)[1] == \
        "InvalidToken"
    assert code_of(client(server, "s3", session).list_buckets)[1] == "InvalidToken"
    assert credentials["AccessKeyId"] not in [
        k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]]


def test_the_aws_cli(fleet, tmp_path):
    server, accounts, roots, _ = fleet
    a = accounts[TENANT_A]
    env = command_env(AWS_ACCESS_KEY_ID=roots[TENANT_A]["access_key"],
                      AWS_SECRET_ACCESS_KEY=roots[TENANT_A]["secret_key"],
                      AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
                      AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")

    def aws(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([aws_command(), "--endpoint-url", server.endpoint, "--output",
                               "json", *args], capture_output=True, text=True, env=env,
                              timeout=60)

    made = aws("iam", "create-user", "--user-name", "cli-user")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["User"]["Arn"] == f"arn:aws:iam::{a}:user/cli-user"
    listed = aws("iam", "list-users")
    assert "cli-user" in [u["UserName"] for u in json.loads(listed.stdout)["Users"]]
    me = aws("sts", "get-caller-identity")
    assert json.loads(me.stdout)["Account"] == a, me.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}')
    refused = aws("iam", "create-policy", "--policy-name", "bad", "--policy-document",
                  f"file://{bad}")
    assert refused.returncode != 0 and "MalformedPolicyDocument" in refused.stderr
    gone = aws("iam", "get-user", "--user-name", "nobody")
    assert gone.returncode != 0 and "NoSuchEntity" in gone.stderr
