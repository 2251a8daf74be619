"""What clients who cannot sign may make the process keep: a small fixed amount, however many.

Anonymous and badly signed requests name whatever headers they like in
``SignedHeaders``; the header names the library looks up must not pile up in
a module-level table (``s3service.wsgi.environ_key``), nor anything else.
"""
from __future__ import annotations

import gc
import io
import os
import random
import time

import pytest

from s3service import S3ServiceMiddleware, wsgi
from s3service.auth import common, sigv4
from s3service.wsgi import environ_key

ROOT = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
SEED = {"accounts": {ROOT: "Root"}, "keys": [(ROOT, "AKIDROOT", "rootsecret")]}

REQUESTS = 10_000
NAMES_PER_REQUEST = 2
NAME_LENGTH = 1_500              # a header name; gunicorn takes header fields up to 8190 bytes
MAX_GROWTH = 5 * 1024 * 1024


def test_environ_key_is_right_for_every_name():
    assert environ_key("content-type") == "CONTENT_TYPE"
    assert environ_key("content-length") == "CONTENT_LENGTH"
    assert environ_key("host") == "HTTP_HOST"
    assert environ_key("x-amz-date") == "HTTP_X_AMZ_DATE"
    assert environ_key("x-amz-content-sha256") == "HTTP_X_AMZ_CONTENT_SHA256"
    assert environ_key("x-amz-meta-my-key") == "HTTP_X_AMZ_META_MY_KEY"
    assert environ_key("x-amz-meta-my-key") == "HTTP_X_AMZ_META_MY_KEY"        # (again)
    assert environ_key("x-ünï") == "HTTP_X_ÜNÏ"
    assert environ_key("") == "HTTP_"


def test_environ_key_remembers_no_new_name():
    before = dict(wsgi._ENVIRON_KEYS)
    for i in range(5_000):
        assert environ_key(f"x-custom-{i}") == f"HTTP_X_CUSTOM_{i}"
    assert wsgi._ENVIRON_KEYS == before
    assert len(before) <= 64


def _rss() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        pytest.skip("no /proc/self/statm to read the resident set size from")


def _environ(rng: random.Random, access_key: str) -> dict:
    """A header-signed SigV4 request that gets as far as the key look-up, naming new headers."""
    now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    names = [f"x-{rng.getrandbits(64):016x}-" + "n" * (NAME_LENGTH - 19)
             for _ in range(NAMES_PER_REQUEST)]
    signed = ";".join(["host", "x-amz-content-sha256", "x-amz-date", *names])
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": "",
        "SERVER_NAME": "s3.example.com", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "s3.example.com", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "HTTP_AUTHORIZATION": (f"AWS4-HMAC-SHA256 Credential={access_key}/{now[:8]}/us-east-1/"
                               f"s3/aws4_request, SignedHeaders={signed}, "
                               f"Signature={rng.getrandbits(256):064x}"),
        "HTTP_X_AMZ_DATE": now, "HTTP_X_AMZ_CONTENT_SHA256": "UNSIGNED-PAYLOAD",
    }


def _send(app, environ) -> str:
    answered = []
    body = app(environ, lambda status, headers, exc_info=None: answered.append(status))
    b"".join(body)
    return answered[0]


def test_requests_that_cannot_sign_leave_nothing_behind(store):
    app = S3ServiceMiddleware(lambda e, s: [], credentials=store, buckets=store,
                              service_hosts=["s3.example.com"])
    rng = random.Random(20240101)

    def send(count: int) -> None:
        for i in range(count):
            # anonymous (a key nobody has) and badly signed (a real key), in turn
            key = "AKIDROOT" if i % 2 else f"AKIDNOBODY{i}"
            status = _send(app, _environ(rng, key))
            assert status == "403 Forbidden", status

    send(200)                                   # warm up: what every request needs, once
    gc.collect()
    before, keys_before = _rss(), len(wsgi._ENVIRON_KEYS)
    send(REQUESTS)
    gc.collect()
    grown = _rss() - before

    sent = REQUESTS * NAMES_PER_REQUEST * NAME_LENGTH
    assert grown < MAX_GROWTH, f"RSS grew {grown} bytes after {sent} bytes of header names"
    assert len(wsgi._ENVIRON_KEYS) == keys_before <= 64
    assert common.parse_amz_date.cache_info().currsize <= 256
    assert common.parse_http_date.cache_info().currsize <= 256
    assert sigv4.signing_key.cache_info().currsize <= 1024
    assert len(common._identities) <= 4096
    assert app.hosts.bucket_in.cache_info().currsize <= 1024
