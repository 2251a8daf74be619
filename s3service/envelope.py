"""One envelope for every answer: request ids, S3's common headers, errors, the log line.

The middleware, the metrics API and the gateway all answer through
:func:`answer`.  A handler gets the :class:`Exchange` (the request and its ids)
and returns what answers it: a :class:`Reply`, to which the envelope adds
S3's common headers, or another WSGI app (the gateway behind the
middleware), which is called as it is.  Whatever the handler
raises is answered as S3 would (:func:`error_for`)::

    def handler(exchange: Exchange) -> Reply:
        return Reply("200 OK", [("Content-Type", "application/xml")], b"...")

    return answer(environ, start_response, handler)
"""
from __future__ import annotations

import logging
import random
import time
from binascii import b2a_base64
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any, NamedTuple

from .backends.base import BackendUnavailable
from .errors import InternalError, S3Error, ServiceUnavailable
from .forking import in_each_child
from .redaction import redact_query

__all__ = ["AUTHORIZER_KEY", "BUCKET_KEY", "ERROR_CODE_KEY", "IDENTITY_KEY", "REQUEST_ID_KEY",
           "STATUS_KEY", "Exchange", "Reply", "answer", "error_for", "log_safe", "new_ids",
           "xml_error"]

SERVER = "s3service"
#: Where the middleware leaves the caller's :class:`~s3service.Identity` for the app behind it.
IDENTITY_KEY = "s3service.identity"
#: Where the middleware leaves its authorizer bound to the caller and the request
#: (a :class:`~s3service.requestcontext.RequestAuthorizer`) for the app behind it.
AUTHORIZER_KEY = "s3service.authorizer"
#: Where the middleware leaves the request id, which the app behind it answers with too.
REQUEST_ID_KEY = "s3service.request_id"
#: Where the middleware leaves the bucket a request passed on addresses (``None``: none),
#: for the log line.
BUCKET_KEY = "s3service.bucket"
#: Where :func:`answer` leaves the code of the S3 error it answered with (for observers).
ERROR_CODE_KEY = "s3service.error_code"
#: Where :func:`answer` leaves the status line it answered with (for observers: an
#: observer in front need not wrap ``start_response`` to learn it).
STATUS_KEY = "s3service.status"
#: When the first :class:`Exchange` of a request began (``time.perf_counter()``).
STARTED_KEY = "s3service.started"

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]

log = logging.getLogger("s3service")

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


class Exchange:
    """One request being answered.

    ``request_id`` is the one the middleware in front already gave the request
    (``environ["s3service.request_id"]``), else a new one.  ``access_key`` is
    the caller's, for the log line: the middleware's identity in front, or set
    by the handler once it has authenticated the caller.
    """

    __slots__ = ("environ", "method", "request_id", "host_id", "access_key", "started")

    def __init__(self, environ: dict) -> None:
        started = environ.get(STARTED_KEY)
        if started is None:     # (the first of the request: the middleware's, before the app's)
            started = environ[STARTED_KEY] = time.perf_counter()
        self.started: float = started
        self.environ = environ
        self.method: str = environ.get("REQUEST_METHOD", "GET")
        request_id, self.host_id = new_ids()
        self.request_id: str = environ.get(REQUEST_ID_KEY) or request_id
        identity = environ.get(IDENTITY_KEY)
        self.access_key: str | None = None if identity is None else identity.access_key


class Reply(NamedTuple):
    """An answer: status line, headers, and the body (bytes, or an iterable of them to stream)."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes | Iterable[bytes]


Handler = Callable[[Exchange], "Reply | WSGIApp"]
ErrorBody = Callable[[S3Error, Exchange], Reply]


def xml_error(error: S3Error, exchange: Exchange) -> Reply:
    """S3's ``<Error>`` document answering ``error``."""
    headers = [("Content-Type", "application/xml")]
    if error.status == 405:
        headers.append(("Allow", "GET, POST"))
    return Reply(error.status_line, headers, error.to_xml(exchange.request_id, exchange.host_id))


