"""``s3service serve`` as shipped (granian): HTTPS, IPv6, a taken port, two workers, stopping.

* HTTPS: ``--certfile``/``--keyfile`` with a self-signed certificate made for
  the test (``openssl``); boto3 and the AWS CLI trust exactly that one.
* Two workers on PostgreSQL with ``--metrics``: both answer, each with its
  own database connections and request ids, and each flushes its metered
  counts when SIGTERM stops the server; Ctrl-C stops every process.
* Variables of the server's environment never read as a request's headers.

(The library under stock gunicorn, listed with boto3: ``tests/test_examples.py``.)
"""
from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from s3service.gateway.server import STOP_TIMEOUT
from tests.helpers.cliserver import aws_command, command_env, free_port, run_cli, start_server  # noqa: F401
from tests.helpers.cliserver import stop_process
from tests.helpers.signing import presigned_url

from .conftest import _boto3_session
from .test_payload_tls import certificate  # noqa: F401 (a fixture)

TIMEOUT = 60


def cli_json(db: str, *args: str) -> dict:
    result = run_cli("--db", db, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def make_account(db: str) -> tuple[str, str, str]:
    """A new account with a key, and a bucket: (account id, access key, secret key)."""
    account = cli_json(db, "account", "create", "--name", "served")["account_id"]
    key = cli_json(db, "key", "create", account)
    cli_json(db, "bucket", "create", account, "served-bucket")
    return account, key["access_key"], key["secret_key"]


def client(endpoint: str, access_key: str, secret: str, **options):
    from botocore.config import Config

    cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                 retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                 read_timeout=30)
    return _boto3_session().client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                   aws_access_key_id=access_key, aws_secret_access_key=secret,
                                   config=cfg, **options)


# -- HTTPS -------------------------------------------------------------------------------

def test_https_with_boto3_and_the_aws_cli(tmp_path, start_server, certificate):  # noqa: F811
    aws = aws_command()
    cert, key = certificate
    db = f"sqlite:///{tmp_path / 'tls.db'}"
    _, access_key, secret = make_account(db)
    server = start_server(db, "--certfile", str(cert), "--keyfile", str(key))
    server.wait_ready()
    endpoint = f"https://127.0.0.1:{server.port}"

    s3 = client(endpoint, access_key, secret, verify=str(cert))
    s3.create_bucket(Bucket="over-tls")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["over-tls", "served-bucket"]

    env = command_env(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret,
                      AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
                      AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true")
    listed = subprocess.run([aws, "--endpoint-url", endpoint, "--ca-bundle", str(cert),
                             "s3", "ls"], capture_output=True, text=True, timeout=TIMEOUT,
                            env=env)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[-1] for line in listed.stdout.splitlines()] == \
        ["over-tls", "served-bucket"]

    # A client that does not trust the certificate gets no answer; plain HTTP gets none either.
    untrusting = client(endpoint, access_key, secret)
    from botocore.exceptions import SSLError

    with pytest.raises(SSLError):
        untrusting.list_buckets()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sock.settimeout(10)
        try:
            answer = sock.recv(65536)
        except ConnectionResetError:
            answer = b""
        assert not answer.startswith(b"HTTP/1.1 200")


def test_https_needs_both_files(tmp_path, certificate):
    cert, _ = certificate
    result = run_cli("--db", "memory", "serve", "--certfile", str(cert))
    assert result.returncode == 2 and "both --certfile and --keyfile" in result.stderr
    result = run_cli("--db", "memory", "serve", "--certfile", str(cert),
                     "--keyfile", str(tmp_path / "missing.pem"))
    assert result.returncode == 2 and "no such file" in result.stderr


def test_request_variables_in_the_servers_environment_are_no_requests(tmp_path,
                                                                      start_server):  # noqa: F811
    """granian copies the worker's environment into every request's environ: serve
    removes the variables a request's headers would be named as."""
    db = f"sqlite:///{tmp_path / 'env.db'}"
    _, access_key, secret = make_account(db)
    server = start_server(db, "--workers", "1",
                          env={"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AKIDFROMENV/x",
                               "HTTP_X_AMZ_SECURITY_TOKEN": "token-from-the-environment"})
    server.wait_ready()
    url = presigned_url("GET", f"{server.endpoint}/", access_key, secret)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", url.split(str(server.port), 1)[1])
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 200, body
    assert b"<Name>served-bucket</Name>" in body


# -- IPv6, a taken port -------------------------------------------------------------------

def test_serve_on_ipv6_loopback(tmp_path):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    db = f"sqlite:///{tmp_path / 'v6.db'}"
    _, access_key, secret = make_account(db)
    port = free_port()
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "s3service", "--db", db, "serve",
                                 "--host", "::1", "--port", str(port), "--workers", "1"],
                                stdout=out, stderr=err, env=command_env(), cwd=tmp_path,
                                start_new_session=True)
    try:
        endpoint = f"http://[::1]:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("::1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, \
                    (tmp_path / "err").read_text()
                time.sleep(0.1)
        names = [b["Name"] for b in client(endpoint, access_key, secret).list_buckets()["Buckets"]]
        assert names == ["served-bucket"]
    finally:
        stop_process(proc, group=True)


