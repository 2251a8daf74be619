"""Other real clients: the AWS CLI, s3cmd (SigV4 and SigV2) and the MinIO SDK."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from . import seed

BIN = Path(sys.executable).parent
TIMEOUT = 60


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed next to {sys.executable}")
    return str(path)


def _clean_env(tmp: Path) -> dict:
    """An environment without the caller's AWS settings or proxies, in UTC."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k.lower() not in (
               "http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    empty = tmp / "empty-aws-config"
    empty.write_text("")
    env.update({"AWS_CONFIG_FILE": str(empty), "AWS_SHARED_CREDENTIALS_FILE": str(empty),
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": seed.REGION,
                "AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "1",
                "TZ": "UTC", "HOME": str(tmp), "NO_PROXY": "127.0.0.1"})
    return env


def _run(cmd: list[str], env: dict) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{cmd[0]} timed out after {TIMEOUT} s: {exc.stderr!r}")
    return proc


# -- AWS CLI ------------------------------------------------------------------------------

def _aws(server, tmp_path, access_key, secret_key, *args, token=None):
    env = _clean_env(tmp_path)
    env["AWS_ACCESS_KEY_ID"] = access_key
    env["AWS_SECRET_ACCESS_KEY"] = secret_key
    if token:
        env["AWS_SESSION_TOKEN"] = token
    return _run([_tool("aws"), "--endpoint-url", server.url, *args], env)


def _ls_lines(names):
    return [f"{seed.created_utc(n):%Y-%m-%d %H:%M:%S} {n}" for n in names]


def test_aws_s3_ls(server, tmp_path):
    proc = _aws(server, tmp_path, seed.ROOT_KEY, seed.ROOT_SECRET, "s3", "ls")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == _ls_lines(seed.NAMES_A)


def test_aws_s3_ls_other_account(server, tmp_path):
    proc = _aws(server, tmp_path, seed.B_KEY, seed.B_SECRET, "s3", "ls")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == _ls_lines(seed.NAMES_B)


def test_aws_s3_ls_paged_with_prefix(server, tmp_path):
    proc = _aws(server, tmp_path, seed.USER_KEY, seed.USER_SECRET, "s3", "ls", "--page-size", "1",
                "--bucket-name-prefix", "zeta")
    if proc.returncode == 2 and "bucket-name-prefix" in proc.stderr:
        pytest.skip("this AWS CLI has no --bucket-name-prefix")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == _ls_lines(["zeta-1", "zeta-2"])


def test_aws_s3_ls_session_credentials(server, tmp_path):
    proc = _aws(server, tmp_path, seed.SESSION_KEY, seed.SESSION_SECRET, "s3", "ls",
                token=seed.SESSION_TOKEN)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == _ls_lines(seed.NAMES_A)


def test_aws_s3api_list_buckets_json(server, tmp_path):
    proc = _aws(server, tmp_path, seed.ROOT_KEY, seed.ROOT_SECRET, "s3api", "list-buckets",
                "--output", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [b["Name"] for b in doc["Buckets"]] == seed.NAMES_A
    for b in doc["Buckets"]:
        assert datetime.fromisoformat(b["CreationDate"]) == seed.created_utc(b["Name"])
    assert doc["Owner"] == {"ID": seed.ACCOUNT_A, "DisplayName": seed.DISPLAY_A}


def test_aws_cli_bad_secret_fails(server, tmp_path):
    proc = _aws(server, tmp_path, seed.ROOT_KEY, "wrong-secret", "s3api", "list-buckets")
    assert proc.returncode != 0
    assert "SignatureDoesNotMatch" in proc.stderr
    assert proc.stdout.strip() == ""


# -- s3cmd --------------------------------------------------------------------------------

def _s3cmd(server, tmp_path, access_key, secret_key, *, v2: bool, token: str | None = None):
    cfg = tmp_path / "s3cmd.cfg"
    lines = ["[default]", f"access_key = {access_key}", f"secret_key = {secret_key}",
             f"host_base = {server.netloc}", f"host_bucket = {server.netloc}",
             "use_https = False", "check_ssl_certificate = False", "proxy_host = ",
             f"bucket_location = {seed.REGION}", f"signature_v2 = {v2}",
             "max_retries = 1", "socket_timeout = 10"]
    if token:
        lines.append(f"access_token = {token}")
    cfg.write_text("\n".join(lines) + "\n")
    env = _clean_env(tmp_path)
    args = [_tool("s3cmd"), "-c", str(cfg)]
    if v2:
        args.append("--signature-v2")
    return _run(args + ["ls"], env)


def _s3cmd_lines(names):
    return [f"{seed.created_utc(n):%Y-%m-%d %H:%M}  s3://{n}" for n in names]


@pytest.mark.parametrize("v2", [False, True], ids=["v4", "v2"])
def test_s3cmd_ls(server, tmp_path, v2):
    proc = _s3cmd(server, tmp_path, seed.ROOT_KEY, seed.ROOT_SECRET, v2=v2)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == _s3cmd_lines(seed.NAMES_A)


@pytest.mark.parametrize("v2", [False, True], ids=["v4", "v2"])
def test_s3cmd_ls_other_account(server, tmp_path, v2):
    proc = _s3cmd(server, tmp_path, seed.B_KEY, seed.B_SECRET, v2=v2)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == _s3cmd_lines(seed.NAMES_B)


def test_s3cmd_bad_secret_fails(server, tmp_path):
    proc = _s3cmd(server, tmp_path, seed.ROOT_KEY, "wrong-secret", v2=False)
    assert proc.returncode != 0
    assert "SignatureDoesNotMatch" in proc.stderr + proc.stdout
    assert "s3://" not in proc.stdout


# -- MinIO SDK ------------------------------------------------------------------------------

def _minio(server, access_key, secret_key, token=None):
    minio = pytest.importorskip("minio")
    import urllib3

    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=10),
                               retries=urllib3.Retry(total=0))
    return minio.Minio(server.netloc, access_key=access_key, secret_key=secret_key,
                       session_token=token, secure=False, region=seed.REGION, http_client=http)


def test_minio_list_buckets(server):
    buckets = _minio(server, seed.ROOT_KEY, seed.ROOT_SECRET).list_buckets()
    assert [b.name for b in buckets] == seed.NAMES_A
    for b in buckets:
        assert b.creation_date == seed.created_utc(b.name), b.name


def test_minio_list_buckets_iam_user_and_other_account(server):
    user = _minio(server, seed.USER_KEY, seed.USER_SECRET).list_buckets()
    assert [b.name for b in user] == seed.NAMES_A
    other = _minio(server, seed.B_KEY, seed.B_SECRET).list_buckets()
    assert [b.name for b in other] == seed.NAMES_B
    assert [b.creation_date for b in other] == [seed.created_utc(n) for n in seed.NAMES_B]


def test_minio_session_token(server):
    buckets = _minio(server, seed.SESSION_KEY, seed.SESSION_SECRET,
                     token=seed.SESSION_TOKEN).list_buckets()
    assert [b.name for b in buckets] == seed.NAMES_A


def test_minio_bad_secret(server):
    from minio.error import S3Error

    with pytest.raises(S3Error) as info:
        _minio(server, seed.ROOT_KEY, "wrong").list_buckets()
    assert info.value.code == "SignatureDoesNotMatch"
    assert info.value.response.status == 403
