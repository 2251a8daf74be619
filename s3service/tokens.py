"""Continuation tokens for paged ListBuckets: opaque, short and tamper-evident.

A token carries the last bucket name a page returned and a digest of what the
listing was filtered by (account, prefix, region), sealed with an HMAC.  The
listing always runs for the authenticated account, so a token can only say
where to resume; binding the filters means it cannot change them either.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

_VERSION = b"\x01"
_DIGEST = 8   # bytes of the filter digest
_MAC = 16     # bytes of the truncated HMAC-SHA256
MAX_LENGTH = 1024


class BadToken(ValueError):
    """The token is empty, malformed, modified, or from another listing."""


def _filters(account_id: str, prefix: str, region: str | None) -> bytes:
    material = "\0".join((account_id, prefix, "\1" if region is None else region))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).digest()[:_DIGEST]


def encode(key: bytes, account_id: str, prefix: str, region: str | None, after: str) -> str:
    """A token that resumes the listing after the bucket named ``after``."""
    body = _VERSION + _filters(account_id, prefix, region) + after.encode("utf-8", "surrogatepass")
    mac = hmac.new(key, body, hashlib.sha256).digest()[:_MAC]
    return base64.urlsafe_b64encode(body + mac).decode("ascii")


def decode(key: bytes, token: str, account_id: str, prefix: str, region: str | None) -> str:
    """The bucket name to resume after; raises :class:`BadToken` unless the token is ours and fits."""
    if not token or len(token) > MAX_LENGTH:
        raise BadToken("empty or oversized")
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (UnicodeError, binascii.Error, ValueError):
        raise BadToken("not base64") from None
    if len(raw) <= 1 + _DIGEST + _MAC or raw[:1] != _VERSION:
        raise BadToken("malformed")
    body, mac = raw[:-_MAC], raw[-_MAC:]
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()[:_MAC]):
        raise BadToken("modified or foreign")
    if not hmac.compare_digest(body[1:1 + _DIGEST], _filters(account_id, prefix, region)):
        raise BadToken("from another listing")
    try:
        return body[1 + _DIGEST:].decode("utf-8")
    except UnicodeDecodeError:
        raise BadToken("malformed") from None
