"""The service's own routes: what S3 answers at ``/`` itself, before any bucket.

Example::

    from s3service.hosts import ServiceHosts
    from s3service.layers.service import ListBuckets, ServiceRoutes

    app = ServiceRoutes(gateway_app, ServiceHosts(["s3.example.com"]),
                        list_buckets=ListBuckets(authenticator, store))

A request for ``/`` on a service host (or on any host, path-style) is the
service's: ``GET`` is ListBuckets, ``POST`` is ListMetrics when a handler
for it is given (else it goes to ``app``), and any other method is ``405
MethodNotAllowed``.  Everything else -- buckets and objects -- goes to
``app``.  A new service-level operation is one more handler here.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from .. import listing, timeouts, tokens
from ..auth import Authenticator
from ..backends.protocols import BucketStore
from ..envelope import BUCKET_KEY, IDENTITY_KEY, Exchange, Reply, StartResponse, WSGIApp, answer
from ..errors import AccessDenied, InvalidArgument, MethodNotAllowed
from ..hosts import ServiceHosts
from ..identity import Identity
from ..wsgi import parse_query

__all__ = ["LISTED_KEY", "SERVICE_RESOURCE", "ListBuckets", "ServiceRoutes"]

log = logging.getLogger("s3service")

#: Where ListBuckets leaves how many buckets an answer it makes whole lists (for observers,
#: such as ``serve --prometheus-port``: they need not count them in the XML).
LISTED_KEY = "s3service.listed"
#: The resource ListBuckets is authorized on.
SERVICE_RESOURCE = "arn:aws:s3:::*"


class ServiceRoutes:
    """Answers the service's own requests; passes every other one to ``app``.

    :param list_buckets: the WSGI app answering ``GET /``.
    :param list_metrics: the one answering ``POST /`` (``None``: ``POST /`` goes to ``app``).
    :param note_bucket: leave the bucket a request passed on addresses in
        ``environ["s3service.bucket"]``, for the log line (only where the
        environ may be added to: with ``authenticate_all``).
    """

    def __init__(self, app: WSGIApp, hosts: ServiceHosts, *, list_buckets: WSGIApp,
                 list_metrics: WSGIApp | None = None, note_bucket: bool = False) -> None:
        self.app = app
        self.hosts = hosts
        self.list_buckets = list_buckets
        self.list_metrics = list_metrics
        self.note_bucket = note_bucket

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if self.hosts.is_service_request(environ):
            method = environ.get("REQUEST_METHOD", "GET")
            if method == "GET":
                return self.list_buckets(environ, start_response)
            if method != "POST":
                return answer(environ, start_response, _method_not_allowed)
            if self.list_metrics is not None:
                return self.list_metrics(environ, start_response)
        if self.note_bucket:
            environ[BUCKET_KEY] = self.hosts.bucket_of(environ)
        return self.app(environ, start_response)


def _method_not_allowed(exchange: Exchange) -> Reply:
    raise MethodNotAllowed(method=exchange.method, resource_type="SERVICE")


class ListBuckets:
    """``GET /``: the caller's buckets, as S3's ``ListAllMyBucketsResult``.

    :param authenticator: checks the signature (an anonymous caller is refused)
        and asks the authorizer about ``s3:ListAllMyBuckets``.
    :param buckets: the :class:`~s3service.backends.base.BucketStore` listed.
    :param token_secret: key sealing continuation tokens (``None``: one derived
        from the caller's own secret).
    :param backend_timeout: seconds the first page may take (``None``: no bound;
        see :mod:`s3service.timeouts`).
    """

    def __init__(self, authenticator: Authenticator, buckets: BucketStore, *,
                 token_secret: bytes | None = None,
                 backend_timeout: float | None = None) -> None:
        self.authenticator = authenticator
        self.buckets = buckets
        self.token_secret = token_secret
        self.backend_timeout = backend_timeout

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        return answer(environ, start_response, self._list)

    def _list(self, exchange: Exchange) -> Reply:
        query = parse_query(exchange.environ.get("QUERY_STRING"))
        identity = self.authenticator.identify(exchange.environ, query=query)
        if identity is None:
            raise AccessDenied()
        exchange.access_key = identity.access_key
        exchange.environ[IDENTITY_KEY] = identity  # (for the meter)
        if not self.authenticator.is_allowed(exchange.environ, identity, "s3:ListAllMyBuckets",
                                             SERVICE_RESOURCE):
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
            body = self._listing_body(exchange, identity, params, after, next_token)
        else:
            body = timeouts.call_with_timeout(
                self.backend_timeout, self._listing_body, exchange, identity, params,
                after, next_token, what="bucket listing")
        return Reply("200 OK", [("Content-Type", "application/xml")], body)

    def _listing_body(self, exchange: Exchange, identity: Identity, params: listing.ListParams,
                      after: str | None, next_token: Callable[[str], str] | None
                      ) -> bytes | _Stream:
        """Ask the store and render the first two chunks: the response body.

        The whole document when it is one chunk (with the number of buckets
        it lists in ``environ["s3service.listed"]``), else a :class:`_Stream`.
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
            if type(found) is list:
                listed = len(found) if page is None else min(len(found), page)
            else:                                   # (a store's iterator, spent: counted)
                listed = first.count(b"<Bucket>")
            exchange.environ[LISTED_KEY] = listed
            return first
        return _Stream(exchange.request_id, (first, second), chunks, found)

    def _token_key(self, identity: Identity) -> bytes:
        if self.token_secret is not None:
            return self.token_secret
        # A second look-up of the key authenticate() just found (stores cache it),
        # so that no secret ever travels in the Identity.
        credential = self.authenticator.credentials.get_credential(identity.access_key)
        if credential is None:  # the key vanished between the two look-ups
            raise AccessDenied()
        return hmac.new(credential.secret_key.encode("utf-8"), b"s3service-continuation-token",
                        hashlib.sha256).digest()


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
