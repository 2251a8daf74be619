"""Fixtures: the echo gateway behind the middleware, served by real gunicorn processes.

One server per configuration per session.  Each binds 127.0.0.1 on a port
the kernel picks (``:0``, read back from gunicorn's log, so two runs never
race for a port), runs two sync workers that each seed the same
MemoryBackend from a JSON file, and is always stopped at the end.
"""
from __future__ import annotations

import http.client
import os
import re
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.cliserver import stop_process

from . import seed

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "tests" / "apps"
START_TIMEOUT = 20.0
_LISTENING = re.compile(r"Listening at: https?://127\.0\.0\.1:(\d+)")


class Server:
    """A running gunicorn: its URL, port and log."""

    def __init__(self, proc: subprocess.Popen, port: int, log_path: Path,
                 scheme: str = "http") -> None:
        self.proc, self.port, self.log_path = proc, port, log_path
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.netloc = f"127.0.0.1:{port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def _answers(port: int, tls: bool = False) -> bool:
    """Whether a worker answers a pass-through request (the gateway's own 200)."""
    try:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=2, context=ssl._create_unverified_context()) if tls \
            else http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/__ready__", headers={"Host": f"127.0.0.1:{port}"})
            resp = conn.getresponse()
            resp.read()
            # 403: authenticate_all refuses anonymous; 404: a gateway's NoSuchBucket
            return resp.status in (200, 403, 404)
        finally:
            conn.close()
    except OSError:
        return False


def start_server(tmp: Path, name: str, app: str = "echo_gateway:app",
                 tls: tuple[Path, Path] | None = None, **options: str):
    """Start gunicorn serving ``app`` (from ``tests/apps``); a generator yielding the
    :class:`Server`.  ``tls``: (certificate, key) files to serve HTTPS with."""
    seed_file = seed.write_seed(tmp / f"{name}-seed.json")
    log_path = tmp / f"{name}-gunicorn.log"
    env = dict(os.environ)
    env.update({
        "S3SERVICE_TEST_SEED": str(seed_file),
        "S3SERVICE_TEST_SERVICE_HOSTS": seed.SERVICE_HOST,
        "S3SERVICE_TEST_REGION": seed.REGION,
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT), str(APPS)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(options)
    cmd = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "2",
           "--worker-class", "sync", "--timeout", "30", "--graceful-timeout", "3",
           "--no-control-socket", "--chdir", str(ROOT), "--log-level", "info",
           app]
    if tls is not None:
        cmd[-1:-1] = ["--certfile", str(tls[0]), "--keyfile", str(tls[1])]
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file,
                                stderr=subprocess.STDOUT, env=env, cwd=str(ROOT))
    try:
        deadline = time.monotonic() + START_TIMEOUT
        port = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if port is None:
                m = _LISTENING.search(log_path.read_text(errors="replace"))
                if m:
                    port = int(m.group(1))
            if port is not None and _answers(port, tls is not None):
                break
            time.sleep(0.1)
        else:
            port = None
        if proc.poll() is not None or port is None:
            stop_process(proc)
            pytest.fail(f"gunicorn ({name}) did not come up within {START_TIMEOUT:.0f} s "
                        f"(exit status {proc.returncode}); its log:\n"
                        + log_path.read_text(errors="replace")[-6000:], pytrace=False)
        yield Server(proc, port, log_path, "https" if tls is not None else "http")
    finally:
        stop_process(proc)
    # Nothing a client sent may have made the app or the server fail.
    log = log_path.read_text(errors="replace")
    bad = [line for line in log.splitlines()
           if "Traceback" in line or "[ERROR]" in line or "[CRITICAL]" in line]
    if bad:
        pytest.fail(f"gunicorn ({name}) logged errors:\n" + log[-8000:], pytrace=False)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The default configuration: only ``GET /`` is authenticated."""
    yield from start_server(tmp_path_factory.mktemp("server"), "default")


@pytest.fixture(scope="session")
def server_auth_all(tmp_path_factory):
    """``authenticate_all`` on: every pass-through request is authenticated first."""
    yield from start_server(tmp_path_factory.mktemp("server-auth-all"), "auth-all",
                            S3SERVICE_TEST_AUTH_ALL="1")


@pytest.fixture(scope="session")
def empty_aws_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("aws") / "empty"
    path.write_text("")
    return path


@pytest.fixture(autouse=True)
def no_aws_config(monkeypatch, empty_aws_config):
    """boto3 must use exactly the credentials and settings given, nothing from ~/.aws."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty_aws_config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty_aws_config))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                 "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


_BOTO3_SESSION = None


def _boto3_session():
    """One boto3 session for the whole run: its loaded service models are reused by every client."""
    global _BOTO3_SESSION
    if _BOTO3_SESSION is None:
        import boto3

        _BOTO3_SESSION = boto3.session.Session()
    return _BOTO3_SESSION


def boto3_client(server: Server, access_key: str, secret_key: str, *, token: str | None = None,
                 signature_version: str = "s3v4", region: str = seed.REGION, **config):
    """A boto3 S3 client for ``server``, path-style, no retries, no other credential source."""
    from botocore.config import Config

    config.setdefault("s3", {"addressing_style": "path"})
    config.setdefault("read_timeout", 10)
    cfg = Config(signature_version=signature_version,
                 retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, **config)
    return _boto3_session().client("s3", endpoint_url=server.url, region_name=region,
                                   aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                   aws_session_token=token, config=cfg)
