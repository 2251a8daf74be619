"""AWS Signature Version 2 for S3 (``Authorization: AWS AK:sig`` and its presigned URLs).

The pure functions (:func:`canonical_resource`, :func:`string_to_sign`,
:func:`signature`) take decoded text; :func:`verify_header` and
:func:`verify_presigned` check a WSGI request.
"""
from __future__ import annotations

import base64
import hmac
from collections.abc import Iterable, Mapping, Sequence

from ..backends.protocols import CredentialStore
from ..errors import AccessDenied, InvalidArgument, S3Error, SignatureDoesNotMatch
from ..hosts import bucket_from_host, service_host_names
from ..identity import Identity
from ..wsgi import header, header_text, http_host, request_path, wire_text
from .common import (auth_params, check_skew, check_token, constant_time_equal, date_required,
                     format_iso8601, identity_for, lookup_credential, parse_amz_date,
                     parse_expires, parse_http_date, uri_encode_path, without_token)

__all__ = ["SUBRESOURCES", "bucket_from_host", "canonical_resource", "signature",
           "string_to_sign", "verify_header", "verify_presigned"]

#: The query parameters that are part of the signed resource.  S3's documented
#: list, plus the newer ones the AWS SDKs include when they sign with V2.
SUBRESOURCES = frozenset({
    "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber",
    "policy", "requestPayment", "restore", "tagging", "torrent", "uploadId", "uploads",
    "versionId", "versioning", "versions", "website",
    "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires",
    # Not in the original documentation, but signed by botocore.
    "accelerate", "analytics", "defaultObjectAcl", "inventory", "metrics", "object-lock",
    "replication", "select", "select-type", "storageClass",
})

_INVALID_HEADER = "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"
_MISSING_PARAMS = ("Query-string authentication requires the Signature, Expires and "
                   "AWSAccessKeyId parameters")
_QUERY_PARAMS = ("AWSAccessKeyId", "Signature", "Expires")


# -- the algorithm (pure) -------------------------------------------------------------

def canonical_resource(path: str, query_pairs: Iterable[tuple[str, str]],
                       bucket_from_host: str | None = None, *, bucket_slash: bool = True) -> str:
    """The resource line: ``/bucket`` (virtual-hosted), the S3-encoded path, sub-resources.

    ``path`` and ``query_pairs`` are decoded.  A path-style request for a
    bucket itself (``/bucket``) signs ``/bucket/`` as the SDKs do, unless
    ``bucket_slash`` is false (some clients sign the path as sent).
    Sub-resources are sorted by name and written as ``name=value``, or
    ``name`` when the value is empty.
    """
    resource = uri_encode_path(path)
    if bucket_from_host:
        resource = f"/{bucket_from_host}{resource}"
    elif bucket_slash and len(resource) > 1 and resource.find("/", 1) < 0:
        resource += "/"
    subs = sorted([pair for pair in query_pairs if pair[0] in SUBRESOURCES],
                  key=lambda pair: pair[0])
    if subs:
        resource += "?" + "&".join([f"{name}={value}" if value else name
                                    for name, value in subs])
    return resource


def string_to_sign(method: str, content_md5: str, content_type: str, date_or_expires: str,
                   amz_headers: Mapping[str, str], resource: str) -> str:
    """The string a V2 signature covers.

    ``amz_headers`` maps lowercase ``x-amz-*`` names to their (decoded) values;
    values are trimmed here.  ``date_or_expires`` is the ``Date`` header, the
    ``Expires`` parameter of a presigned URL, or empty when ``x-amz-date`` is
    among ``amz_headers``.
    """
    lines = [method, content_md5.strip(), content_type.strip(), date_or_expires.strip()]
    for name in sorted(amz_headers):
        lines.append(f"{name}:{amz_headers[name].strip()}")
    lines.append(resource)
    return "\n".join(lines)


def signature(secret: str, string_to_sign: str) -> str:
    """``base64(HMAC-SHA1(secret, string_to_sign))``."""
    digest = hmac.digest(secret.encode("utf-8", "surrogateescape"),
                         string_to_sign.encode("utf-8", "surrogateescape"), "sha1")
    return base64.b64encode(digest).decode("ascii")


# -- checking a request -------------------------------------------------------------------

def _amz_headers(environ: Mapping[str, object]) -> dict[str, str]:
    found = {}
    for key, value in environ.items():
        if key.startswith("HTTP_X_AMZ_") and isinstance(value, str):
            found[key[5:].lower().replace("_", "-")] = wire_text(value)
    return found


