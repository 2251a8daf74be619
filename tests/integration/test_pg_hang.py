"""A PostgreSQL server that stops answering (SIGSTOP) under ``s3service serve``.

The kernel still accepts and acknowledges every packet, so nothing at the TCP
level notices.  ``serve --backend-timeout 2`` must answer every request
``503 ServiceUnavailable`` within that bound (reads) or twice it (writes,
which may first try a fresh connection), keep its workers alive, and serve
again as soon as the server is continued.
"""
from __future__ import annotations

import http.client
import time
from contextlib import ExitStack

import pytest

from tests.helpers.cliserver import start_server  # noqa: F401 (a fixture)
from tests.helpers.signing import signed_headers

from .checks import assert_error
from .rawhttp import Response

pg = pytest.importorskip("tests.helpers.pg")

ACCOUNT = "0" * 63 + "7"
KEY, SECRET = "AKIAHANGHANGHANG0001", "hang-secret-000000000000000000000000001"
TIMEOUT = 2.0
SLACK = 1.5


@pytest.fixture(params=["direct", "pgbouncer"])
def database(request):
    from s3service.backends.sql import SQLBackend
    from tests.helpers import pgbouncer

    with pg.private_server() as server, ExitStack() as stack:   # (continued before it is stopped)
        if request.param == "pgbouncer":         # the server hangs behind a PgBouncer
            server = stack.enter_context(pgbouncer.in_front_of(server))
        store = SQLBackend(server.url)
        store.add_account(ACCOUNT, display_name="hang")
        store.add_key(ACCOUNT, KEY, SECRET)
        store.add_bucket(ACCOUNT, "before-the-hang")
        store.close()
        yield server


def send(port: int, method: str = "GET", path: str = "/") -> tuple[Response, float]:
    """A signed request on a new connection: the response and the seconds it took."""
    headers = signed_headers(method, f"http://127.0.0.1:{port}{path}", KEY, SECRET)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3 * TIMEOUT + 10)
    started = time.monotonic()
    try:
        conn.request(method, path, headers=dict(headers))
        raw = conn.getresponse()
        response = Response(raw.status, raw.reason, raw.getheaders(), raw.read())
    finally:
        conn.close()
    return response, time.monotonic() - started


def test_a_hung_database_gets_503s_within_the_timeout_and_service_resumes(
        database, start_server, tmp_path):  # noqa: F811
    server = start_server(database.url, "--workers", "2", "--backend-timeout", str(TIMEOUT))
    server.wait_ready()
    for _ in range(4):                      # every worker holds a connection now
        answer, _ = send(server.port)
        assert answer.status == 200 and b"before-the-hang" in answer.body

    database.pause()
    try:
        for method, path, bound in (("GET", "/", TIMEOUT), ("GET", "/", TIMEOUT),
                                    ("PUT", "/made-during-the-hang", 2 * TIMEOUT)):
            answer, took = send(server.port, method, path)
            assert_error(answer, 503, "ServiceUnavailable")
            assert took < bound + SLACK, f"{method} {path} took {took:.1f} s"
    finally:
        database.resume()

    deadline = time.monotonic() + 15
    while True:
        answer, _ = send(server.port)
        if answer.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert answer.status == 200 and b"before-the-hang" in answer.body
    assert server.proc.poll() is None
    assert "Traceback" not in server.err.read_text() + server.out.read_text()
