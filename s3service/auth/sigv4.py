"""AWS Signature Version 4 for S3: the signing algorithm and its two request forms.

The first half is pure functions of strings (the canonical request, the string
to sign, the key derivation and the signature); the second half checks a WSGI
request signed in the ``Authorization`` header (:func:`verify_header`) or in
the query string of a presigned URL (:func:`verify_presigned`).
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ..backends.protocols import CredentialStore
from ..errors import (AccessDenied, AuthorizationHeaderMalformed,
                      AuthorizationQueryParametersError, InvalidArgument, InvalidRequest,
                      S3Error, SignatureDoesNotMatch)
from ..identity import Identity
from ..wsgi import environ_key, header, header_text, http_host, request_path, wire_text
from .common import (auth_params, check_skew, check_token, constant_time_equal, date_required,
                     format_iso8601, identity_for, lookup_credential, parse_amz_date,
                     parse_expires, parse_http_date, uri_encode, uri_encode_path, without_token)

__all__ = [
    "ALGORITHM", "MAX_EXPIRES", "UNSIGNED_PAYLOAD", "SeedSignature", "canonical_query",
    "canonical_request", "chunk_string_to_sign", "signature", "signing_key", "string_to_sign",
    "trailer_string_to_sign", "verify_header", "verify_presigned",
]

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
#: The longest a presigned URL may live: one week, in seconds.
MAX_EXPIRES = 604800

#: The values of ``x-amz-content-sha256`` other than a SHA-256 in hex.
PAYLOAD_KEYWORDS = frozenset({
    UNSIGNED_PAYLOAD, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"})

_MALFORMED = "The authorization header is malformed; "
_BAD_QUERY = "Error parsing the X-Amz-Credential parameter; "
_THREE_PARTS = ("the authorization header requires three components: "
                "Credential, SignedHeaders, and Signature.")
_BAD_CREDENTIAL = ('the Credential is mal-formed; expecting '
                   '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".')
_BAD_SHA256 = ("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
               "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER "
               "or a valid sha256 value.")
_QUERY_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
                 "X-Amz-SignedHeaders", "X-Amz-Expires")
_MISSING_PARAMS = ("Query-string authentication version 4 requires the X-Amz-Algorithm, "
                   "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
                   "and X-Amz-Expires parameters.")
#: The query parameters of a presigned URL (``X-Amz-Security-Token`` is optional).
QUERY_AUTH_PARAMS = frozenset(_QUERY_PARAMS + ("X-Amz-Security-Token",))


# -- the algorithm (pure) ---------------------------------------------------------

def canonical_query(query_pairs: Iterable[tuple[str, str]]) -> str:
    """The canonical query string: each name and value S3-encoded, sorted, joined by ``&``."""
    encoded = sorted([(uri_encode(name), uri_encode(value)) for name, value in query_pairs])
    return "&".join([f"{name}={value}" for name, value in encoded])


def canonical_request(method: str, path: str, query_pairs: Iterable[tuple[str, str]],
                      headers: Mapping[str, str], signed_headers: Sequence[str],
                      payload_hash: str) -> str:
    """The canonical request a SigV4 signature covers.

    All text is decoded (what the client signed): ``path`` is the unescaped
    path, ``query_pairs`` the unescaped ``(name, value)`` pairs (for a
    presigned URL, without ``X-Amz-Signature``), ``headers`` maps lowercase
    names to values; a signed header missing from it counts as empty.  Bytes
    that are not UTF-8 travel as lone surrogates (``surrogateescape``), which
    is also how the result is hashed.
    """
    # Each value trimmed, its inner runs of whitespace made one space (as the SDKs do).
    canonical_headers = "".join([f"{name}:{' '.join(headers.get(name, '').split())}\n"
                                 for name in signed_headers])
    return "\n".join([
        method,
        uri_encode_path(path),
        canonical_query(query_pairs),
        canonical_headers,
        ";".join(signed_headers),
        payload_hash,
    ])


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    """The string to sign: algorithm, timestamp, scope (``date/region/s3/aws4_request``), hash."""
    digest = hashlib.sha256(_utf8(canonical_request)).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


@lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The key derived from ``secret`` for one day, region and service (cached)."""
    key = hmac.digest(_utf8("AWS4" + secret), _utf8(date), "sha256")
    key = hmac.digest(key, _utf8(region), "sha256")
    key = hmac.digest(key, _utf8(service), "sha256")
    return hmac.digest(key, b"aws4_request", "sha256")


