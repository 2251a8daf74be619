"""The WSGI middleware: answers S3's service-level requests, passes the rest on.

Example::

    from s3service import S3ServiceMiddleware
    from s3service.backends.memory import MemoryBackend

    store = MemoryBackend()
    app = S3ServiceMiddleware(gateway_app, credentials=store, buckets=store,
                              region="us-east-1", service_hosts=["s3.example.com"])

``GET /`` on a service host is ListBuckets; every other request goes to
``gateway_app`` with its environ and body untouched (unless
``authenticate_all`` is set, in which case its signature is checked first and
the caller's :class:`~s3service.identity.Identity`, or ``None`` for an
anonymous request, is put in ``environ["s3service.identity"]``, and for a
signed request the middleware's authorizer bound to the caller and the request,
a :class:`~s3service.authorization.RequestAuthorizer`, in
``environ["s3service.authorizer"]``: ``environ["s3service.authorizer"].is_allowed(
"s3:DeleteBucket", "arn:aws:s3:::photos")``).

With ``authenticate_all``, a request's body is also checked against what its
headers declare (:mod:`s3service.payload`): ``environ["wsgi.input"]`` becomes a
stream that hashes the body as the gateway reads it, and the read that reaches
the end raises the S3 error of a failed check (``XAmzContentSHA256Mismatch``,
``SignatureDoesNotMatch`` for a chunk, ``BadDigest``, ``IncompleteBody``...)
before returning.  If the gateway lets that error (or any
:class:`~s3service.errors.S3Error`) propagate before it starts its response,
the middleware answers it as S3's XML error.  The gateway finds:

``environ["s3service.payload"]``
    a :class:`~s3service.payload.PayloadReport`: ``content_sha256``,
    ``content_md5``, ``checksum_algorithm`` and ``checksum`` (an
    ``x-amz-checksum-*`` header's or trailer's algorithm, e.g. ``"CRC32"``,
    and base64 value, which the gateway may store and return), ``streaming``
    and ``decoded_length`` for an ``aws-chunked`` body, and ``verified``:
    ``True`` once the whole body has been read and every check held.  A
    gateway keeps what it wrote only then.
``CONTENT_LENGTH``
    for an ``aws-chunked`` body, the decoded length
    (``x-amz-decoded-content-length``); ``aws-chunked`` is taken out of
    ``HTTP_CONTENT_ENCODING`` and the gateway reads the decoded bytes.

``UNSIGNED-PAYLOAD`` bodies without ``Content-MD5`` or a checksum pass as they are.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache, partial
from typing import Any

from . import listing, timeouts, tokens
from .apperrors import answer_app_errors
from .auth import authenticate, authenticate_request
from .authorization import Authorizer, RequestAuthorizer, RequestContext, with_context
from .backends.base import BucketStore, CredentialStore
from .envelope import (AUTHORIZER_KEY, IDENTITY_KEY, REQUEST_ID_KEY, Exchange, Reply,
                       StartResponse, WSGIApp, answer)
from .errors import AccessDenied, InvalidArgument, MethodNotAllowed
from .hosts import bucket_from_host, service_host_names
from .identity import Identity
from .metrics.api import MetricsAPI
from .metrics.meter import Meter
from .metrics.operations import LIST_ALL_MY_BUCKETS, classify
from .payload import verify_payload
from .backends.metrics_base import MetricsStore
from .regions import DEFAULT_REGION
from .wsgi import parse_query

log = logging.getLogger("s3service")

SERVICE_RESOURCE = "arn:aws:s3:::*"
#: Longer names (or ones with control characters) are no bucket's: not metered per bucket.
MAX_BUCKET_NAME = 255


class S3ServiceMiddleware:
    """Serve S3's service level (``GET /``) in front of a storage gateway.

    :param app: the gateway's WSGI app; gets every request this does not answer.
    :param credentials: looks up access keys (:class:`~s3service.backends.base.CredentialStore`).
    :param buckets: lists an account's buckets (:class:`~s3service.backends.base.BucketStore`).
    :param authorizer: decides ``s3:ListAllMyBuckets`` (asked ``is_allowed_in`` with the
        request's :class:`~s3service.authorization.RequestContext` when it has that
        method); by default every authenticated caller may.  With
        ``authenticate_all``, the app behind is handed it too (see the module documentation).
        :class:`s3service.policies.PolicyAuthorizer` decides with IAM policies.
    :param region: the region this endpoint signs for (SigV4 credential scope).
    :param service_hosts: host names of the service; ``<bucket>.<host>`` is virtual-hosted
        bucket addressing and passes through.  Requests to any other host are path-style.
    :param clock_skew: seconds a signed request's date may differ from the server's.
    :param authenticate_all: also authenticate the requests passed on to ``app``.
    :param token_secret: key sealing ListBuckets continuation tokens; by default a key
        derived from the caller's own secret (so every process of a fleet agrees).
    :param metrics: a :class:`~s3service.metrics.MetricsStore` (``MemoryBackend`` and
        ``SQLBackend`` are ones): meter every request, and answer the Service
        Utilization API's ``POST /?Action=ListMetrics`` (see :mod:`s3service.metrics`).
        Without it ``POST /`` goes to ``app``.
    :param metrics_flush_interval: seconds between writes of the metered counts to
        ``metrics`` (they are also written every 10000 requests and at exit).
    :param metrics_admins: the operator accounts (account IDs) that may read the
        service-level (fleet-wide) metrics, and any account's, user's or bucket's;
        every other caller reads only its own account, users and buckets.
    :param backend_timeout: seconds a request may wait for the credential look-up and
        for the first page of a listing; past it the client gets ``503
        ServiceUnavailable`` and the call is abandoned (see :mod:`s3service.timeouts`).
        ``None`` (the default): no bound, the calls run inline.

    Metrics example::

        store = MemoryBackend()
        app = S3ServiceMiddleware(gateway_app, credentials=store, buckets=store, metrics=store)
    """

    def __init__(self, app: WSGIApp, *, credentials: CredentialStore, buckets: BucketStore,
                 authorizer: Authorizer | None = None, region: str = DEFAULT_REGION,
                 service_hosts: Sequence[str] = (), clock_skew: float = 900.0,
                 authenticate_all: bool = False, token_secret: str | bytes | None = None,
                 metrics: MetricsStore | None = None,
                 metrics_flush_interval: float | None = 10.0,
                 metrics_admins: Sequence[str] = (),
                 backend_timeout: float | None = None) -> None:
        self.app = app
        self.credentials = credentials
        self.buckets = buckets
        self._authorizer = authorizer
        self._decide = with_context(authorizer)
        self.region = region
        self.service_hosts = service_host_names(service_hosts)
        # (most requests come with one of a few Host values)
        self._bucket_of = lru_cache(maxsize=1024)(partial(bucket_from_host,
                                                          service_hosts=self.service_hosts))
        self.clock_skew = float(clock_skew)
        self.authenticate_all = authenticate_all
        if isinstance(token_secret, str):
            token_secret = token_secret.encode("utf-8")
        self.token_secret = token_secret
        if backend_timeout is not None and not float(backend_timeout) > 0:
            raise ValueError("backend_timeout must be a positive number of seconds or None")
        self.backend_timeout = None if backend_timeout is None else float(backend_timeout)
        self._lookup: CredentialStore = credentials if self.backend_timeout is None else \
            timeouts.BoundedCredentials(credentials, self.backend_timeout)
        self.metrics = metrics
        self.meter: Meter | None = None
        self.metrics_api: MetricsAPI | None = None
        if metrics is not None:
            self.meter = Meter(metrics, flush_interval=metrics_flush_interval)
            self.metrics_api = MetricsAPI(metrics, self.meter, authenticate=self.authenticate,
                                          authorizer=self._decide, admins=metrics_admins,
                                          buckets=buckets)

    @property
    def authorizer(self) -> Authorizer:
        """Decides ``s3:ListAllMyBuckets`` (and ``utapi:ListMetrics``); may be replaced."""
        return self._authorizer if self._authorizer is not None else self._decide

    @authorizer.setter
    def authorizer(self, authorizer: Authorizer) -> None:
        self._authorizer = authorizer
        self._decide = with_context(authorizer)
        if self.metrics_api is not None:
            self.metrics_api.authorizer = self._decide

    # -- routing ---------------------------------------------------------------

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if self.meter is not None:
            environ.pop(IDENTITY_KEY, None)  # only an identity checked here is ever billed
        if environ.get("PATH_INFO") in ("/", "") and not self.is_bucket_host(environ):
            method = environ.get("REQUEST_METHOD", "GET")
            if method == "GET":
                result = answer(environ, start_response, self._list_buckets)
                if self.meter is None:
                    return result
                return self.meter.count_answer(environ, result, LIST_ALL_MY_BUCKETS)
            if method == "POST" and self.metrics_api is not None:
                return self.metrics_api(environ, start_response)
            if method != "POST":
                return answer(environ, start_response, _method_not_allowed)
        if self.meter is not None:
            bucket_in_host = self.is_bucket_host(environ)
            return self.meter.call(self._pass_on, environ, start_response,
                                   self.operation_of(environ, bucket_in_host),
                                   self.bucket_of(environ, bucket_in_host),
                                   authenticated=self.authenticate_all)
        return self._pass_on(environ, start_response)

    def _pass_on(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if self.authenticate_all:
            return answer(environ, start_response, self._authenticate_and_pass)
        return self.app(environ, start_response)

    def operation_of(self, environ: dict, bucket_in_host: bool | None = None) -> str | None:
        """The UTAPI name of a request's S3 operation (``s3:GetObject``...), or ``None``."""
        if bucket_in_host is None:
            bucket_in_host = self.is_bucket_host(environ)
        return classify(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO") or "/",
                        environ.get("QUERY_STRING") or "", bucket_in_host=bucket_in_host,
                        copy_source="HTTP_X_AMZ_COPY_SOURCE" in environ)

    def bucket_of(self, environ: dict, bucket_in_host: bool | None = None) -> str | None:
        """The bucket a request addresses (virtual-hosted or path-style), or ``None``."""
        if bucket_in_host is None:
            bucket_in_host = self.is_bucket_host(environ)
        if bucket_in_host:
            name = self._bucket_of(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""))
        else:
            name = (environ.get("PATH_INFO") or "/")[1:].partition("/")[0]
        # (what no store could keep -- a NUL, 300 characters -- must not hold a batch back)
        if name and len(name) <= MAX_BUCKET_NAME and name.isprintable():
            return name
        return None

    def is_bucket_host(self, environ: dict) -> bool:
        """Whether the request addresses a bucket by its host name (``photos.s3.example.com``)."""
        if not self.service_hosts:
            return False
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        return self._bucket_of(host) is not None

    def authenticate(self, environ: dict, payload_hash: str | None = None,
                     query: Sequence[tuple[str, str]] | None = None) -> Identity | None:
        """Check the request's signature: its identity, ``None`` if anonymous; raises S3Error.

        ``payload_hash``, ``query``: see :func:`s3service.auth.authenticate`.
        """
        return authenticate(environ, self._lookup, region=self.region,
                            max_skew=self.clock_skew, service_hosts=self.service_hosts,
                            payload_hash=payload_hash, query=query)

    # -- answering ---------------------------------------------------------------

    def _authenticate_and_pass(self, exchange: Exchange) -> WSGIApp:
        environ = exchange.environ
        identity, seed = authenticate_request(
            environ, self._lookup, region=self.region, max_skew=self.clock_skew,
            service_hosts=self.service_hosts)
        environ[IDENTITY_KEY] = identity
        environ[REQUEST_ID_KEY] = exchange.request_id
        if identity is not None:
            exchange.access_key = identity.access_key
            environ[AUTHORIZER_KEY] = RequestAuthorizer(
                self._decide, RequestContext.detached(environ, identity))
        else:
            environ.pop(AUTHORIZER_KEY, None)     # never one a client could have planted
        verify_payload(environ, seed, None if identity is None else identity.access_key)
        return partial(answer_app_errors, self.app)

    def _list_buckets(self, exchange: Exchange) -> Reply:
        query = parse_query(exchange.environ.get("QUERY_STRING"))
        identity = self.authenticate(exchange.environ, query=query)
        if identity is None:
            raise AccessDenied()
        exchange.access_key = identity.access_key
        exchange.environ[IDENTITY_KEY] = identity  # (for the meter)
        if not self._decide.is_allowed_in(identity, "s3:ListAllMyBuckets", SERVICE_RESOURCE,
                                          RequestContext(exchange.environ, identity)):
            raise AccessDenied(AWSAccessKeyId=identity.access_key)
        params = listing.parse_params(query) if query else listing.UNPAGED
        after = next_token = None
        if params.paged:
            key = self._token_key(identity)
            next_token = partial(tokens.encode, key, identity.account_id, params.prefix or "",
                                 params.region)
            if params.continuation_token is not None:
                try:
                    after = tokens.decode(key, params.continuation_token, identity.account_id,
                                          params.prefix or "", params.region)
                except tokens.BadToken:
                    raise InvalidArgument("The continuation token provided is incorrect",
                                          ArgumentName="continuation-token",
                                          ArgumentValue=params.continuation_token) from None
        # Render the first chunks before answering, so a failing store still
        # gets a proper error; small listings go out whole with a length.
        if self.backend_timeout is None:
            body = self._listing_body(exchange.request_id, identity, params, after, next_token)
        else:
            body = timeouts.call_with_timeout(
                self.backend_timeout, self._listing_body, exchange.request_id, identity, params,
                after, next_token, what="bucket listing")
        return Reply("200 OK", [("Content-Type", "application/xml")], body)

    def _listing_body(self, request_id: str, identity: Identity, params: listing.ListParams,
                      after: str | None, next_token: Callable[[str], str] | None
                      ) -> bytes | _Stream:
        """Ask the store and render the first two chunks: the response body.

        The whole document when it is one chunk, else a :class:`_Stream`.
        """
        page = params.page_size
        found = self.buckets.list_buckets(identity.account_id, prefix=params.prefix or "",
                                          after=after, region=params.region,
                                          limit=None if page is None else page + 1)
        chunks = listing.render(identity.account_id, identity.display_name, found, params,
                                next_token)
        first = next(chunks)
        second = next(chunks, None)
        if second is None:
            return first
        return _Stream(request_id, (first, second), chunks, found)

    def _token_key(self, identity: Identity) -> bytes:
        if self.token_secret is not None:
            return self.token_secret
        # A second look-up of the key authenticate() just found (stores cache it),
        # so that no secret ever travels in the Identity.
        credential = self._lookup.get_credential(identity.access_key)
        if credential is None:  # the key vanished between the two look-ups
            raise AccessDenied()
        return hmac.new(credential.secret_key.encode("utf-8"), b"s3service-continuation-token",
                        hashlib.sha256).digest()


def _method_not_allowed(exchange: Exchange) -> Reply:
    raise MethodNotAllowed(method=exchange.method, resource_type="SERVICE")


class _Stream:
    """The body of a large listing: chunks rendered as the server sends them.

    ``close()`` (called by the server when the response ends or the client
    goes away) stops the rendering and the store's iterator with it.
    """

    def __init__(self, request_id: str, ready: tuple[bytes, ...], rest: Iterator[bytes],
                 source: Iterable[Any]) -> None:
        self.request_id, self.ready, self.rest, self.source = request_id, ready, rest, source

    def __iter__(self) -> Iterator[bytes]:
        yield from self.ready
        try:
            yield from self.rest
        except Exception:
            # Headers are gone: all that is left is to cut the body short, so
            # the client sees a broken document rather than a short listing.
            log.exception("%s listing failed while streaming", self.request_id)
            raise

    def close(self) -> None:
        for part in (self.rest, self.source):
            close = getattr(part, "close", None)
            if close is not None:
                close()
