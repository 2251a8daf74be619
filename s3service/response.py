"""What every answer of the service carries: request ids and S3's common headers."""
from __future__ import annotations

import base64
import os
import time
from email.utils import formatdate

from .errors import S3Error

SERVER = "s3service"

_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The current time as an HTTP ``Date`` value, formatted at most once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def new_request_id() -> str:
    """A unique request id in S3's shape (16 upper-case hex digits)."""
    return os.urandom(8).hex().upper()


def new_host_id() -> str:
    """An opaque ``x-amz-id-2`` value."""
    return base64.b64encode(os.urandom(24)).decode("ascii")


def common_headers(request_id: str, host_id: str) -> list[tuple[str, str]]:
    return [("x-amz-request-id", request_id), ("x-amz-id-2", host_id),
            ("Date", http_date()), ("Server", SERVER)]


def error_response(error: S3Error, request_id: str, host_id: str,
                   head: bool = False) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and body answering ``error``; no body for ``HEAD``."""
    body = error.to_xml(request_id, host_id)
    headers = common_headers(request_id, host_id)
    headers.append(("Content-Type", "application/xml"))
    headers.append(("Content-Length", str(len(body))))
    if error.status == 405:
        headers.append(("Allow", "GET, POST"))
    return error.status_line, headers, b"" if head else body