def answer(environ: dict, start_response: StartResponse, handler: Handler, *,
           error_body: ErrorBody = xml_error, logger: logging.Logger = log,
           what: str = "") -> Iterable[bytes]:
    """Answer one request with what ``handler`` returns, or the error it raises.

    A :class:`Reply` gets the common headers
    (``x-amz-request-id``, ``x-amz-id-2``, ``Date``, ``Server``), a
    ``Content-Length`` when its body is bytes, and one log line; any other
    app is called as it is (it answers and logs for itself).  Errors are rendered by
    ``error_body`` (S3's XML by default), and logged on ``logger`` with
    ``what`` (see :func:`error_for`).
    """
    exchange = Exchange(environ)
    code = None
    try:
        response = handler(exchange)
    except Exception as exc:
        error = error_for(exc, exchange.request_id, logger, what)
        response = error_body(error, exchange)
        code = environ[ERROR_CODE_KEY] = error.code
        if exchange.access_key is None:
            exchange.access_key = error.fields.get("AWSAccessKeyId")
    if not isinstance(response, Reply):
        return response(environ, start_response)
    status, headers, body = response
    headers = [("x-amz-request-id", exchange.request_id), ("x-amz-id-2", exchange.host_id),
               ("Date", http_date()), ("Server", SERVER), *headers]
    if isinstance(body, bytes):
        headers.append(("Content-Length", str(len(body))))
        body = [body]
    if log.isEnabledFor(logging.INFO):
        log_request(exchange.request_id, exchange.method, int(status[:3]), code,
                    exchange.access_key, target=_target(environ),
                    bucket=environ.get(BUCKET_KEY),
                    seconds=time.perf_counter() - exchange.started)
    environ[STATUS_KEY] = status
    start_response(status, headers)
    if exchange.method == "HEAD":
        close = getattr(body, "close", None)
        if close is not None:
            close()
        return []
    return body


def error_for(exc: Exception, request_id: str, logger: logging.Logger,
              what: str = "") -> S3Error:
    """The S3 error answering ``exc``.

    An :class:`~s3service.errors.S3Error` answers itself; a store that cannot be
    reached (:class:`~s3service.backends.base.BackendUnavailable`) is ``503
    ServiceUnavailable``; anything else is ``500 InternalError``.  The last two
    are logged with ``request_id`` (the traceback for a 500), never sent.
    """
    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, BackendUnavailable):
        # (a store may quote what it was asked, e.g. an access key: one line, escaped)
        logger.warning("%s %sbackend unavailable: %s", request_id, what and what + " ",
                       log_safe(str(exc)))
        return ServiceUnavailable()
    logger.error("%s internal error%s", request_id, what and " in " + what, exc_info=exc)
    return InternalError()


_LOG_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    escaped = _LOG_ESCAPES.get(char)
    if escaped is not None:
        return escaped
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def log_safe(text: str) -> str:
    """``text`` fit for a log line: what is not printable written as an escape.

    Control characters, Unicode's line and paragraph separators, NEL, format
    characters and surrogates become ``\\n``, ``\\r``, ``\\t``, ``\\xNN``,
    ``\\uNNNN`` or ``\\UNNNNNNNN``, and the backslash itself ``\\\\`` (so that no
    client can write an escape of its own): whatever a client sends stays on
    the one line it is logged on.  Printable text (the usual case) is returned
    as it is, not rebuilt.
    """
    if text.isprintable() and "\\" not in text:
        return text
    return "".join([_escape(char) for char in text])


#: The format of the request log line (its target is redacted already: see log_request).
REQUEST_LINE = "%s %s %s %s %d %s %s %s"


def log_request(request_id: str, method: str, status: int, code: str | None,
                access_key: str | None, *, target: str = "", bucket: str | None = None,
                seconds: float | None = None) -> None:
    """The one line logged on the ``s3service`` logger for each request answered.

    ``REQUEST-ID METHOD TARGET BUCKET STATUS DURATION CODE ACCESS-KEY``: the
    request target is its path and query string, with the signatures and
    session tokens of presigned URLs redacted
    (:func:`~s3service.redaction.redact_query`); the duration is how long
    the answer took to make (``1.25ms``); ``-`` stands for no bucket, no error
    code, no key.  Never a secret or a signature.  What comes from the client
    (method, target, bucket, key) is written as :func:`log_safe` writes it.
    """
    if log.isEnabledFor(logging.INFO):
        method = log_safe(method)
        if target:
            path, mark, query = target.partition("?")
            target = log_safe(f"{path}?{redact_query(query)}" if mark else path)
        else:
            target = "-"
        if bucket is not None:
            bucket = log_safe(bucket)
        if access_key is not None:
            access_key = log_safe(access_key)
        took = "-" if seconds is None else f"{seconds * 1000:.2f}ms"
        log.info(REQUEST_LINE, request_id, method, target, bucket or "-", status, took,
                 code or "-", access_key or "-")


def _target(environ: dict) -> str:
    """The request's path and query string, as the server decoded them."""
    path = environ.get("SCRIPT_NAME", "") + (environ.get("PATH_INFO") or "")
    query = environ.get("QUERY_STRING")
    return f"{path or '/'}?{query}" if query else (path or "/")
