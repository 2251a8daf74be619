"""Slow, idle and odd clients against ``s3service serve`` as shipped (granian).

Clients trickling their request heads (slowloris) must not keep others
waiting; nor must a client that keeps its socket open after reading its
answer, nor a thousand sockets that never say anything; a slow reader of a
long listing must get all of it if it reads on within the send bound, and be
cut off, freeing its thread, if it does not; any ``Expect``
value is accepted, as by S3, and ``100-continue`` still works.  A head that
is never finished -- alone, after a whole request in the same packet, or
longer than 64 KiB -- is cut off within serve's head-read bound, and holds
no thread meanwhile (gunicorn's threaded worker under the old
``gateway/worker.py`` kept a thread each for such connections, with no
time limit).
"""
from __future__ import annotations

import resource
import socket
import threading
import time
from pathlib import Path

import pytest

from s3service.gateway.server import HEADER_TIMEOUT, MAX_HEAD
from tests.helpers.cliserver import start_server  # noqa: F401 (a fixture)
from tests.helpers.signing import presigned_url, signed_headers

ACCOUNT = "0" * 63 + "9"
KEY, SECRET = "AKIASLOWSLOWSLOW0001", "slow-secret-000000000000000000000000001"
#: How late a connection may be cut after the head-read bound (scheduling, a loaded machine).
SLACK = 3.0


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
                  body: bytes = b"", key: str = KEY, secret: str = SECRET) -> bytes:
    """The head of a signed request (for ``body``, sent separately)."""
    signed = signed_headers(method, f"http://127.0.0.1:{port}{path}", key, secret, body=body)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in signed + list(headers)]
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


def assert_listed_promptly(port: int, within: float = 1.0) -> None:
    """A signed ListBuckets on a new connection is answered 200 within ``within`` seconds."""
    answer, took = ask(port, request_bytes(port))
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:300]
    assert b"</ListAllMyBucketsResult>" in answer
    assert took < within, f"ListBuckets took {took:.2f} s"


