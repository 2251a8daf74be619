"""How ``s3service serve`` writes its log: every record on standard error, one line each.

Every line reads ``2026-01-02 03:04:05,678 [pid] [INFO] s3service: ...``.

No line ``serve`` writes shows a credential or lets a client start a line of
its own: :func:`redact_secrets` blanks out the signatures and session tokens
of presigned URLs (``X-Amz-Signature=<redacted>``), and what is not printable
is escaped (:func:`~s3service.envelope.log_safe`) -- in the library's lines,
in other libraries' and granian's lines (:class:`LogFormatter`), and in the
access log ``serve --access-log`` writes on standard output
(:class:`AccessFormatter`).  :class:`GunicornLogger` does the same for
gunicorn's logs, for those who serve the library under gunicorn.
"""
from __future__ import annotations

import logging
import sys
import threading
from typing import Any, TextIO

from .. import forking
from ..envelope import REQUEST_LINE, log_safe
from ..redaction import REDACTED, SECRET_PARAMS, redact_secrets

try:
    from gunicorn.glogging import Logger as _GunicornBase
except ImportError:               # gunicorn is optional (s3service[server]): serve says so
    _GunicornBase = object

__all__ = ["FORMAT", "REDACTED", "SECRET_PARAMS", "AccessFormatter", "GunicornLogger",
           "LogFormatter", "configure", "granian_logging", "redact_secrets"]

FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"
def redact_authorization(value: str) -> str:
    """An ``Authorization`` header's value with its signature (another scheme's secret) redacted."""
    scheme, _, rest = value.partition(" ")
    if scheme == "AWS":                                   # V2: AWS <key>:<signature>
        key, colon, _ = rest.partition(":")
        return f"AWS {key}{colon}{REDACTED}" if colon else value
    if scheme.startswith("AWS4-"):                        # V4: ..., Signature=<hex>
        return redact_secrets(value)
    return f"{scheme} {REDACTED}" if rest else value


class LogFormatter(logging.Formatter):
    """:data:`FORMAT`, each message written as the library writes its own
    (credentials redacted, what is not printable escaped), whichever logger it comes from.
    """

    def __init__(self, name: str | None = None) -> None:
        """``name``: shown instead of each record's logger name."""
        super().__init__(FORMAT if name is None else FORMAT.replace("%(name)s", name))

    def formatMessage(self, record: logging.LogRecord) -> str:
        # (the request line is written redacted and escaped by log_request itself)
        if record.msg is not REQUEST_LINE:
            message = redact_secrets(record.message)
            if not message.isprintable():    # (the library's own lines always are)
                message = log_safe(message)
            record.message = message
        return super().formatMessage(record)


