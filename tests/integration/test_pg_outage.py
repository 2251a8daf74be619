"""PostgreSQL stopped and restarted under load: only requests during the outage fail, as 503s.

gunicorn serves the example gateway (:func:`s3service.gateway.make_app`) on an
:class:`~s3service.backends.sql.SQLBackend` on a private PostgreSQL cluster;
a few client threads loop ListBuckets over keep-alive connections while the
database is stopped and started again.  Every answer must be a 200 listing or
a ``503 ServiceUnavailable`` document with its request id (the same id in the
server log, with the cause); no request may hang for more than a few
seconds, failures must stay within the outage, the service must come back
by itself, and nothing may leave a traceback in the server log.  Finally a
bucket created (200) before is still there after restarting both gateway and
database.
"""
from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.helpers.cliserver import stop_process
from tests.helpers.signing import signed_headers

from .conftest import ROOT

pg = pytest.importorskip("tests.helpers.pg")

ACCOUNT = "0" * 63 + "1"
KEY, SECRET = "AKIAOUTAGE0000000001", "outage-secret-00000000000000000000000001"
BUCKET = "made-before-the-outage"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
CLIENTS = 4
MAX_LATENCY = 8.0        # seconds: connect timeout (5) plus slack; "never a hang"
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")

APP = textwrap.dedent("""
    import logging, os
    from s3service.backends.sql import SQLBackend
    from s3service.gateway import make_app

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s [%(process)d] [s3service] %(levelname)s %(message)s")
    app = make_app(SQLBackend(os.environ["OUTAGE_DB"], credential_cache_seconds=1.0),
                   backend_timeout=6.0)
""")


@pytest.fixture(scope="module", params=["direct", "pgbouncer"])
def database(request):
    from s3service.backends.sql import SQLBackend
    from tests.helpers import pgbouncer

    with pg.private_server() as server, ExitStack() as stack:
        if request.param == "pgbouncer":         # stopped and started behind a PgBouncer
            server = stack.enter_context(pgbouncer.in_front_of(server))
        store = SQLBackend(server.url)
        store.add_account(ACCOUNT, display_name="outage")
        store.add_key(ACCOUNT, KEY, SECRET)
        store.close()
        yield server


def start_gateway(tmp: Path, db_url: str, name: str):
    (tmp / "outage_app.py").write_text(APP)
    log_path = tmp / f"{name}.log"
    env = dict(os.environ, OUTAGE_DB=db_url, PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(tmp), str(ROOT)]))
    cmd = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "2",
           "--worker-class", "gthread", "--threads", "4", "--timeout", "30",
           "--graceful-timeout", "3", "--no-control-socket", "--log-level", "info",
           "outage_app:app"]
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file,
                                stderr=subprocess.STDOUT, env=env, cwd=str(tmp))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        m = _LISTENING.search(log_path.read_text(errors="replace"))
        if m:
            return proc, int(m.group(1)), log_path
        time.sleep(0.05)
    stop_process(proc)
    pytest.fail("gunicorn did not start:\n" + log_path.read_text(errors="replace"))


def send(conn: http.client.HTTPConnection, port: int, method: str = "GET", path: str = "/"):
    """A SigV4-signed request on a keep-alive connection: (status, headers, body)."""
    headers = signed_headers(method, f"http://127.0.0.1:{port}{path}", KEY, SECRET)
    conn.request(method, path, headers=dict(headers))
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


class Client(threading.Thread):
    def __init__(self, port: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.results: list[tuple[float, float, int, str | None, str]] = []
        self.problems: list[str] = []

    def run(self) -> None:
        conn = None
        while not self.stop.is_set():
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=MAX_LATENCY + 5)
            started = time.monotonic()
            try:
                status, headers, body = send(conn, self.port)
            except (OSError, http.client.HTTPException) as exc:
                self.problems.append(f"connection error {exc!r}")
                conn.close()
                conn = None
                time.sleep(0.05)
                continue
            ended = time.monotonic()
            code, problem = check(status, headers, body)
            if problem:
                self.problems.append(problem)
            self.results.append((started, ended, status, code, headers.get("x-amz-request-id", "")))
            if status != 200:
                time.sleep(0.02)
        if conn is not None:
            conn.close()


