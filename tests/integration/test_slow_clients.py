"""Slow and odd clients against ``s3service serve`` as shipped (its own gunicorn worker).

Clients trickling their request heads (slowloris) must not keep others
waiting; nor must a client that keeps its socket open after reading its
answer; a slow reader of a long listing must get all of it, however long it
takes; any ``Expect`` value is accepted, as by S3, and ``100-continue``
still works.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cliserver import APPS, command_env, start_server, stop_process  # noqa: F401 (a fixture)
from tests.helpers.signing import presigned_url, signed_headers

ACCOUNT = "0" * 63 + "9"
KEY, SECRET = "AKIASLOWSLOWSLOW0001", "slow-secret-000000000000000000000000001"
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


def seed(db_path: Path, buckets: int) -> str:
    from s3service.backends.sql import SQLBackend

    url = f"sqlite:///{db_path}"
    store = SQLBackend(url)
    store.add_account(ACCOUNT, display_name="slow")
    store.add_key(ACCOUNT, KEY, SECRET)
    for i in range(buckets):
        store.add_bucket(ACCOUNT, f"bucket-{i:06d}")
    store.close()
    return url


@pytest.fixture
def served(tmp_path, start_server):  # noqa: F811
    server = start_server(seed(tmp_path / "slow.db", 3), "--workers", "1")
    server.wait_ready()
    return server


def request_bytes(port: int, method: str = "GET", path: str = "/", *,
                  headers: tuple[tuple[str, str], ...] = (), close: bool = True,
                  body: bytes = b"") -> bytes:
    """The head of a signed request (for ``body``, sent separately)."""
    signed = signed_headers(method, f"http://127.0.0.1:{port}{path}", KEY, SECRET, body=body)
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in signed + list(headers)]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def ask(port: int, data: bytes, timeout: float = 10.0) -> tuple[bytes, float]:
    """Send ``data`` on a new connection and read until the server closes: (answer, seconds)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_all(sock), time.monotonic() - started


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


class Slowloris:
    """Connections sending one more header byte every half second, for as long as they may."""

    def __init__(self, port: int, count: int) -> None:
        self.socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        for sock in self.socks:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stop.wait(0.5):
            for sock in self.socks:
                try:
                    sock.sendall(b"x")
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for sock in self.socks:
            sock.close()


@pytest.mark.parametrize("count", [8, 64])
def test_slowloris_connections_keep_no_one_waiting(served, count):
    loris = Slowloris(served.port, count)
    try:
        time.sleep(1.0)                     # they are all well into their heads
        for _ in range(3):
            answer, took = ask(served.port, request_bytes(served.port))
            assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:300]
            assert b"<Name>bucket-000000</Name>" in answer
            assert took < 1.0, f"ListBuckets took {took:.2f} s behind {count} slow clients"
    finally:
        loris.close()


def test_a_client_that_keeps_its_socket_open_delays_no_one(served):
    for _ in range(3):
        lingering = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        try:
            lingering.sendall(request_bytes(served.port))
            head = lingering.recv(65536)            # read the answer, keep the socket open
            assert head.startswith(b"HTTP/1.1 200 OK")
            answer, took = ask(served.port, request_bytes(served.port))
            assert answer.startswith(b"HTTP/1.1 200 OK")
            assert took < 0.5, f"the next client waited {took:.2f} s"
        finally:
            lingering.close()


@pytest.mark.parametrize("value", ["200", "", "something-else"])
def test_any_expect_value_is_accepted(served, value):
    answer, _ = ask(served.port, request_bytes(served.port, headers=(("Expect", value),)))
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:300]
    assert b"<ListAllMyBucketsResult" in answer


def test_expect_100_continue_still_works(served):
    body = b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
    head = request_bytes(served.port, "PUT", "/continued", close=True, body=body,
                         headers=(("Expect", "100-continue"),
                                  ("Content-Length", str(len(body)))))
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(head)
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue"), interim[:200]
        sock.sendall(body)
        answer = read_all(sock)
    # (the final answer may come in the same read as the interim one)
    final = interim.split(b"\r\n\r\n", 1)[1] + answer
    assert final.startswith(b"HTTP/1.1 200 OK"), final[:500]


# -- a slow reader, under a plain gunicorn command --------------------------------------

#: Enough buckets for a listing (~5.8 MB) larger than what the kernel buffers on loopback.
BIG = 60_000


@pytest.fixture
def gunicorn_server(tmp_path) -> Iterator[int]:
    """gunicorn with s3service's worker and a 2 s worker timeout, serving a long listing."""
    log_path = tmp_path / "gunicorn.log"
    env = command_env(BIG_LISTING_KEY=KEY, BIG_LISTING_SECRET=SECRET,
                      BIG_LISTING_BUCKETS=str(BIG))
    env["PYTHONPATH"] = os.pathsep.join([str(APPS), env["PYTHONPATH"]])
    cmd = [sys.executable, "-m", "gunicorn", "-k", "s3service.gateway.worker.Worker",
           "--threads", "4", "--workers", "1", "--timeout", "2", "--bind", "127.0.0.1:0",
           "--no-control-socket", "big_listing:app"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=str(tmp_path))
    try:
        deadline = time.monotonic() + 30
        while not (found := _LISTENING.search(log_path.read_text(errors="replace"))):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gunicorn did not start:\n" + log_path.read_text(errors="replace"))
            time.sleep(0.05)
        yield int(found.group(1))
        assert "WORKER TIMEOUT" not in log_path.read_text(errors="replace")
    finally:
        stop_process(proc)


def test_a_slow_reader_gets_a_whole_listing_however_long_it_takes(gunicorn_server):
    port = gunicorn_server
    url = presigned_url("GET", f"http://127.0.0.1:{port}/", KEY, SECRET)
    target = url.split(str(port), 1)[1]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)   # (before connecting)
    sock.settimeout(60)
    with sock:
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     f"Connection: close\r\n\r\n".encode())
        chunks = [sock.recv(65536)]
        time.sleep(4)                        # twice the worker timeout, reading nothing
        answer = chunks[0] + read_all(sock)
    assert answer.endswith(b"</ListAllMyBucketsResult>\r\n0\r\n\r\n")    # (chunked)
    assert answer.count(b"<Bucket>") == BIG
