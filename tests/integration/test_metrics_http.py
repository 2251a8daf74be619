"""Two gunicorn processes on one PostgreSQL database report the sum of their traffic.

At every level: the service (for the operator account), each account, user and
bucket (for its own tenant), with other tenants refused.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cliserver import stop_process
from tests.helpers.signing import signed_headers
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
                   S3SERVICE_TEST_METRICS_ADMINS=ACCOUNT,
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

    def list_metrics(self, time_range: list[int], level: str = "service",
                     names: tuple[str, ...] = ("s3",), key: tuple[str, str] = (KEY, SECRET),
                     status: int = 200) -> Any:
        """The first answer object (or, for another ``status``, the error's code)."""
        body = json.dumps({"timeRange": time_range, level: list(names)}).encode()
        url = f"http://127.0.0.1:{self.port}/?Action=ListMetrics&Version=20160815"
        headers = signed_headers("POST", url, *key, version="v4-generic", body=body,
                                 headers={"Content-Type": "application/json"})
        got, answer = self.request("POST", url.split(str(self.port), 1)[1], body,
                                   dict(headers))
        assert got == status, answer
        return json.loads(answer)[0] if status == 200 else json.loads(answer)["code"]

    def signed(self, key: tuple[str, str], method: str, path: str, body: bytes = b"") -> bytes:
        url = f"http://127.0.0.1:{self.port}{path}"
        headers = signed_headers(method, url, *key, version="v4", body=body)
        status, answer = self.request(method, path, body, dict(headers))
        assert status == 200, answer
        return answer

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


# -- per account, user and bucket --------------------------------------------------------

T1, T2 = "tenant1" + "1" * 57, "tenant2" + "2" * 57
U1 = ("AKIDTENANT1USER1", "u1-secret")            # user u1 of T1
R1 = ("AKIDTENANT1ROOT", "t1-root-secret")        # T1's root key
U2 = ("AKIDTENANT2USER2", "u2-secret")            # user u2 of T2
BUCKETS = {"b1": T1, "b2": T1, "b3": T2}


@pytest.fixture
def tenants_db(db_url):
    store = SQLBackend(db_url)
    store.add_account(T1, "t1")
    store.add_account(T2, "t2")
    store.add_user(T1, "u1")
    store.add_user(T2, "u2")
    store.add_key(T1, *U1, user="u1")
    store.add_key(T1, *R1)
    store.add_key(T2, *U2, user="u2")
    for name, owner in BUCKETS.items():
        store.add_bucket(owner, name)
    store.close()
    return db_url


def level(answer: dict) -> tuple:
    ops = {k: v for k, v in answer["operations"].items() if v}
    return (ops, answer["incomingBytes"], answer["outgoingBytes"], answer["storageUtilized"],
            answer["numberOfObjects"])


def test_every_level_of_a_known_mix_from_two_processes(tmp_path, tenants_db):
    a = Gunicorn(tmp_path, "a", tenants_db, flush=0.2)
    b = Gunicorn(tmp_path, "b", tenants_db, flush=0.2)
    try:
        a.signed(U1, "PUT", "/b1/o1", b"1" * 100)
        assert len(a.signed(U1, "GET", "/b1/g-300")) == 300
        a.signed(R1, "PUT", "/b2/o2", b"2" * 40)
        b.signed(U1, "PUT", "/b1/o3", b"3" * 60)
        b.signed(R1, "GET", "/b2/g-20")
        b.signed(U2, "PUT", "/b3/o4", b"4" * 500)
        b.signed(U2, "GET", "/b3/g-7")
        b.signed(U2, "GET", "/b3/g-7")
        put, get = "s3:PutObject", "s3:GetObject"
        expected = {
            ("accounts", T1, R1): ({put: 3, get: 2}, 200, 320, [0, 200], [0, 3]),
            ("accounts", T2, U2): ({put: 1, get: 2}, 500, 14, [0, 500], [0, 1]),
            ("users", "u1", U1): ({put: 2, get: 1}, 160, 300, [0, 0], [0, 0]),
            ("users", T1, R1): ({put: 1, get: 1}, 40, 20, [0, 0], [0, 0]),
            ("users", "u2", U2): ({put: 1, get: 2}, 500, 14, [0, 0], [0, 0]),
            ("buckets", "b1", U1): ({put: 2, get: 1}, 160, 300, [0, 160], [0, 2]),
            ("buckets", "b2", R1): ({put: 1, get: 1}, 40, 20, [0, 40], [0, 1]),
            ("buckets", "b3", U2): ({put: 1, get: 2}, 500, 14, [0, 500], [0, 1]),
            ("service", "s3", (KEY, SECRET)): ({put: 4, get: 4}, 700, 334, [0, 700], [0, 4]),
        }
        deadline = time.monotonic() + 10
        while True:     # each process flushes its own counts within 0.2 s
            seen = [{(lvl, name, key): level(server.list_metrics(time_range(), lvl, (name,), key))
                     for lvl, name, key in expected} for server in (a, b)]
            if seen == [expected, expected] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert seen == [expected, expected]
        for server in (a, b):
            refused = [server.list_metrics(time_range(), "accounts", (T1,), U2, status=403),
                       server.list_metrics(time_range(), "buckets", ("b3",), U1, status=403),
                       server.list_metrics(time_range(), "users", (f"arn:aws:iam::{T2}:user/u2",),
                                           R1, status=403),
                       server.list_metrics(time_range(), "service", ("s3",), U2, status=403)]
            assert refused == ["AccessDenied"] * 4
    finally:
        a.stop()
        b.stop()
    assert "Traceback" not in a.log_path.read_text() + b.log_path.read_text()


def test_a_script_name_header_cannot_meter_a_request_to_another_tenants_bucket(tmp_path,
                                                                               db_url):
    """gunicorn takes ``SCRIPT_NAME`` from a header sent from a trusted proxy address
    (loopback by default); the bucket metered is the one in the path the client signed."""
    other, other_pair = "other" + "0" * 59, ("AKIDOTHERTENANT", "other-tenant-secret")
    store = SQLBackend(db_url)
    store.add_account(other, "other")
    store.add_key(other, *other_pair)
    store.add_bucket(ACCOUNT, "mine")
    store.add_bucket(other, "victim")
    store.close()
    server = Gunicorn(tmp_path, "script-name", db_url, flush=0.2)
    try:
        url = f"http://127.0.0.1:{server.port}/mine/victim/get0-5"
        headers = dict(signed_headers("GET", url, KEY, SECRET, version="v4"))
        headers["SCRIPT_NAME"] = "/mine"
        status, body = server.request("GET", "/mine/victim/get0-5", headers=headers)
        assert status == 200 and len(body) == 5
        victim = server.list_metrics(time_range(), "buckets", ("victim",), key=other_pair)
        assert {k: v for k, v in victim["operations"].items() if v} == {}
        assert victim["outgoingBytes"] == 0
        mine = server.list_metrics(time_range(), "buckets", ("mine",))
        assert {k: v for k, v in mine["operations"].items() if v} == {"s3:GetObject": 1}
    finally:
        server.stop()
