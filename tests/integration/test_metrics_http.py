"""Two gunicorn processes on one PostgreSQL database report the sum of their traffic."""
from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cliserver import stop_process
from signing import signed_headers
from s3service.backends.sql import SQLBackend
from s3service.metrics import INTERVAL_MS, interval_start

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "tests" / "apps"
ACCOUNT = "metered0000000000000000000000000000000000000000000000000000000000"
KEY, SECRET = "AKIDMETEREDHTTP", "metered-http-secret"
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


class Gunicorn:
    """One gunicorn master with one sync worker serving ``metered_gateway:app``."""

    def __init__(self, tmp: Path, name: str, db_url: str, flush: float) -> None:
        self.log_path = tmp / f"{name}.log"
        env = dict(os.environ, S3SERVICE_TEST_METRICS_DB=db_url,
                   S3SERVICE_TEST_METRICS_FLUSH=str(flush), PYTHONUNBUFFERED="1",
                   PYTHONPATH=os.pathsep.join([str(ROOT), str(APPS)]))
        cmd = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1",
               "--worker-class", "sync", "--graceful-timeout", "10", "--no-control-socket",
               "--log-level", "info", "metered_gateway:app"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env, cwd=str(ROOT))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            m = LISTENING.search(self.log_path.read_text(errors="replace"))
            if m and "Booting worker" in self.log_path.read_text(errors="replace"):
                self.port = int(m.group(1))
                return
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"gunicorn {name} did not start:\n{self.log_path.read_text()[-4000:]}")

    def request(self, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def list_metrics(self, time_range: list[int]) -> dict:
        body = json.dumps({"timeRange": time_range, "service": ["s3"]}).encode()
        url = f"http://127.0.0.1:{self.port}/?Action=ListMetrics&Version=20160815"
        headers = signed_headers("POST", url, KEY, SECRET, version="v4-generic", body=body,
                                 headers={"Content-Type": "application/json"})
        status, answer = self.request("POST", url.split(str(self.port), 1)[1], body,
                                      dict(headers))
        assert status == 200, answer
        return json.loads(answer)[0]

    def stop(self) -> None:
        stop_process(self.proc)


@pytest.fixture
def db_url(postgres_server):
    url = postgres_server.create_database()
    store = SQLBackend(url)
    store.add_account(ACCOUNT, "metered")
    store.add_key(ACCOUNT, KEY, SECRET)
    store.close()
    yield url
    postgres_server.drop_database(url)


def time_range() -> list[int]:
    start = interval_start(int(time.time() * 1000)) - 4 * INTERVAL_MS
    return [start, start + 9 * INTERVAL_MS - 1]


def traffic(server: Gunicorn, puts: list[int], gets: list[int]) -> int:
    """Send PUTs and GETs of the given sizes; the bytes received back."""
    received = 0
    for i, size in enumerate(puts):
        status, body = server.request("PUT", f"/bucket/obj{i}", b"p" * size)
        assert status == 200
        received += len(body)
    for i, size in enumerate(gets):
        status, body = server.request("GET", f"/bucket/get{i}-{size}")
        assert status == 200 and len(body) == size
        received += len(body)
    return received


def test_two_processes_report_the_sum(tmp_path, db_url):
    a = Gunicorn(tmp_path, "a", db_url, flush=0.2)
    b = Gunicorn(tmp_path, "b", db_url, flush=0.2)
    try:
        sent = traffic(a, [1000, 1000, 1000], [700, 700])
        sent += traffic(b, [300, 300], [50, 50, 50, 50])
        status, _ = b.request("PUT", "/newbucket")
        assert status == 200
        expected = {"s3:PutObject": 5, "s3:GetObject": 6, "s3:CreateBucket": 1}
        deadline = time.monotonic() + 10
        while True:
            answers = [a.list_metrics(time_range()), b.list_metrics(time_range())]
            seen = [{k: v for k, v in s["operations"].items() if v} for s in answers]
            if all(s == expected for s in seen) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for s3 in answers:
            assert {k: v for k, v in s3["operations"].items() if v} == expected
            assert s3["incomingBytes"] == 3 * 1000 + 2 * 300
            assert s3["outgoingBytes"] == sent == 2 * 700 + 4 * 50
            assert s3["storageUtilized"] == [0, 3600]
            assert s3["numberOfObjects"] == [0, 5]
    finally:
        a.stop()
        b.stop()
    assert "Traceback" not in a.log_path.read_text() + b.log_path.read_text()


def test_counts_survive_a_graceful_stop(tmp_path, db_url):
    server = Gunicorn(tmp_path, "slow-flush", db_url, flush=3600)
    try:
        traffic(server, [123], [456])
    finally:
        server.stop()                       # SIGTERM: the worker exits and flushes
    assert server.proc.returncode == 0
    totals = SQLBackend(db_url).get_metrics(*time_range())
    assert totals.operations == {"s3:PutObject": 1, "s3:GetObject": 1}
    assert (totals.incoming_bytes, totals.outgoing_bytes) == (123, 456)
