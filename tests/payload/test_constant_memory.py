"""1 GiB of signed chunks through the middleware in process: the body is never held in memory."""
from __future__ import annotations

import os

from s3service import S3ServiceMiddleware
from s3service.backends.memory import MemoryBackend
from s3service.payload import PAYLOAD_KEY
from tests.helpers.awschunked import RepeatedChunks, encoded_length, sign_streaming
from tests.helpers.signing import environ_from_request

CHUNK = 1024 * 1024
COUNT = 1024  # 1 GiB
LIMIT_KB = 16 * 1024


def current_rss_kb() -> int:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def test_one_gib_of_signed_chunks_in_constant_memory():
    store = MemoryBackend()
    store.add_account("111122223333", display_name="big")
    store.add_key("111122223333", "AKIDBIGUPLOAD", "big-upload-secret")
    seen = {"bytes": 0, "peak_kb": 0}

    def gateway(environ, start_response):
        stream = environ["wsgi.input"]
        while True:
            data = stream.read(256 * 1024)
            if not data:
                break
            seen["bytes"] += len(data)
            seen["peak_kb"] = max(seen["peak_kb"], current_rss_kb())
        seen["verified"] = environ[PAYLOAD_KEY].verified
        seen["length"] = environ["CONTENT_LENGTH"]
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    app = S3ServiceMiddleware(gateway, credentials=store, buckets=store,
                              authenticate_all=True)
    url = "http://s3.example.com/bucket/one-gib"
    headers, signer = sign_streaming(
        "PUT", url, "AKIDBIGUPLOAD", "big-upload-secret", "us-east-1",
        {"Host": "s3.example.com", "Content-Encoding": "aws-chunked",
         "Content-Length": str(encoded_length(CHUNK * COUNT, CHUNK, True)),
         "x-amz-decoded-content-length": str(CHUNK * COUNT)},
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    environ = environ_from_request("PUT", url, headers)
    environ["wsgi.input"] = RepeatedChunks(bytes(range(256)) * (CHUNK // 256), COUNT, signer)
    statuses = []
    before = current_rss_kb()
    b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert statuses == ["200 OK"]
    assert seen["bytes"] == CHUNK * COUNT and seen["verified"] is True
    assert seen["length"] == str(CHUNK * COUNT)
    growth = seen["peak_kb"] - before
    assert growth < LIMIT_KB, f"RSS grew by {growth} kB reading 1 GiB"
