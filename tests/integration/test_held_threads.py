"""Bodies and answers against ``s3service serve`` as shipped (granian), raw HTTP.

The bucket limit: an account creates at most ``--max-buckets`` buckets (S3's
10,000 by default), which also bounds the longest ListBuckets answer a slow
reader can sit on.

A ``PUT`` sent with HTTP ``chunked`` transfer encoding and no
``Content-Length`` (not ``aws-chunked``) is S3's ``411 MissingContentLength``:
the middleware gives the gateway behind it only bodies whose length it is
told, so a gateway reading ``CONTENT_LENGTH`` bytes never keeps nothing of a
body the middleware verified whole.
"""
from __future__ import annotations

import socket

from tests.helpers.cliserver import start_server  # noqa: F401 (a fixture)
from tests.helpers.signing import signed_headers

from .test_slow_clients import KEY, SECRET, read_all, seed, served  # noqa: F401 (a fixture)

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


def send_signed(port: int, method: str, path: str) -> bytes:
    url = f"http://127.0.0.1:{port}{path}"
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             *(f"{k}: {v}" for k, v in signed_headers(method, url, KEY, SECRET))]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return read_all(sock)


def test_create_bucket_past_the_limit_is_too_many_buckets(tmp_path, start_server):  # noqa: F811
    server = start_server(seed(tmp_path / "limit.db", 3), "--workers", "1", "--max-buckets", "4")
    server.wait_ready()
    assert status_of(send_signed(server.port, "PUT", "/fourth")) == 200
    answer = send_signed(server.port, "PUT", "/fifth")
    assert status_of(answer) == 400 and b"<Code>TooManyBuckets</Code>" in answer
    assert status_of(send_signed(server.port, "HEAD", "/fifth")) == 404