def signature(key: bytes, string_to_sign: str) -> str:
    """The signature of ``string_to_sign`` under a derived ``key``, in lowercase hex."""
    return hmac.digest(key, _utf8(string_to_sign), "sha256").hex()


_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def chunk_string_to_sign(amz_date: str, scope: str, previous: str, chunk_sha256: str) -> str:
    """What one chunk of an ``aws-chunked`` body signs: its data's SHA-256 (hex),
    chained to the ``previous`` signature (the request's own for the first chunk)."""
    return (f"{ALGORITHM}-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{_EMPTY_SHA256}\n"
            f"{chunk_sha256}")


def trailer_string_to_sign(amz_date: str, scope: str, previous: str, trailer_sha256: str) -> str:
    """What the trailer of an ``aws-chunked`` body signs: the SHA-256 (hex) of its
    canonical lines (``name:value\\n`` each), chained to the final chunk's signature."""
    return f"{ALGORITHM}-TRAILER\n{amz_date}\n{scope}\n{previous}\n{trailer_sha256}"


@dataclass(frozen=True, slots=True)
class SeedSignature:
    """What checking the chunk signatures of a request's body takes: the derived key,
    the request's timestamp and scope, and its verified signature (the chain's seed).

    Holds a derived key (one day, region and service), never the secret itself;
    keep it out of logs and answers.
    """

    key: bytes = field(repr=False)
    amz_date: str
    scope: str
    seed: str


# -- checking a request ---------------------------------------------------------------

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def _is_hex64(text: str) -> bool:
    """Whether ``text`` is 64 hexadecimal digits (a SHA-256 in hex)."""
    return _HEX64.fullmatch(text) is not None


def _parse_credential(credential: str, region: str, error: type[S3Error],
                      prefix: str, service: str = SERVICE) -> tuple[str, str]:
    """``(access_key, date)`` of a credential ``AK/date/region/SERVICE/aws4_request``."""
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise error(prefix + _BAD_CREDENTIAL)
    access_key, date, cred_region, scope_service, terminal = parts
    if cred_region != region:
        raise error(f"{prefix}the region '{cred_region}' is wrong; expecting '{region}'",
                    Region=region)
    if scope_service != service:
        raise error(f'{prefix}incorrect service "{scope_service}". '
                    f'This endpoint belongs to "{service}".')
    if terminal != TERMINATOR:
        raise error(f'{prefix}incorrect terminal "{terminal}". '
                    f'This endpoint uses "{TERMINATOR}".')
    return access_key, date


def _check_date(scope_date: str, amz_date: str, error: type[S3Error], prefix: str) -> None:
    if scope_date != amz_date[:8]:
        raise error(f'{prefix}Invalid credential date "{scope_date}". '
                    f'This date is not the same as X-Amz-Date: "{amz_date[:8]}".')


def _header_name(key: str) -> str:
    """The header name an environ key stands for: ``HTTP_X_AMZ_DATE`` is ``x-amz-date``."""
    return wire_text(key[5:].lower().replace("_", "-"))


def _check_signed_headers(environ: Mapping[str, object], signed_headers: Sequence[str]) -> None:
    """Refuse a request whose ``host`` or any ``x-amz-*`` header is not signed."""
    signed_keys = {environ_key(name) for name in signed_headers}
    unsigned = []
    for key in environ:
        if key.startswith("HTTP_X_AMZ_"):
            name = _header_name(key)
            # (a key such as HTTP_X_AMZ_date names a signed header, but not the one
            # whose value was read and signed)
            if key not in signed_keys or name not in signed_headers:
                unsigned.append(name)
    if "host" not in signed_headers:
        unsigned.append("host")
    if unsigned:
        raise AccessDenied("There were headers present in the request which were not signed",
                           HeadersNotSigned=", ".join(sorted(unsigned)))


