"""Credentials out of log lines: the signatures and session tokens of presigned URLs.

Both the library's request log line (:func:`s3service.envelope.log_request`)
and ``serve``'s logs (:mod:`s3service.gateway.logs`) write query strings
through :func:`redact_secrets`.
"""
from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["REDACTED", "SECRET_PARAMS", "redact_query", "redact_secrets"]

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


def redact_query(query: str) -> str:
    """A query string with the values of :data:`SECRET_PARAMS` redacted, read as a server reads it.

    Parameters are what ``&`` separates, their names percent-decoded and
    compared in any case: every parameter a server would take for a credential.
    Cheaper than :func:`redact_secrets` (which also looks for them in free
    text): the request log line redacts every request's query with it.
    """
    lowered = query.lower()
    if "signature" not in lowered and "token" not in lowered and "%" not in query:
        return query
    parts = query.split("&")
    changed = False
    for index, part in enumerate(parts):
        name, _, value = part.partition("=")
        if "%" in name:
            name = unquote(name)
        if value and name.lower() in SECRET_PARAMS:
            parts[index] = f"{part.partition('=')[0]}={REDACTED}"
            changed = True
    return "&".join(parts) if changed else query
