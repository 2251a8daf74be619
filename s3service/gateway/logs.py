"""How ``s3service serve`` writes its log: every record on standard error, one line each.

Every line reads ``2026-01-02 03:04:05,678 [pid] [INFO] s3service: ...``.

No line ``serve`` writes shows a credential or lets a client start a line of
its own: :func:`redact_secrets` blanks out the signatures and session tokens
of presigned URLs (``X-Amz-Signature=<redacted>``), and what is not printable
is escaped (:func:`~s3service.envelope.log_safe`) -- in the library's lines,
in other libraries' lines (:class:`LogFormatter`), and in gunicorn's error and
access logs (:class:`GunicornLogger`, the ``logger_class`` ``serve`` runs
gunicorn with).
"""
from __future__ import annotations

import logging
import re
import sys
from typing import Any
from urllib.parse import unquote

from ..envelope import log_safe

try:
    from gunicorn.glogging import Logger as _GunicornBase
except ImportError:               # gunicorn is optional (s3service[server]): serve says so
    _GunicornBase = object

__all__ = ["FORMAT", "REDACTED", "SECRET_PARAMS", "GunicornLogger", "LogFormatter", "configure",
           "redact_secrets"]

FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"
REDACTED = "<redacted>"
#: Query parameters holding a credential (compared as a server decodes them:
#: percent-decoded, in any case).  The access key (``X-Amz-Credential``,
#: ``AWSAccessKeyId``) is no secret and stays.
SECRET_PARAMS = frozenset({"x-amz-signature", "signature", "x-amz-security-token"})

# (a cheap look first: most text holds no parameter that could be one of them)
_HINT = re.compile(r"signature|token|%", re.IGNORECASE)
# name=value at the start of a query string, a parameter, a word or a quoted text
_PARAM = re.compile(r"(?<![^\s?&,;'\"])([\w.~%+-]+)=([^\s&'\"]*)")


def _redact_param(match: re.Match) -> str:
    name = match.group(1)
    decoded = unquote(name) if "%" in name else name
    if decoded.lower() in SECRET_PARAMS and match.group(2):
        return f"{name}={REDACTED}"
    return match.group(0)


def redact_secrets(text: str) -> str:
    """``text`` (a query string, a request line, a message) with each credential's value redacted.

    Every parameter of :data:`SECRET_PARAMS` -- ``X-Amz-Signature``, V2's
    ``Signature``, ``X-Amz-Security-Token`` -- reads ``name=<redacted>``; text
    holding none of them is returned as it is.
    """
    if "=" not in text or _HINT.search(text) is None:
        return text
    return _PARAM.sub(_redact_param, text)


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
        message = redact_secrets(record.message)
        if not message.isprintable():    # (the library's own lines always are: escaped once)
            message = log_safe(message)
        record.message = message
        return super().formatMessage(record)


def configure(level: str) -> None:
    """Log records of ``level`` and up on standard error, as :class:`LogFormatter` writes them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler])


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