def _signed_header_values(environ: Mapping[str, object],
                          signed_headers: Sequence[str]) -> dict[str, str]:
    """The text of each signed header, by name ("" for one not sent)."""
    values = {}
    for name in signed_headers:
        value = environ.get(environ_key(name))
        if not isinstance(value, str):
            value = http_host(environ) if name == "host" else ""
        values[name] = wire_text(value)
    return values


def _payload_hash(environ: Mapping[str, object], default: str | None) -> str:
    value = header(environ, "x-amz-content-sha256")
    if value is None:
        if default is None:
            raise InvalidRequest("Missing required header for this request: x-amz-content-sha256")
        return default
    if not _is_hex64(value) and value not in PAYLOAD_KEYWORDS:
        raise InvalidArgument(_BAD_SHA256, ArgumentName="x-amz-content-sha256",
                              ArgumentValue=wire_text(value))
    return value


def _verify(environ: Mapping[str, object], credentials: CredentialStore, *, access_key: str,
            amz_date: str, scope_date: str, region: str, query_pairs: Iterable[tuple[str, str]],
            signed_headers: Sequence[str], payload_hash: str, provided: str, token: str | None,
            now: float, service: str = SERVICE) -> tuple[Identity, SeedSignature]:
    """Look the key up, check its token, and compare the signatures."""
    cred = lookup_credential(credentials, access_key)
    check_token(cred, token, now)
    creq = canonical_request(wire_text(str(environ.get("REQUEST_METHOD") or "")),
                             request_path(environ), query_pairs,
                             _signed_header_values(environ, signed_headers), signed_headers,
                             payload_hash)
    scope = f"{scope_date}/{region}/{service}/{TERMINATOR}"
    sts = string_to_sign(amz_date, scope, creq)
    key = signing_key(cred.secret_key, scope_date, region, service)
    expected = signature(key, sts)
    if not constant_time_equal(provided, expected):
        shown = without_token(creq)
        raise SignatureDoesNotMatch(access_key=access_key, string_to_sign=sts, provided=provided,
                                    canonical_request=shown)
    return identity_for(cred, "v4"), SeedSignature(key, amz_date, scope, expected)


def _parse_authorization(authorization: str, region: str,
                         service: str = SERVICE) -> tuple[str, str, list[str], str]:
    """``(access_key, scope_date, signed_headers, signature)`` of a SigV4 ``Authorization``
    header (``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``).

    The three fields may come in any order; each must come once.
    """
    if not authorization.startswith(ALGORITHM):
        raise AuthorizationHeaderMalformed(_MALFORMED + _THREE_PARTS)
    fields: dict[str, str] = {}
    for part in authorization[len(ALGORITHM):].split(","):
        name, eq, value = part.strip().partition("=")
        if not eq or name not in ("Credential", "SignedHeaders", "Signature") or name in fields:
            raise AuthorizationHeaderMalformed(_MALFORMED + _THREE_PARTS)
        fields[name] = value
    if len(fields) != 3:
        raise AuthorizationHeaderMalformed(_MALFORMED + _THREE_PARTS)
    access_key, scope_date = _parse_credential(fields["Credential"], region,
                                               AuthorizationHeaderMalformed, _MALFORMED, service)
    provided = fields["Signature"]
    if not _is_hex64(provided):
        raise AuthorizationHeaderMalformed(
            _MALFORMED + "the Signature must be 64 hexadecimal characters.")
    return access_key, scope_date, fields["SignedHeaders"].split(";"), provided