def check(status: int, headers: dict, body: bytes) -> tuple[str | None, str | None]:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None, f"{status}: body is not XML: {body[:200]!r}"
    if status == 200:
        names = [e.text for e in root.iterfind(f"{NS}Buckets/{NS}Bucket/{NS}Name")]
        return None, None if BUCKET in names else f"200 without the bucket: {names}"
    code = root.findtext("Code")
    if status != 503 or code != "ServiceUnavailable":
        return code, f"{status} {code}: {body[:300]!r}"
    if root.findtext("RequestId") != headers.get("x-amz-request-id"):
        return code, "RequestId differs from x-amz-request-id"
    if b"Traceback" in body or b"OperationalError" in body:
        return code, "the cause leaked into the body"
    return code, None


def log_problems(log: str) -> list[str]:
    return [line for line in log.splitlines()
            if "Traceback" in line or "[ERROR]" in line or "[CRITICAL]" in line
            or " ERROR " in line or " CRITICAL " in line]


def test_postgres_outage_under_load(database, tmp_path):
    proc, port, log_path = start_gateway(tmp_path, database.url, "gateway-1")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        status, _, body = send(conn, port, "PUT", f"/{BUCKET}")
        assert status == 200, body
        conn.close()

        stop = threading.Event()
        clients = [Client(port, stop) for _ in range(CLIENTS)]
        for c in clients:
            c.start()
        time.sleep(1.5)
        outage_start = time.monotonic()
        database.stop("fast")
        time.sleep(3.0)
        database.start()
        outage_end = time.monotonic()
        # Recovery by itself: every client has had a 200 again for a while (bounded).
        deadline = outage_end + 30
        while time.monotonic() < deadline:
            recent = [r for c in clients for r in c.results if r[0] > outage_end + 1.0]
            if sum(1 for r in recent if r[2] == 200) >= 20 and \
                    all(any(r[0] > outage_end and r[2] == 200 for r in c.results)
                        for c in clients):
                break
            time.sleep(0.2)
        time.sleep(2.0)
        stop.set()
        for c in clients:
            c.join(MAX_LATENCY + 10)
            assert not c.is_alive(), "a client is stuck"
    finally:
        stop_process(proc)
    log = log_path.read_text(errors="replace")

    results = sorted(r for c in clients for r in c.results)
    problems = [p for c in clients for p in c.problems]
    assert not problems, problems[:10]
    assert results, "no requests were made"
    before = [r for r in results if r[1] < outage_start]
    failures = [r for r in results if r[2] != 200]
    assert before and all(r[2] == 200 for r in before)
    # A PgBouncer in front holds the queries of an outage shorter than the backend
    # timeout until the database is back: then the requests only wait (bounded above).
    assert failures or hasattr(database, "bouncer"), "the outage did not show"
    # Failures only while the database was away (plus the time to notice it is back).
    for started, ended, status, code, request_id in failures:
        assert outage_start - 0.5 <= ended and started <= outage_end + 6.0, (started, ended)
        assert request_id in log, f"request id {request_id} not in the server log"
    assert not failures or any("backend unavailable" in line and failures[0][4] in line
                               for line in log.splitlines())
    recovered = max((r[1] for r in failures), default=outage_end)
    after = [r for r in results if r[0] > recovered]
    assert recovered <= outage_end + 6.0 and len(after) >= 20, "did not recover by itself"
    assert max(r[1] - r[0] for r in results) < MAX_LATENCY
    assert not log_problems(log), "\n".join(log_problems(log)[:20])


def test_created_bucket_survives_restart_of_gateway_and_database(database, tmp_path):
    proc, port, log_path = start_gateway(tmp_path, database.url, "gateway-2")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        status, _, body = send(conn, port, "PUT", "/made-then-restarted")
        assert status == 200, body
        conn.close()
    finally:
        stop_process(proc)
    database.stop("fast")
    database.start()
    proc, port, log_path = start_gateway(tmp_path, database.url, "gateway-3")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        status, _, body = send(conn, port)
        conn.close()
    finally:
        stop_process(proc)
    assert status == 200, body
    assert b"<Name>made-then-restarted</Name>" in body
    assert not log_problems(log_path.read_text(errors="replace"))
