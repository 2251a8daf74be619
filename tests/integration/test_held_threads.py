"""Bodies and answers against ``s3service serve`` as shipped (granian), raw HTTP.

A body that stops arriving is ``400 RequestTimeout`` after ``--idle-timeout``
seconds, as S3 answers it, wherever it is read -- an upload (here
CreateBucket's), a ListMetrics whose signature covers its body -- where granian's own
``wsgi.input`` waits with no limit; and its thread is freed when the
client's address tells its connection apart.

The bucket limit: an account creates at most ``--max-buckets`` buckets (S3's
10,000 by default), which also bounds the longest ListBuckets answer a slow
reader can sit on.

A ``PUT`` sent with HTTP ``chunked`` transfer encoding and no
``Content-Length`` (not ``aws-chunked``) is S3's ``411 MissingContentLength``:
the middleware gives the gateway behind it only bodies whose length it is
told, so a gateway reading ``CONTENT_LENGTH`` bytes never stores an empty
object for a body the middleware verified whole.
"""
from __future__ import annotations

import socket
import time

import pytest

from tests.helpers.cliserver import start_server  # noqa: F401 (a fixture)
from tests.helpers.signing import signed_headers

from .test_slow_clients import KEY, SECRET, SLACK, read_all, seed, served  # noqa: F401

#: serve's --idle-timeout in the stalled-body test (seconds).
IDLE = 1.0
CONFIGURATION = (b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                 b"</CreateBucketConfiguration>")


def chunked(data: bytes, size: int = 16) -> bytes:
    pieces = [data[i:i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def put_chunked(port: int, path: str, body: bytes) -> bytes:
    """A signed PUT of ``body``, HTTP chunked, with no Content-Length: the whole answer."""
    url = f"http://127.0.0.1:{port}{path}"
    headers = [(k, v) for k, v in signed_headers("PUT", url, KEY, SECRET, body=body)
               if k.lower() != "content-length"]
    lines = [f"PUT {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers),
             "Transfer-Encoding: chunked", "Connection: close"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + chunked(body))
        return read_all(sock)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_chunked_put_without_length_is_missing_content_length(served):  # noqa: F811
    port = served.port
    answer = put_chunked(port, "/made-chunked", CONFIGURATION)
    assert status_of(answer) == 411, answer
    assert b"<Code>MissingContentLength</Code>" in answer
    assert status_of(send_signed(port, "HEAD", "/made-chunked")) == 404     # not created


def request_head(port: int, method: str, path: str, close: bool = True) -> bytes:
    """A signed request with no body."""
    url = f"http://127.0.0.1:{port}{path}"
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
             *(f"{k}: {v}" for k, v in signed_headers(method, url, KEY, SECRET))]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send_signed(port: int, method: str, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request_head(port, method, path))
        return read_all(sock)


def test_create_bucket_past_the_limit_is_too_many_buckets(tmp_path, start_server):  # noqa: F811
    server = start_server(seed(tmp_path / "limit.db", 3), "--workers", "1", "--max-buckets", "4")
    server.wait_ready()
    assert status_of(send_signed(server.port, "PUT", "/fourth")) == 200
    answer = send_signed(server.port, "PUT", "/fifth")
    assert status_of(answer) == 400 and b"<Code>TooManyBuckets</Code>" in answer
    assert status_of(send_signed(server.port, "HEAD", "/fifth")) == 404


def read_answer(sock: socket.socket) -> bytes:
    """One answer (head, and a body of its Content-Length), without waiting for the close."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def stalled(port: int, method: str, path: str, signed: bool, source: str = "127.0.0.1",
            timeout: float = IDLE + 2 * SLACK, version: str = "v4") -> socket.socket:
    """A request declaring a 60,000-byte body and sending one byte of it, from ``source``
    (any address of 127.0.0.0/8 on Linux), signed as ``version`` signs (``"v4"``: with
    ``x-amz-content-sha256``; ``"v4-generic"``: the body's hash in the signature only)."""
    url = f"http://127.0.0.1:{port}{path}"
    headers = signed_headers(method, url, KEY, SECRET, body=b"x" * 60_000,
                             version=version) if signed else []
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
             *(f"{k}: {v}" for k, v in headers if k.lower() != "content-length"),
             "Content-Length: 60000"]
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0))
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b"x")
    return sock


def test_a_stalled_body_is_request_timeout(tmp_path, start_server):  # noqa: F811
    """(Under granian 2.8 a stalled body still holds its thread until the client leaves:
    nothing in its WSGI interface bounds a body read.  Several at once: below.)"""
    server = start_server(seed(tmp_path / "idle.db", 3), "--workers", "1", "--metrics",
                          "--idle-timeout", str(IDLE))
    server.wait_ready()
    port = server.port
    # (ListMetrics signed by a plain SigV4 signer: the body's hash is in the signature,
    # so the body is read before the signature can be checked)
    for method, path, version in (("PUT", "/stalled", "v4"),
                                  ("POST", "/?Action=ListMetrics", "v4-generic")):
        with stalled(port, method, path, True, version=version) as sock:
            started = time.monotonic()
            answer = read_answer(sock)
            assert status_of(answer) == 400, answer
            assert b"RequestTimeout" in answer
            assert time.monotonic() - started < IDLE + SLACK
    assert status_of(send_signed(port, "HEAD", "/stalled")) == 404
    # An unsigned ListMetrics is refused on its head, its body never waited for.
    with stalled(port, "POST", "/?Action=ListMetrics", False) as sock:
        started = time.monotonic()
        answer = read_answer(sock)
        assert status_of(answer) == 403 and b"AccessDenied" in answer, answer
        assert time.monotonic() - started < SLACK