def configure(level: str) -> None:
    """Log records of ``level`` and up on standard error, as :class:`LogFormatter` writes them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler])


class BatchingHandler(logging.StreamHandler):
    """A stream handler writing its lines in batches: at most :attr:`delay` seconds late.

    Under granian, a worker's threads hand the interpreter back and forth
    with granian's own; one write per line (``sys.stderr`` writes each line
    as it comes) gave it up at every request, which halved ``serve``'s
    requests per second with the request log on.  Lines of
    WARNING and up, and a batch of :attr:`batch` bytes, are written at once;
    the rest by a thread of this handler within :attr:`delay` seconds.  A
    process that ends must call :meth:`flush` (:func:`logging.shutdown` does).
    """

    delay = 0.5
    batch = 64 * 1024

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._size = 0
        self._due = threading.Event()
        self._flushing = False                  # this process's flusher thread runs
        forking.in_each_child(self._leave_to_parent)

    def _leave_to_parent(self) -> None:
        # A forked child leaves the lines its parent had not yet written to the
        # parent, and has no thread of its parent's: it starts its own flusher.
        self._pending, self._size = [], 0
        self._flushing = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        with self.lock:                          # type: ignore[union-attr]
            self._pending.append(line)
            self._size += len(line)
            now = record.levelno >= logging.WARNING or self._size >= self.batch
        if now:
            self.flush()
        elif not self._flushing:
            self._start_flusher()

    def _start_flusher(self) -> None:
        with self.lock:                          # type: ignore[union-attr]
            if self._flushing:
                return
            self._flushing = True
        threading.Thread(target=self._flush_every_so_often, name="s3service-log",
                         daemon=True).start()

    def _flush_every_so_often(self) -> None:
        while not self._due.wait(self.delay):
            if self._pending:
                self.flush()

    def flush(self) -> None:
        with self.lock:                          # type: ignore[union-attr]
            text, self._pending, self._size = "".join(self._pending), [], 0
            if text and self.stream is not None:
                try:
                    self.stream.write(text)
                    self.stream.flush()
                except (OSError, ValueError):    # (the stream is gone: nowhere to say so)
                    pass


# -- granian's logs (s3service serve) ---------------------------------------------------

class AccessFormatter(LogFormatter):
    """One access log line per request, from what granian tells of it.

    ``ADDRESS "METHOD PATH?QUERY PROTOCOL" STATUS MILLISECONDS`` after
    :data:`FORMAT`'s time, process and level; the query with its credentials
    redacted, the line escaped as :class:`LogFormatter` escapes.
    """

    def __init__(self) -> None:
        super().__init__("access")

    def formatMessage(self, record: logging.LogRecord) -> str:
        fields = record.args
        if isinstance(fields, dict) and "method" in fields:
            path, query = fields.get("path", ""), fields.get("query_string") or ""
            target = f"{path}?{query}" if query else path
            record.message = '{} - "{} {} {}" {} {:.3f}ms'.format(
                fields.get("addr", "-"), fields["method"], target, fields.get("protocol", ""),
                fields.get("status", "-"), float(fields.get("dt_ms", 0.0)))
        return super().formatMessage(record)


def granian_logging(level: str) -> dict[str, Any]:
    """The :func:`logging.config.dictConfig` of granian's processes (its ``log_dictconfig``).

    Every record of ``level`` and up on standard error as :class:`LogFormatter`
    writes it (granian's own lines named ``granian``), and the access log on
    standard output as :class:`AccessFormatter` writes it.  granian applies
    it in its main process and again in each worker.
    """
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "s3service": {"()": f"{__name__}.LogFormatter"},
            "granian": {"()": f"{__name__}.LogFormatter", "name": "granian"},
            "access": {"()": f"{__name__}.AccessFormatter"},
        },
        "handlers": {
            "s3service": {"class": f"{__name__}.BatchingHandler", "formatter": "s3service",
                          "stream": "ext://sys.stderr"},
            "granian": {"class": "logging.StreamHandler", "formatter": "granian",
                        "stream": "ext://sys.stderr"},
            "access": {"class": f"{__name__}.BatchingHandler", "formatter": "access",
                       "stream": "ext://sys.stdout"},
        },
        "root": {"handlers": ["s3service"], "level": level},
        "loggers": {
            "_granian": {"handlers": ["granian"], "level": level, "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


# -- gunicorn's logs ------------------------------------------------------------------

def _clean(value: str) -> str:
    return log_safe(redact_secrets(value))


class _RedactingFilter(logging.Filter):
    """On gunicorn's error log: credentials redacted, arguments (client text) escaped too."""

    def filter(self, record: logging.LogRecord) -> bool:
        # (gunicorn quotes what a client sent with %r, or passes it as an argument)
        record.msg = redact_secrets(str(record.msg))
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_clean(arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        return True


#: Access log atoms holding a query string or a request target.
_URI_ATOMS = ("r", "q", "{raw_uri}e", "{query_string}e")
_AUTHORIZATION_ATOMS = ("{authorization}i", "{http_authorization}e")
_TOKEN_ATOMS = ("{x-amz-security-token}i", "{http_x_amz_security_token}e")


class GunicornLogger(_GunicornBase):  # type: ignore[misc,valid-type]
    """gunicorn's logger, with no credential and no line of the client's in what it writes.

    Its error log (gunicorn's own messages) is written in :data:`FORMAT`, as
    s3service's lines are.

    In the access log, every atom holding the request target or the query
    string (``%(r)s``, ``%(q)s``, ``%({raw_uri}e)s``...) shows the signatures
    and session tokens of presigned URLs as ``<redacted>``, the
    ``Authorization`` and ``X-Amz-Security-Token`` headers are redacted too,
    and every atom is escaped as :func:`~s3service.envelope.log_safe` escapes;
    messages of the error log are redacted, their arguments escaped.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:     # one format on the console: ours
            handler.setFormatter(LogFormatter("gunicorn"))
        if not any(isinstance(f, _RedactingFilter) for f in self.error_log.filters):
            self.error_log.addFilter(_RedactingFilter())

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for name in _URI_ATOMS:
            value = atoms.get(name)
            if isinstance(value, str):
                atoms[name] = redact_secrets(value)
        for name in _AUTHORIZATION_ATOMS:
            value = atoms.get(name)
            if isinstance(value, str):
                atoms[name] = redact_authorization(value)
        for name in _TOKEN_ATOMS:
            if atoms.get(name):
                atoms[name] = REDACTED
        for name, value in atoms.items():
            if isinstance(value, str) and (not value.isprintable() or "\\" in value):
                atoms[name] = log_safe(value)
        return atoms