def test_a_taken_port_is_one_line_and_a_failure(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "s3service", "--db", "memory", "serve",
                                 "--port", str(port)], capture_output=True, text=True,
                                timeout=TIMEOUT, env=command_env(), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"s3service: error: cannot listen on 127.0.0.1:{port}: "
                                          "Address already in use"]


# -- two workers: per-process state --------------------------------------------------------

@pytest.fixture
def pg_url(postgres_server):
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


def test_two_workers_share_nothing_but_the_database(tmp_path, start_server, pg_url):  # noqa: F811
    """Two workers on PostgreSQL, metering: both answer; request ids never repeat; each
    worker uses connections of its own; SIGTERM stops both, and all their counts are stored."""
    db = pg_url
    _, access_key, secret = make_account(db)
    server = start_server(db, "--workers", "2", "--metrics", "--access-log")
    server.wait_ready()
    requests = 200
    ids = set()
    for _ in range(requests):          # a new connection each: the kernel spreads them
        url = presigned_url("GET", f"{server.endpoint}/", access_key, secret)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request("GET", url.split(str(server.port), 1)[1])
            response = conn.getresponse()
            assert response.status == 200 and b"served-bucket" in response.read()
            ids.add(response.getheader("x-amz-request-id"))
        finally:
            conn.close()
    assert len(ids) == requests
    deadline = time.monotonic() + 10           # (the access log is written in batches)
    while server.out.read_text().count(" access: ") < requests:
        assert time.monotonic() < deadline, server.out.read_text()[-2000:]
        time.sleep(0.1)
    pids = set(re.findall(r"\[(\d+)\] \[INFO\] access: ", server.out.read_text()))
    assert len(pids) == 2, "both workers answered"
    backends = pg_backends(db, pids)
    assert backends and backends <= pids, (backends, pids)

    began = time.monotonic()
    server.stop()
    stopped_in = time.monotonic() - began
    assert server.proc.returncode == 0, server.err.read_text()
    err = server.err.read_text()
    # A worker that refused to stop would hold the stop for STOP_TIMEOUT before
    # granian killed it.  granian also logs "Killing worker" for a worker already
    # exiting, when the kernel takes over 1 ms to reap it after its join returns
    # (seen once on a busy CI machine, 18 ms into the stop): the time tells them apart.
    assert "Traceback" not in err and stopped_in < STOP_TIMEOUT / 3, (stopped_in, err)
    counted = listed_count(db)
    assert counted == requests, f"{counted} of {requests} ListBuckets metered"


def pg_backends(db: str, pids: set[str]) -> set[str]:
    """Which of ``pids`` hold a connection to the database ``db`` (PostgreSQL's client_port
    tells nothing of a process: ask for the connections of these pids' sockets instead)."""
    found = set()
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        try:
            links = [str(link.readlink()) for link in fds.iterdir()]
        except OSError:
            continue
        sockets = {link[len("socket:["):-1] for link in links if link.startswith("socket:[")}
        if sockets & tcp_sockets_to(db):
            found.add(pid)
    return found


def tcp_sockets_to(db: str) -> set[str]:
    """The inodes of this machine's TCP sockets connected to the port of ``db``'s server."""
    from sqlalchemy.engine import make_url

    port = make_url(db).port or 5432
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def listed_count(db: str) -> int:
    """ListBuckets the store counted (the service level), in the last hour."""
    from s3service.backends.sql import SQLBackend
    from s3service.metrics import INTERVAL_MS, interval_start

    store = SQLBackend(db)
    try:
        now = int(time.time() * 1000)
        start = interval_start(now) - 12 * INTERVAL_MS
        totals = store.get_metrics(start, interval_start(now) + INTERVAL_MS - 1)
        return totals.operations.get("s3:ListAllMyBuckets", 0)
    finally:
        store.close()


def test_ctrl_c_stops_every_process_gracefully(tmp_path, start_server):  # noqa: F811
    """Ctrl-C in a terminal signals the whole process group: master and workers."""
    import os
    import signal

    db = f"sqlite:///{tmp_path / 'ctrl-c.db'}"
    _, access_key, secret = make_account(db)
    server = start_server(db, "--workers", "2", "--access-log")
    server.wait_ready()
    assert len(client(server.endpoint, access_key, secret).list_buckets()["Buckets"]) == 1
    os.killpg(server.proc.pid, signal.SIGINT)
    assert server.proc.wait(timeout=30) == 0
    err = server.err.read_text()
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "Granian shutdown completed" in err
    assert '"GET / HTTP/1.1" 200 ' in server.out.read_text()      # written on the way out