def test_stalled_bodies_once_answered_keep_no_one_else_waiting(tmp_path, start_server):  # noqa: F811
    """Stalled clients that stay connected after their RequestTimeout stop nothing else.

    granian 2.8 stopped the whole worker while a ``wsgi.input`` read given up on
    was still pending after its request's callable had returned (measured: one
    such client, and a signed ListBuckets went unanswered until that client
    left); the answer now ends only once the read has (see
    s3service.payload.idle).  Fewer stalled clients than threads: each still
    holds one until it leaves, so as many as there are threads hold them all.
    """
    server = start_server(seed(tmp_path / "settle.db", 3), "--workers", "1", "--threads", "4",
                          "--metrics", "--idle-timeout", str(IDLE))
    server.wait_ready()
    port = server.port
    clients = [stalled(port, "PUT", "/stalled-a", True), stalled(port, "PUT", "/stalled-b", True),
               stalled(port, "POST", "/?Action=ListMetrics", True, version="v4-generic")]
    try:
        started = time.monotonic()
        for sock in clients:
            answer = read_answer(sock)
            assert status_of(answer) == 400 and b"RequestTimeout" in answer, answer
        assert time.monotonic() - started < IDLE + SLACK
        time.sleep(2 * IDLE)                       # (the stalled clients still connected)
        started = time.monotonic()
        answer = send_signed(port, "GET", "/")
        assert status_of(answer) == 200 and b"<Name>bucket-000000</Name>" in answer
        assert time.monotonic() - started < SLACK
    finally:
        for sock in clients:
            sock.close()


def test_stalled_bodies_free_their_threads(tmp_path, start_server):  # noqa: F811
    """Twice as many stalled uploads as threads, each from its own address: each is
    ``400 RequestTimeout`` and its connection closed, in turns of the idle bound, nothing is
    stored, and a signed request after them is answered at once.  (Before, granian's read
    of each stalled body held its thread until the client left: the last two uploads, and
    the request after them, were never answered.)"""
    server = start_server(seed(tmp_path / "freed.db", 3), "--workers", "1", "--threads", "2",
                          "--idle-timeout", str(IDLE))
    server.wait_ready()
    port = server.port
    count = 4
    clients = [stalled(port, "PUT", f"/stalled-{i}", True, source=f"127.0.0.{10 + i}",
                       timeout=count * IDLE + 2 * SLACK) for i in range(count)]
    try:
        started = time.monotonic()
        for sock in clients:
            answer = read_answer(sock)
            assert status_of(answer) == 400 and b"<Code>RequestTimeout</Code>" in answer, answer
            assert sock.recv(65536) == b""                      # then closed by the server
        took = time.monotonic() - started
        assert took < count / 2 * IDLE + SLACK, f"the stalled uploads took {took:.2f} s"
        started = time.monotonic()
        answer = send_signed(port, "GET", "/")
        assert status_of(answer) == 200 and b"<Name>bucket-000000</Name>" in answer
        assert time.monotonic() - started < SLACK
        for i in range(count):
            assert status_of(send_signed(port, "HEAD", f"/stalled-{i}")) == 404
    finally:
        for sock in clients:
            sock.close()


def test_a_stalled_body_sharing_its_address_cuts_off_nothing(tmp_path, start_server):  # noqa: F811
    """A stalled upload whose address has another connection open (a kept-alive one):
    the stall is still ``400 RequestTimeout``, the other connection is not touched (it is
    answered on, as before), and a stalled upload from another address is still cut off."""
    server = start_server(seed(tmp_path / "shared.db", 3), "--workers", "1", "--threads", "4",
                          "--idle-timeout", str(IDLE))
    server.wait_ready()
    port = server.port
    kept = socket.create_connection(("127.0.0.1", port), timeout=10,
                                    source_address=("127.0.0.30", 0))
    shared = stalled(port, "PUT", "/stalled-shared", True, source="127.0.0.30")
    alone = stalled(port, "PUT", "/stalled-alone", True, source="127.0.0.31")
    try:
        for sock in (shared, alone):
            answer = read_answer(sock)
            assert status_of(answer) == 400 and b"<Code>RequestTimeout</Code>" in answer, answer
        assert alone.recv(65536) == b""                 # told apart: cut off, and closed
        shared.settimeout(SLACK)
        with pytest.raises(socket.timeout):             # not told apart: left to its client
            shared.recv(65536)
        head = request_head(port, "GET", "/", close=False)
        for _ in range(2):                               # the other connection still serves
            kept.sendall(head)
            answer = read_answer(kept)
            assert status_of(answer) == 200 and b"<Name>bucket-000000</Name>" in answer
    finally:
        for sock in (kept, shared, alone):
            sock.close()
