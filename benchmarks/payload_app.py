"""The app ``payload.py`` serves: a gateway that reads each body to the end and discards it.

``/verified/...`` goes through the middleware with ``authenticate_all=True``
(the body checked as it is read); ``/raw/...`` reaches the same gateway
with the body untouched.  One key, ``BENCH_ACCESS_KEY``/``BENCH_SECRET``, in
a ``MemoryBackend``.
"""
from __future__ import annotations

from s3service import S3ServiceMiddleware
from s3service.backends.memory import MemoryBackend

BENCH_ACCESS_KEY, BENCH_SECRET = "AKIDPAYLOADBENCH0001", "payload-bench-secret"
PIECE = 256 * 1024


def gateway(environ, start_response):
    stream, left, read = environ["wsgi.input"], int(environ.get("CONTENT_LENGTH") or 0), 0
    while left > 0:
        data = stream.read(min(PIECE, left))
        if not data:
            break
        left -= len(data)
        read += len(data)
    body = str(read).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


_store = MemoryBackend()
_store.add_account("111122223333", display_name="bench")
_store.add_key("111122223333", BENCH_ACCESS_KEY, BENCH_SECRET)
_verified = S3ServiceMiddleware(gateway, credentials=_store, buckets=_store,
                                authenticate_all=True)


def app(environ, start_response):
    if environ.get("PATH_INFO", "").startswith("/raw/"):
        return gateway(environ, start_response)
    return _verified(environ, start_response)
