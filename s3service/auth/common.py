"""Parsing and checks shared by both signature versions.

Everything here is defensive: the input comes straight off the wire, so every
parser returns ``None`` (or raises an :class:`~s3service.errors.S3Error`) on
bad input instead of letting a ``ValueError`` or ``UnicodeError`` escape.
"""
from __future__ import annotations

import hmac
import re
from calendar import timegm
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from functools import lru_cache
from time import gmtime, strftime
from urllib.parse import quote_from_bytes

from ..backends.base import Credential
from ..backends.protocols import CredentialStore
from ..errors import (AccessDenied, ExpiredToken, InvalidAccessKeyId, InvalidToken, S3Error,
                      RequestTimeTooSkewed)
from ..identity import Identity
from ..wsgi import wire_text

__all__ = [
    "DATE_REQUIRED", "auth_params", "check_skew", "check_token", "constant_time_equal",
    "date_required", "format_iso8601", "identity_for", "lookup_credential",
    "parse_amz_date", "parse_expires", "parse_http_date", "uri_encode", "uri_encode_path",
    "without_token",
]

#: The message S3 gives when a signed request carries no usable date.
DATE_REQUIRED = "AWS authentication requires a valid Date or x-amz-date header"


# -- text ------------------------------------------------------------------------

def constant_time_equal(a: str, b: str) -> bool:
    """Compare two strings in time independent of where they differ."""
    if a.isascii() and b.isascii():  # (signatures are hex) compare_digest takes ASCII str
        return hmac.compare_digest(a, b)
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"),
                               b.encode("utf-8", "surrogatepass"))


# -- URI encoding ------------------------------------------------------------------

_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*", re.ASCII).fullmatch
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9_.~/-]*", re.ASCII).fullmatch


def uri_encode(text: str) -> str:
    """S3-encode text from its UTF-8 bytes: all but ``A-Za-z0-9-_.~`` as ``%XX`` (``/`` too).

    Lone surrogates (from :func:`wire_text`) stand for the raw bytes they escape.
    """
    if _UNRESERVED(text) is not None:  # the common case: nothing to escape
        return text
    return quote_from_bytes(text.encode("utf-8", "surrogateescape"), "")


def uri_encode_path(path: str) -> str:
    """S3-encode a decoded path: like :func:`uri_encode` but keeping ``/``."""
    if path == "/" or _UNRESERVED_PATH(path) is not None:  # (the service's own path first)
        return path
    return quote_from_bytes(path.encode("utf-8", "surrogateescape"), "/")


# -- dates ------------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_LONG_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_MONTH_RE = "|".join(_MONTHS)
_ZONE = r"(GMT|UTC|UT|Z|[+-]\d{4})"
_TIME = r"(\d{2}):(\d{2}):(\d{2})"
# RFC 1123 (``Sun, 06 Nov 1994 08:49:37 GMT``; also the numeric zones of RFC 2822,
# which is what ``email.utils.formatdate`` writes), RFC 850 and asctime.
_RFC1123 = re.compile(rf"(?:{_DAYS}), (\d{{1,2}}) ({_MONTH_RE}) (\d{{4}}) {_TIME} {_ZONE}",
                      re.ASCII)
_RFC850 = re.compile(rf"(?:{_LONG_DAYS}), (\d{{2}})-({_MONTH_RE})-(\d{{2}}) {_TIME} {_ZONE}",
                     re.ASCII)
_ASCTIME = re.compile(rf"(?:{_DAYS}) ({_MONTH_RE}) ([ \d]\d) {_TIME} (\d{{4}})", re.ASCII)


def _epoch(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int | None:
    try:
        datetime(year, month, day, hour, minute, second)  # validates every field
    except ValueError:
        return None
    return timegm((year, month, day, hour, minute, second, 0, 0, 0))


def _zone_offset(zone: str) -> int:
    if zone[0] in "+-":
        minutes = int(zone[1:3]) * 60 + int(zone[3:5])
        return minutes * 60 if zone[0] == "+" else -minutes * 60
    return 0


@lru_cache(maxsize=256)
def parse_http_date(text: str) -> int | None:
    """Epoch seconds of an HTTP date (RFC 1123, RFC 850 or asctime), or ``None`` if invalid."""
    text = text.strip()
    m = _RFC1123.fullmatch(text)
    if m is not None:
        day, month, year, hh, mm, ss, zone = m.groups()
        t = _epoch(int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss))
        return None if t is None else t - _zone_offset(zone)
    m = _RFC850.fullmatch(text)
    if m is not None:
        day, month, yy, hh, mm, ss, zone = m.groups()
        year = int(yy) + (2000 if int(yy) < 70 else 1900)
        t = _epoch(year, _MONTHS[month], int(day), int(hh), int(mm), int(ss))
        return None if t is None else t - _zone_offset(zone)
    m = _ASCTIME.fullmatch(text)
    if m is not None:
        month, day, hh, mm, ss, year = m.groups()
        return _epoch(int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss))
    return None