def allow_open_files(count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        if hard != resource.RLIM_INFINITY and hard < count:
            pytest.skip(f"this test needs {count} open files; the limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


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


def seconds_until_closed(sock: socket.socket, limit: float) -> float:
    """Read (and drop) what the server sends until it closes ``sock``; seconds it took."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        return float("inf")
    except ConnectionResetError:
        pass
    return time.monotonic() - started


# -- slowloris, kept-open and idle sockets ---------------------------------------------

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


def test_a_slowloris_is_cut_off_within_the_head_bound(served):
    loris = Slowloris(served.port, 1)
    try:
        took = seconds_until_closed(loris.socks[0], HEADER_TIMEOUT + SLACK)
    finally:
        loris.close()
    assert took <= HEADER_TIMEOUT + SLACK


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


def test_a_thousand_idle_sockets_keep_no_one_waiting(served):
    """~1,000 sockets that never send a byte: a ListBuckets is answered at once, and each
    idle socket is closed within the head bound (the old worker kept them all, up to its
    connection limit: a legitimate request then waited 9 s)."""
    count = 1100
    allow_open_files(count + 256)
    idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(count)]
    try:
        time.sleep(0.5)
        for _ in range(3):
            assert_listed_promptly(served.port)
        deadline = time.monotonic() + HEADER_TIMEOUT + SLACK
        for sock in idle:
            assert seconds_until_closed(sock, max(0.1, deadline - time.monotonic())) != \
                float("inf"), "an idle socket outlasted the head bound"
    finally:
        for sock in idle:
            sock.close()


def test_an_idle_kept_alive_connection_is_closed_within_the_head_bound(served):
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(request_bytes(served.port, close=False))
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        # (the answer is small: one read holds all of it)
        assert seconds_until_closed(sock, HEADER_TIMEOUT + SLACK) <= HEADER_TIMEOUT + SLACK


# -- heads never finished --------------------------------------------------------------

def test_heads_never_finished_hold_no_thread_and_are_cut_off(served):
    """Twice as many connections as serve has threads per worker, each one of: a head never
    finished; a whole request and the start of another in one packet; a head over 64 KiB.
    Others are answered meanwhile, and each such connection is closed within the bound."""
    from s3service.gateway.server import THREADS

    port = served.port
    whole = request_bytes(port, close=False)
    kinds = {
        "unfinished": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Never: ",
        "whole and the start of another": whole + b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        "over 64 KiB": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * (MAX_HEAD + 1024),
    }
    opened: dict[str, list[socket.socket]] = {kind: [] for kind in kinds}
    try:
        for kind, data in kinds.items():
            for _ in range(2 * THREADS):
                sock = socket.create_connection(("127.0.0.1", port))
                try:
                    sock.sendall(data)
                except OSError:          # (a head over the limit may be refused mid-way)
                    pass
                opened[kind].append(sock)
        time.sleep(0.5)
        for _ in range(3):
            assert_listed_promptly(port)
        deadline = time.monotonic() + HEADER_TIMEOUT + SLACK
        answers: dict[str, set[bytes]] = {kind: set() for kind in kinds}
        for kind, socks in opened.items():
            for sock in socks:
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                try:
                    data = read_all(sock)
                except socket.timeout:
                    pytest.fail(f"a connection ({kind}) outlasted the head bound")
                except ConnectionResetError:
                    data = b"(reset)"
                answers[kind].add(data.split(b"\r\n", 1)[0])
        assert answers["unfinished"] == {b""}
        assert answers["whole and the start of another"] == {b"HTTP/1.1 200 OK"}
        assert answers["over 64 KiB"] <= {b"HTTP/1.1 431 Request Header Fields Too Large",
                                          b"(reset)"}, answers["over 64 KiB"]
    finally:
        for socks in opened.values():
            for sock in socks:
                sock.close()


# -- Expect -------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["200", "", "something-else"])
def test_any_expect_value_is_accepted(served, value):
    answer, _ = ask(served.port, request_bytes(served.port, headers=(("Expect", value),)))
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:300]
    assert b"<ListAllMyBucketsResult" in answer


def put_with_100_continue(port: int, bucket: str, body: bytes) -> bytes:
    """A signed CreateBucket sending its body only after ``100 Continue``: the final answer."""
    head = request_bytes(port, "PUT", f"/{bucket}", body=body,
                         headers=(("Expect", "100-continue"), ("Content-Length", str(len(body)))))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue"), interim[:200]
        sock.sendall(body)
        answer = read_all(sock)
    # (the final answer may come in the same read as the interim one)
    return interim.split(b"\r\n\r\n", 1)[1] + answer


def test_expect_100_continue_still_works_and_the_body_is_read(served):
    config = ('<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
              "<LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>")
    final = put_with_100_continue(served.port, "continued", b'<CreateBucketConfiguration '
                                  b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>')
    assert final.startswith(b"HTTP/1.1 200 OK"), final[:500]
    # The gateway read the body: a constraint for another region is refused for what it says.
    final = put_with_100_continue(served.port, "elsewhere", config.format("eu-west-1").encode())
    assert final.startswith(b"HTTP/1.1 400 "), final[:500]
    assert b"<Code>IllegalLocationConstraintException</Code>" in final
    answer, _ = ask(served.port, request_bytes(served.port))
    assert b"<Name>continued</Name>" in answer and b"<Name>elsewhere</Name>" not in answer


# -- a slow reader of a long listing ------------------------------------------------------

#: Enough buckets for a listing (~5.8 MB) larger than what the kernel buffers on loopback.
BIG = 60_000
BIG_KEY, BIG_SECRET = "AKIABIGLISTING000001", "big-listing-secret-00000000000000000001"


@pytest.fixture
def big_served(start_server):  # noqa: F811
    """serve (1 worker, its default threads) on a memory store with BIG buckets."""
    server = start_server("memory", "--workers", "1", module="big_listing",
                          env={"BIG_LISTING_KEY": BIG_KEY, "BIG_LISTING_SECRET": BIG_SECRET,
                               "BIG_LISTING_BUCKETS": str(BIG)})
    server.wait_ready(timeout=60)
    return server


def stalled_reader(port: int) -> tuple[socket.socket, bytes]:
    """A connection that asked for the long listing, read its first bytes, and then stopped:
    (the socket, those bytes)."""
    url = presigned_url("GET", f"http://127.0.0.1:{port}/", BIG_KEY, BIG_SECRET)
    target = url.split(str(port), 1)[1]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)   # (before connecting)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 f"Connection: close\r\n\r\n".encode())
    return sock, sock.recv(65536)


def test_stalled_readers_keep_no_one_waiting_and_then_get_everything(big_served):
    """16 readers stop reading a long listing, 64 slowloris trickle: a ListBuckets is still
    answered within a second; then each reader reads on, and gets the whole listing."""
    port = big_served.port
    readers = [stalled_reader(port) for _ in range(16)]
    loris = Slowloris(port, 64)
    try:
        time.sleep(HEADER_TIMEOUT / 2)           # stalled a while (the heads stay under the bound)
        for _ in range(3):
            url = presigned_url("GET", f"http://127.0.0.1:{port}/?max-buckets=5",
                                BIG_KEY, BIG_SECRET)
            target = url.split(str(port), 1)[1]
            answer, took = ask(port, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                     f"Connection: close\r\n\r\n".encode())
            assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:300]
            assert answer.count(b"<Bucket>") == 5
            assert took < 1.0, f"ListBuckets took {took:.2f} s"
        time.sleep(HEADER_TIMEOUT)               # stalled for longer than any head may take
        for sock, first in readers:
            answer = first + read_all(sock)
            assert answer.endswith(b"</ListAllMyBucketsResult>\r\n0\r\n\r\n")    # (chunked)
            assert answer.count(b"<Bucket>") == BIG
    finally:
        loris.close()
        for sock, _ in readers:
            sock.close()


# -- answers that stall ---------------------------------------------------------------------

#: serve's --send-timeout in the stalled-answer test (seconds).
SEND = 2.0


@pytest.fixture
def bounded_big_served(start_server):  # noqa: F811
    """serve (1 worker, 2 threads, a SEND s send bound) on a memory store with BIG buckets."""
    server = start_server("memory", "--workers", "1", "--threads", "2",
                          "--send-timeout", str(SEND), module="big_listing",
                          env={"BIG_LISTING_KEY": BIG_KEY, "BIG_LISTING_SECRET": BIG_SECRET,
                               "BIG_LISTING_BUCKETS": str(BIG)})
    server.wait_ready(timeout=60)
    return server


def test_stalled_readers_are_cut_off_and_free_their_threads(bounded_big_served):
    """Twice as many readers as threads stop reading a long listing: the last two are
    answered only once the first two were dropped, within the send bound; a boto3
    ListBuckets behind them is answered once they are dropped in turn; and each reader,
    reading on, gets part of the listing and a reset (a connection still open would give
    all of it).  Before the bound, the first two held both threads until they left."""
    from botocore.config import Config

    from .conftest import _boto3_session

    port = bounded_big_served.port
    started = time.monotonic()
    readers = [stalled_reader(port) for _ in range(4)]   # (each waits for its answer's start)
    stalled_at = time.monotonic()
    assert SEND <= stalled_at - started < SEND + SLACK, f"{stalled_at - started:.2f} s"
    try:
        s3 = _boto3_session().client(
            "s3", endpoint_url=bounded_big_served.endpoint, region_name="us-east-1",
            aws_access_key_id=BIG_KEY, aws_secret_access_key=BIG_SECRET,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                          connect_timeout=5, read_timeout=SEND + 4 * SLACK))
        listed = s3.list_buckets(MaxBuckets=5)
        took = time.monotonic() - stalled_at
        assert [b["Name"] for b in listed["Buckets"]] == [f"bucket-{i:07d}" for i in range(5)]
        assert took < SEND + SLACK, f"ListBuckets took {took:.2f} s"
        time.sleep(max(0.0, stalled_at + SEND + SLACK - time.monotonic()))
        for sock, first in readers:
            sock.settimeout(SLACK)
            data = first
            with pytest.raises(ConnectionResetError):
                while chunk := sock.recv(65536):
                    data += chunk
            assert b"</ListAllMyBucketsResult>" not in data
            assert 0 < data.count(b"<Bucket>") < BIG
    finally:
        for sock, _ in readers:
            sock.close()