def verify_header(environ: Mapping[str, object], authorization: str,
                  query_pairs: Sequence[tuple[str, str]], credentials: CredentialStore, *,
                  region: str, now: float, max_skew: float,
                  payload_hash: str | None = None,
                  service: str = SERVICE) -> tuple[Identity, SeedSignature]:
    """Check a request signed in its ``Authorization: AWS4-HMAC-SHA256 ...`` header.

    ``query_pairs`` is the parsed query string.  ``payload_hash`` is the body's
    SHA-256 (hex) for a caller that has read it: it stands in for a missing
    ``x-amz-content-sha256`` header, which is otherwise required.  Returns the
    signer's identity or raises the :class:`~s3service.errors.S3Error` S3 would answer.
    ``service`` is the one the credential scope must name (``iam`` and ``sts`` for
    :mod:`s3service.iam`).
    """
    access_key, scope_date, signed_headers, provided = _parse_authorization(authorization,
                                                                            region, service)
    payload_hash = _payload_hash(environ, payload_hash)

    amz_date = header(environ, "x-amz-date")
    if amz_date is not None:
        request_time = parse_amz_date(amz_date)
        date_text = amz_date
    else:
        date_text = header(environ, "date") or ""
        request_time = parse_http_date(date_text) if date_text else None
        if request_time is not None:
            amz_date = format_iso8601(request_time).replace("-", "").replace(":", "")
    if request_time is None or amz_date is None:
        raise date_required()
    _check_date(scope_date, amz_date, AuthorizationHeaderMalformed, _MALFORMED)

    _check_signed_headers(environ, signed_headers)
    check_skew(request_time, date_text, now, max_skew)
    return _verify(environ, credentials, access_key=access_key, amz_date=amz_date,
                   scope_date=scope_date, region=region, query_pairs=query_pairs,
                   signed_headers=signed_headers, payload_hash=payload_hash, provided=provided,
                   token=header_text(environ, "x-amz-security-token"), now=now, service=service)


def _duplicate_param(name: str) -> S3Error:
    return AuthorizationQueryParametersError(
        f"Query-string authentication version 4 requires exactly one {name} parameter.")


def verify_presigned(environ: Mapping[str, object], query_pairs: Sequence[tuple[str, str]],
                     credentials: CredentialStore, *, region: str, now: float,
                     max_skew: float) -> tuple[Identity, SeedSignature]:
    """Check a presigned URL (``X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...``).

    ``query_pairs`` is the parsed query string.  Returns what :func:`verify_header`
    returns, or raises the :class:`~s3service.errors.S3Error` S3 would answer.
    """
    params = auth_params(query_pairs, QUERY_AUTH_PARAMS, _duplicate_param)
    algorithm = params.get("X-Amz-Algorithm")
    if algorithm is not None and algorithm != ALGORITHM:
        raise AuthorizationQueryParametersError(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    if any(name not in params for name in _QUERY_PARAMS):
        raise AuthorizationQueryParametersError(_MISSING_PARAMS)

    access_key, scope_date = _parse_credential(params["X-Amz-Credential"], region,
                                               AuthorizationQueryParametersError, _BAD_QUERY)
    amz_date = params["X-Amz-Date"]
    request_time = parse_amz_date(amz_date)
    if request_time is None:
        raise AuthorizationQueryParametersError(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    _check_date(scope_date, amz_date, AuthorizationQueryParametersError, _BAD_QUERY)

    expires_text = params["X-Amz-Expires"]
    expires = parse_expires(expires_text)
    if expires is None:
        raise AuthorizationQueryParametersError("X-Amz-Expires should be a number")
    if expires <= 0:
        raise AuthorizationQueryParametersError("X-Amz-Expires must be non-negative")
    if expires > MAX_EXPIRES:
        raise AuthorizationQueryParametersError(
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES}")
    if now > request_time + expires:
        raise AccessDenied("Request has expired", **{
            "X-Amz-Expires": expires_text, "Expires": format_iso8601(request_time + expires),
            "ServerTime": format_iso8601(now)})
    if request_time > now + max_skew:
        raise AccessDenied("Request is not yet valid")

    signed_headers = params["X-Amz-SignedHeaders"].split(";")
    _check_signed_headers(environ, signed_headers)
    token = params.get("X-Amz-Security-Token")
    if token is None:
        token = header_text(environ, "x-amz-security-token")
    return _verify(environ, credentials, access_key=access_key, amz_date=amz_date,
                   scope_date=scope_date, region=region,
                   query_pairs=[p for p in query_pairs if p[0] != "X-Amz-Signature"],
                   signed_headers=signed_headers,
                   payload_hash=_payload_hash(environ, UNSIGNED_PAYLOAD),
                   provided=params["X-Amz-Signature"], token=token, now=now)