@lru_cache(maxsize=256)  # requests signed in the same second share their date
def parse_amz_date(text: str) -> int | None:
    """Epoch seconds of an ISO 8601 basic timestamp (``20130524T000000Z``), or ``None``."""
    if (len(text) != 16 or text[8] != "T" or text[15] != "Z" or not text.isascii()
            or not text[:8].isdigit() or not text[9:15].isdigit()):
        return None
    return _epoch(int(text[0:4]), int(text[4:6]), int(text[6:8]),
                  int(text[9:11]), int(text[11:13]), int(text[13:15]))


def format_iso8601(epoch: float) -> str:
    """``2024-01-02T00:00:00Z``: how S3 shows times such as ``ServerTime``."""
    try:
        return strftime("%Y-%m-%dT%H:%M:%SZ", gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return str(int(epoch))


def check_skew(request_time: int, request_time_text: str, now: float, max_skew: float) -> None:
    """Raise ``RequestTimeTooSkewed`` if ``request_time`` is more than ``max_skew`` from ``now``.

    ``request_time_text`` is the date header's value as the environ holds it.
    """
    if abs(request_time - now) > max_skew:
        raise RequestTimeTooSkewed(request_time=wire_text(request_time_text),
                                   server_time=format_iso8601(now),
                                   max_skew_ms=int(max_skew * 1000))


def parse_expires(text: str) -> int | None:
    """The integer an ``Expires`` parameter holds, or ``None`` if it is not one.

    An optional ``-`` then 1 to 18 ASCII digits: no more, so that the times
    worked out from it stay within what a 64-bit timestamp holds.
    """
    digits = text[1:] if text[:1] == "-" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        return None
    return int(text)


# -- query-string authentication ---------------------------------------------------------

def auth_params(query_pairs: Iterable[tuple[str, str]], names: Collection[str],
                error: Callable[[str], S3Error]) -> dict[str, str]:
    """The value of each parameter of ``names`` the query holds, by name.

    A presigned URL carries each of them at most once: ``error(name)`` is
    raised for the first one found twice.
    """
    params: dict[str, str] = {}
    for name, value in query_pairs:
        if name in names:
            if name in params:
                raise error(name)
            params[name] = value
    return params


# -- credentials --------------------------------------------------------------------

def lookup_credential(credentials: CredentialStore, access_key: str) -> Credential:
    """The active credential for ``access_key``; raises ``InvalidAccessKeyId`` otherwise.

    Exceptions raised by the store propagate unchanged.
    """
    # Access keys are printable ASCII without spaces and at most 128 characters
    # (IAM's limit); anything else is refused without bothering the store.
    if not (0 < len(access_key) <= 128 and access_key.isascii() and access_key.isprintable()
            and " " not in access_key):
        raise InvalidAccessKeyId(AWSAccessKeyId=access_key)
    cred = credentials.get_credential(access_key)
    if cred is None or not cred.active:
        raise InvalidAccessKeyId(AWSAccessKeyId=access_key)
    return cred


def check_token(cred: Credential, token: str | None, now: float) -> None:
    """Check the session token a request carried (``None`` if none) against ``cred``.

    Raises ``InvalidToken`` if a session key came without its token (or with
    another one) or a long-term key came with a token, and ``ExpiredToken`` if
    the session has expired.
    """
    expected = cred.session_token
    if expected is None:
        if token is not None:
            raise InvalidToken()
        return
    if token is None or not constant_time_equal(token, expected):
        raise InvalidToken()
    if cred.expires is not None and cred.expires.timestamp() <= now:
        raise ExpiredToken()


_TOKEN_HEADER = re.compile(r"^(x-amz-security-token:).*$", re.IGNORECASE | re.MULTILINE)
_TOKEN_PARAM = re.compile(r"(^|&)(X-Amz-Security-Token=)[^&\n]*", re.IGNORECASE | re.MULTILINE)
REDACTED = "<redacted>"


def without_token(text: str) -> str:
    """A canonical request or string to sign with any session token's value blanked out.

    S3 echoes these to help a client find why its signature differs; the
    token is a credential, so it is never sent back (nor seen by proxies and
    logs on the way).
    """
    text = _TOKEN_HEADER.sub(r"\g<1>" + REDACTED, text)
    return _TOKEN_PARAM.sub(r"\g<1>\g<2>" + REDACTED, text)


_identities: dict[str, tuple[Credential, str, Identity]] = {}


def identity_for(cred: Credential, signature_version: str) -> Identity:
    """The :class:`Identity` a request signed with ``cred`` is made by.

    Made once per credential object a store hands out (stores cache those):
    making one costs more than the rest of a signature check's bookkeeping.
    """
    entry = _identities.get(cred.access_key)
    if entry is not None and entry[0] is cred and entry[1] == signature_version:
        return entry[2]
    identity = Identity(account_id=cred.account_id, display_name=cred.display_name,
                        access_key=cred.access_key, user=cred.user,
                        signature_version=signature_version)
    if len(_identities) >= 4096:  # bounded: forget them all now and then
        _identities.clear()
    _identities[cred.access_key] = (cred, signature_version, identity)
    return identity


def date_required() -> S3Error:
    """The error for a signed request without a usable date."""
    return AccessDenied(DATE_REQUIRED)

