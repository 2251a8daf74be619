"""Reading a WSGI request: its text as the client sent it, its query string and headers.

PEP 3333 hands header values and the path over as latin-1 decoded bytes;
:func:`wire_text` turns them back into the text the client meant.  Nothing
here is specific to S3.
"""
from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote_to_bytes

__all__ = ["environ_key", "header", "header_text", "http_host", "parse_query", "request_path",
           "wire_text", "wsgi_bytes"]


# -- bytes and text ------------------------------------------------------------

def wsgi_bytes(text: str) -> bytes:
    """The raw bytes behind a WSGI string (PEP 3333 strings are latin-1 decoded bytes).

    A string that is not valid WSGI (characters above U+00FF) is UTF-8 encoded
    instead, so this never raises.
    """
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def wire_text(text: str) -> str:
    """A WSGI header value as the text the client meant: its bytes decoded as UTF-8.

    Bytes that are not UTF-8 are kept as surrogate escapes, so encoding the
    result with ``("utf-8", "surrogateescape")`` gives back the exact bytes
    that were sent (which is what the client's signature covers).
    """
    if text.isascii():
        return text
    return wsgi_bytes(text).decode("utf-8", "surrogateescape")



# -- the request target ----------------------------------------------------------

def request_path(environ: Mapping[str, object]) -> str:
    """The decoded request path (``SCRIPT_NAME`` + ``PATH_INFO``, see :func:`wire_text`).

    ``/`` when both are empty.
    """
    path = full_path(environ)
    return wire_text(path) if path else "/"


def full_path(environ: Mapping[str, object]) -> str:
    """``SCRIPT_NAME`` + ``PATH_INFO`` as the WSGI strings they are (``""`` when both are empty).

    The path the client sent and signed, whichever part of it a server puts in
    ``SCRIPT_NAME`` (gunicorn takes one from a ``SCRIPT_NAME`` request header
    sent by an address it trusts as a proxy).
    """
    script = environ.get("SCRIPT_NAME")
    path = environ.get("PATH_INFO") or ""
    return f"{script}{path}" if script else path  # type: ignore[return-value]


def parse_query(query_string: str | None) -> list[tuple[str, str]]:
    """Split a raw ``QUERY_STRING`` into decoded ``(name, value)`` pairs, in order.

    Duplicates and blank values are kept (``acl`` and ``acl=`` both give
    ``("acl", "")``); empty segments (``a&&b``) are dropped.  Names and values
    are percent-decoded with ``unquote`` semantics -- a ``+`` stays a ``+``, as
    SDKs always send a space as ``%20`` -- and decoded as UTF-8 (invalid
    sequences become U+FFFD).
    """
    if not query_string:
        return []
    pairs = []
    for segment in query_string.split("&"):
        if not segment:
            continue
        name, _, value = segment.partition("=")
        pairs.append((_unquote(name), _unquote(value)))
    return pairs


def _unquote(text: str) -> str:
    if "%" not in text and text.isascii():
        return text
    return unquote_to_bytes(wsgi_bytes(text)).decode("utf-8", "replace")



# -- headers --------------------------------------------------------------------

#: The environ keys of the headers requests usually name, made once.  Fixed: the
#: names a client signs (``SignedHeaders``) are looked up before anything tells
#: who it is, so no name a request brings is ever remembered.
_ENVIRON_KEYS: dict[str, str] = {
    "content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH",
    **{name: "HTTP_" + name.upper().replace("-", "_") for name in (
        "host", "date", "content-md5", "content-encoding", "content-language",
        "content-disposition", "cache-control", "expires", "expect", "range", "user-agent",
        "transfer-encoding", "if-match", "if-none-match", "if-modified-since",
        "if-unmodified-since", "amz-sdk-invocation-id", "amz-sdk-request",
        "x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "x-amz-user-agent",
        "x-amz-decoded-content-length", "x-amz-trailer", "x-amz-sdk-checksum-algorithm",
        "x-amz-checksum-algorithm", "x-amz-checksum-crc32", "x-amz-checksum-crc32c",
        "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256",
        "x-amz-acl", "x-amz-bucket-region", "x-amz-bucket-object-lock-enabled",
        "x-amz-object-ownership", "x-amz-expected-bucket-owner", "x-amz-request-payer",
        "x-amz-storage-class", "x-amz-server-side-encryption", "x-amz-copy-source",
        "x-amz-metadata-directive", "x-amz-tagging", "x-amz-website-redirect-location",
        "x-amz-mfa", "x-amz-api-version", "x-amz-target")},
}


def environ_key(name: str) -> str:
    """The WSGI environ key of request header ``name`` (lowercase): ``HTTP_X_AMZ_DATE``..."""
    key = _ENVIRON_KEYS.get(name)
    if key is None:     # (made afresh each time: see _ENVIRON_KEYS)
        key = "HTTP_" + name.upper().replace("-", "_")
    return key


def header(environ: Mapping[str, object], name: str) -> str | None:
    """The value of request header ``name`` (lowercase, e.g. ``"x-amz-date"``), or ``None``."""
    value = environ.get(environ_key(name))
    return value if isinstance(value, str) else None


def header_text(environ: Mapping[str, object], name: str) -> str | None:
    """Like :func:`header`, but the value decoded as the client meant it (:func:`wire_text`)."""
    value = header(environ, name)
    return None if value is None else wire_text(value)


def http_host(environ: Mapping[str, object]) -> str:
    """The ``Host`` the client sent, or ``SERVER_NAME[:SERVER_PORT]`` when it sent none."""
    host = environ.get("HTTP_HOST")
    if isinstance(host, str):
        return host
    name = str(environ.get("SERVER_NAME") or "")
    port = str(environ.get("SERVER_PORT") or "")
    default = "443" if environ.get("wsgi.url_scheme") == "https" else "80"
    return f"{name}:{port}" if port and port != default else name
