"""What every answer of the service carries: request ids and S3's common headers."""
from __future__ import annotations

import logging
import random
import time
from binascii import b2a_base64
from email.utils import formatdate

from .backends.base import BackendUnavailable
from .errors import InternalError, S3Error, ServiceUnavailable
from .forking import in_each_child

SERVER = "s3service"

_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The current time as an HTTP ``Date`` value, formatted at most once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


# Request ids must be unique, not secret: a generator seeded from the system's
# randomness (again in every forked worker) saves a system call per request.
_ids = random.Random()
in_each_child(_ids.seed)


def new_ids() -> tuple[str, str]:
    """A new request id (16 upper-case hex digits, as S3's) and opaque ``x-amz-id-2`` value."""
    raw = _ids.getrandbits(256).to_bytes(32, "big")
    return raw[:8].hex().upper(), b2a_base64(raw[8:], newline=False).decode("ascii")


def error_for(exc: Exception, request_id: str, log: logging.Logger, what: str = "") -> S3Error:
    """The S3 error answering ``exc``.

    An :class:`~s3service.errors.S3Error` answers itself; a store that cannot be
    reached (:class:`~s3service.backends.base.BackendUnavailable`) is ``503
    ServiceUnavailable``; anything else is ``500 InternalError``.  The last two
    are logged with ``request_id`` (the traceback for a 500), never sent.
    """
    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, BackendUnavailable):
        log.warning("%s %sbackend unavailable: %s", request_id, what and what + " ", exc)
        return ServiceUnavailable()
    log.error("%s internal error%s", request_id, what and " in " + what, exc_info=exc)
    return InternalError()


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


_log = logging.getLogger("s3service")


def log_request(request_id: str, method: str, status: int, code: str | None,
                access_key: str | None) -> None:
    """The one line logged on the ``s3service`` logger for each request answered.

    Request id, method, status, error code and access key -- never a secret
    or a signature.
    """
    if _log.isEnabledFor(logging.INFO):
        _log.info("%s %s %d %s %s", request_id, method, status, code or "-", access_key or "-")