def _verify(environ: Mapping[str, object], credentials: CredentialStore, *, access_key: str,
            provided: str, token: str | None, content_md5: str, content_type: str,
            date_line: str, amz_headers: Mapping[str, str],
            query_pairs: Iterable[tuple[str, str]], service_hosts: Sequence[str],
            now: float) -> Identity:
    cred = lookup_credential(credentials, access_key)
    check_token(cred, token, now)
    method = wire_text(str(environ.get("REQUEST_METHOD") or ""))
    path = request_path(environ)
    bucket = bucket_from_host(wire_text(http_host(environ)), service_host_names(service_hosts))
    sts = string_to_sign(method, content_md5, content_type, date_line, amz_headers,
                         canonical_resource(path, query_pairs, bucket))
    if constant_time_equal(provided, signature(cred.secret_key, sts)):
        return identity_for(cred, "v2")
    # A path-style bucket request may have been signed as "/bucket" rather than "/bucket/".
    resource = canonical_resource(path, query_pairs, bucket, bucket_slash=False)
    if not sts.endswith(resource):
        alternative = string_to_sign(method, content_md5, content_type, date_line, amz_headers,
                                     resource)
        if constant_time_equal(provided, signature(cred.secret_key, alternative)):
            return identity_for(cred, "v2")
    shown = without_token(sts)
    raise SignatureDoesNotMatch(access_key=access_key, string_to_sign=shown, provided=provided)


def verify_header(environ: Mapping[str, object], authorization: str,
                  query_pairs: Sequence[tuple[str, str]], credentials: CredentialStore, *,
                  now: float, max_skew: float, service_hosts: Sequence[str] = ()) -> Identity:
    """Check a request signed in its ``Authorization: AWS AK:signature`` header.

    Returns the signer's identity or raises the S3Error S3 would answer.
    """
    access_key, colon, provided = authorization[3:].strip().partition(":")
    if not colon or not access_key or not provided:
        raise InvalidArgument(_INVALID_HEADER, ArgumentName="Authorization",
                              ArgumentValue=authorization)
    amz_date = header(environ, "x-amz-date")
    if amz_date is not None:
        date_text, date_line = amz_date, ""
        request_time = parse_http_date(amz_date)
        if request_time is None:
            request_time = parse_amz_date(amz_date.strip())
    else:
        date_text = date_line = header(environ, "date") or ""
        request_time = parse_http_date(date_text) if date_text else None
    if request_time is None or request_time < 0:    # S3 takes no date before 1970 as a date
        raise date_required()
    check_skew(request_time, date_text, now, max_skew)
    return _verify(environ, credentials, access_key=access_key, provided=provided,
                   token=header_text(environ, "x-amz-security-token"),
                   content_md5=wire_text(header(environ, "content-md5") or ""),
                   content_type=wire_text(header(environ, "content-type") or ""),
                   date_line=wire_text(date_line), amz_headers=_amz_headers(environ),
                   query_pairs=query_pairs, service_hosts=service_hosts, now=now)


def _duplicate_param(name: str) -> S3Error:
    return InvalidArgument(f"Query-string authentication requires exactly one {name} parameter",
                           ArgumentName=name)


def verify_presigned(environ: Mapping[str, object], query_pairs: Sequence[tuple[str, str]],
                     credentials: CredentialStore, *, now: float,
                     service_hosts: Sequence[str] = ()) -> Identity:
    """Check a presigned URL (``AWSAccessKeyId=...&Expires=...&Signature=...``).

    ``x-amz-*`` query parameters count as ``x-amz-*`` headers (that is how
    the SDKs carry the session token); ``Content-MD5`` and ``Content-Type``
    come from the headers, or failing that from same-named parameters.
    """
    params = auth_params(query_pairs, _QUERY_PARAMS, _duplicate_param)
    amz_headers = _amz_headers(environ)
    query_headers: dict[str, str] = {}
    for name, value in query_pairs:
        lower = name.lower()
        if lower.startswith("x-amz-"):
            amz_headers[lower] = f"{amz_headers[lower]},{value}" if lower in amz_headers else value
        elif lower in ("content-md5", "content-type"):
            query_headers.setdefault(lower, value)
    if len(params) != len(_QUERY_PARAMS):
        raise AccessDenied(_MISSING_PARAMS)

    expires_text = params["Expires"]
    expires = parse_expires(expires_text)
    if expires is None:
        raise AccessDenied(f"Invalid date (should be seconds since epoch): {expires_text}")
    if now > expires:
        raise AccessDenied("Request has expired", Expires=format_iso8601(expires),
                           ServerTime=format_iso8601(now))

    token = next((value for name, value in query_pairs
                  if name.lower() == "x-amz-security-token"), None)
    if token is None:
        token = header_text(environ, "x-amz-security-token")
    content_md5 = header(environ, "content-md5")
    content_type = header(environ, "content-type")
    return _verify(environ, credentials, access_key=params["AWSAccessKeyId"],
                   provided=params["Signature"], token=token,
                   content_md5=(wire_text(content_md5) if content_md5 is not None
                                else query_headers.get("content-md5", "")),
                   content_type=(wire_text(content_type) if content_type is not None
                                 else query_headers.get("content-type", "")),
                   date_line=expires_text, amz_headers=amz_headers, query_pairs=query_pairs,
                   service_hosts=service_hosts, now=now)
