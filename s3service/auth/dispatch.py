"""Which signature a request carries, and who signed it."""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ..backends.protocols import CredentialStore
from ..errors import AccessDenied, InvalidArgument
from ..identity import Identity
from ..wsgi import parse_query, wire_text
from . import sigv2, sigv4

__all__ = ["Authenticated", "authenticate", "authenticate_request"]

_ONLY_ONE = ("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
             "Signature query string parameter or the Authorization header should be specified")
# Query parameters that make a request query-signed.
_V4_PARAMS = frozenset({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"})
_V2_PARAMS = frozenset({"AWSAccessKeyId", "Signature"})
_QUERY_AUTH = _V4_PARAMS | _V2_PARAMS


class Authenticated(NamedTuple):
    """Who signed a request and, for SigV4, the seed of its body's chunk signatures."""

    identity: Identity | None
    seed: sigv4.SeedSignature | None


def authenticate(environ: Mapping[str, object], credentials: CredentialStore, *, region: str,
                 max_skew: float = 900.0, now: float | None = None,
                 service_hosts: Sequence[str] = (), payload_hash: str | None = None,
                 query: Sequence[tuple[str, str]] | None = None) -> Identity | None:
    """Check the request's AWS signature (V2 or V4, header or presigned URL).

    Returns the signer's :class:`Identity`, or ``None`` for an anonymous
    request (no ``Authorization`` header and no authentication query
    parameters).  An empty (or blank) ``Authorization`` header is not
    anonymous: it is refused with ``AccessDenied``, as S3 does.  Raises the
    :class:`~s3service.errors.S3Error` S3 would answer; exceptions from
    ``credentials`` propagate unchanged.

    ``region`` is the region this endpoint serves, ``max_skew`` the allowed
    clock difference in seconds, ``now`` the current time in epoch seconds
    (default :func:`time.time`), and ``service_hosts`` the endpoint's host
    names, used to recognise virtual-hosted-style requests for V2.
    ``payload_hash``, the SHA-256 (hex) of a body the caller has read, stands
    in for a missing ``x-amz-content-sha256`` header in SigV4 header auth (as
    clients using a generic SigV4 signer send none).  ``query`` is the
    request's query string as :func:`~s3service.wsgi.parse_query` parses it,
    for a caller that has parsed it already.
    """
    return authenticate_request(environ, credentials, region=region, max_skew=max_skew, now=now,
                                service_hosts=service_hosts, payload_hash=payload_hash,
                                query=query).identity


def authenticate_request(environ: Mapping[str, object], credentials: CredentialStore, *,
                         region: str, max_skew: float = 900.0, now: float | None = None,
                         service_hosts: Sequence[str] = (), payload_hash: str | None = None,
                         query: Sequence[tuple[str, str]] | None = None,
                         service: str = sigv4.SERVICE) -> Authenticated:
    """:func:`authenticate`, also giving a SigV4 request's :class:`~.sigv4.SeedSignature`
    (what checking a signed-chunk body takes).  ``service``: the one a SigV4
    ``Authorization`` header's credential scope must name."""
    if now is None:
        now = time.time()
    authorization = environ.get("HTTP_AUTHORIZATION")
    if query is None:
        query_string = environ.get("QUERY_STRING")
        query = parse_query(query_string) if isinstance(query_string, str) else []
    if authorization is not None:
        # Echoed in errors and parsed as the client meant it: its bytes read as UTF-8.
        if not (type(authorization) is str and authorization.isascii()):
            authorization = wire_text(str(authorization))
        if not authorization.strip():
            raise AccessDenied()
        if query and any(name in _QUERY_AUTH for name, _ in query):
            raise InvalidArgument(_ONLY_ONE, ArgumentName="Authorization",
                                  ArgumentValue=authorization)
        scheme = authorization.partition(" ")[0]
        if scheme == sigv4.ALGORITHM:
            return Authenticated(*sigv4.verify_header(
                environ, authorization, query, credentials, region=region, now=now,
                max_skew=max_skew, payload_hash=payload_hash, service=service))
        if scheme == "AWS":
            return Authenticated(sigv2.verify_header(
                environ, authorization, query, credentials, now=now, max_skew=max_skew,
                service_hosts=service_hosts), None)
        raise InvalidArgument("Unsupported Authorization Type", ArgumentName="Authorization",
                              ArgumentValue=authorization)
    if not query:
        return Authenticated(None, None)
    names = {name for name, _ in query}
    if not names.isdisjoint(_V4_PARAMS):
        return Authenticated(*sigv4.verify_presigned(environ, query, credentials, region=region,
                                                     now=now, max_skew=max_skew))
    if not names.isdisjoint(_V2_PARAMS):
        return Authenticated(sigv2.verify_presigned(environ, query, credentials, now=now,
                                                    service_hosts=service_hosts), None)
    return Authenticated(None, None)
