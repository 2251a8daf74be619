"""The WSGI middleware: S3's service level in front of a gateway, composed of small layers.

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

A request crosses, in order (each layer its own module in :mod:`s3service.layers`):

1. :class:`~s3service.layers.metering.MeteringLayer` -- with ``metrics``: counts it;
2. :class:`~s3service.layers.service.ServiceRoutes` -- answers the service's own
   requests (ListBuckets, ListMetrics, ``405`` for other methods on ``/``);
3. :class:`~s3service.layers.cors.CORSLayer` -- with ``cors``: answers preflights,
   and adds the CORS headers to the answers of cross-origin requests;
4. :class:`~s3service.layers.authentication.AuthenticationLayer` -- with
   ``authenticate_all``: the caller, the body's checks and the authorizer into
   the environ, and the app's S3 errors answered as XML;
5. the gateway's app.

The layers are put together once, when the middleware is made (and again
when ``app`` is replaced); one
:class:`~s3service.auth.Authenticator` holds the credential store, region,
clock skew and authorizer every layer authenticates by.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from . import timeouts
from .auth import Authenticator
from .authorization import Authorizer
from .backends.protocols import (BucketStore, CORSSource, CredentialStore, MetricsStore,
                                 checked_timeout)
from .envelope import StartResponse, WSGIApp
from .hosts import ServiceHosts
from .identity import Identity
from .layers.authentication import AuthenticationLayer
from .layers.cors import CORSLayer
from .layers.metering import MeteringLayer, operation_of
from .layers.service import ListBuckets, ServiceRoutes
from .metrics.api import MetricsAPI
from .metrics.meter import DEFAULT_RETENTION_DAYS, Meter
from .parameters import (check_bool, check_callable, check_hosts, check_names, check_number,
                         check_optional_number, check_protocol, check_secret, check_text)
from .payload.idle import DEFAULT_IDLE_TIMEOUT, with_idle_bound
from .policies.authorizer import default_authorizer
from .regions import DEFAULT_REGION

__all__ = ["S3ServiceMiddleware"]


class S3ServiceMiddleware:
    """Serve S3's service level (``GET /``) in front of a storage gateway.

    :param app: the gateway's WSGI app; gets every request this does not answer.
    :param credentials: looks up access keys
        (:class:`~s3service.backends.protocols.CredentialStore`).
    :param buckets: lists an account's buckets
        (:class:`~s3service.backends.protocols.BucketStore`).
    :param authorizer: decides ``s3:ListAllMyBuckets`` (asked ``is_allowed_in`` with the
        request's :class:`~s3service.authorization.RequestContext` when it has that
        method).  With ``authenticate_all``, the app behind is handed it too (see the
        module documentation).  By default, when ``credentials`` keeps IAM policies
        (both bundled stores do), :class:`s3service.policies.PolicyAuthorizer` on it:
        an account's own (root) keys may do everything, an IAM user only what its
        policies allow (with none, nothing, as on AWS).  A store without policies
        has no IAM users to tell apart: then every authenticated caller may do
        everything (:class:`~s3service.authorization.AllowAuthenticated`, which
        may also be given to keep that with a store that has policies).  Anonymous
        callers are refused ListBuckets whatever the authorizer.
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
    :param metrics_retention_days: request counters of intervals older than this
        many days are removed from ``metrics`` (default 400; ``None``: kept forever).
    :param metrics_admins: the operator accounts (account IDs) that may read the
        service-level (fleet-wide) metrics, and any account's, user's or bucket's;
        every other caller reads only its own account, users and buckets.
    :param backend_timeout: the longest a request waits for one answer of the
        store (the credential look-up, the first page of a listing); past it the
        client gets ``503 ServiceUnavailable`` and the call is abandoned.  The
        middleware bounds its calls on a pool of threads, for a store that
        cannot bound its own waits; the SQL store can, and takes the same
        setting itself (see :mod:`s3service.timeouts`).  ``None`` (the
        default): no bound, the calls run inline.
    :param idle_timeout: the longest a request's body may send nothing, in
        seconds, wherever it is read (ListMetrics; with ``authenticate_all``
        the payload checks and the gateway -- without it the gateway's requests
        pass untouched): then the read raises ``400 RequestTimeout``, as S3 answers
        (see :mod:`s3service.payload.idle`, and what servers do meanwhile).
        Default 20; ``None``: reads wait as long as the server's input does.
    :param cors: a :class:`~s3service.backends.protocols.CORSSource` (both bundled
        stores are one): answer browsers' ``OPTIONS`` preflights from each
        bucket's CORS rules, without authentication, and add the CORS headers to
        the answers of cross-origin requests they allow (see
        :mod:`s3service.layers.cors`).  ``None`` (the default): preflights go to
        ``app`` like any request.

    Every argument is checked here: a wrong one raises ``TypeError`` or
    ``ValueError`` naming the parameter (a string ``service_hosts`` is one host).

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
                 metrics_retention_days: float | None = DEFAULT_RETENTION_DAYS,
                 backend_timeout: float | None = None,
                 idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
                 cors: CORSSource | None = None) -> None:
        check_callable("app", app, "a WSGI app, app(environ, start_response)")
        check_protocol("credentials", credentials, CredentialStore)
        check_protocol("buckets", buckets, BucketStore)
        if authorizer is None:
            authorizer = default_authorizer(credentials)
        check_protocol("authorizer", authorizer, Authorizer)
        if metrics is not None:
            check_protocol("metrics", metrics, MetricsStore)
        if cors is not None:
            check_protocol("cors", cors, CORSSource)
        self.backend_timeout = checked_timeout(backend_timeout)
        self.idle_timeout = checked_timeout(idle_timeout, "idle_timeout")
        self.credentials = credentials
        self.buckets = buckets
        self.region = check_text("region", region)
        self.hosts = ServiceHosts(check_hosts("service_hosts", service_hosts))
        self.service_hosts = self.hosts.names
        self.clock_skew = check_number("clock_skew", clock_skew)
        self.authenticate_all = check_bool("authenticate_all", authenticate_all)
        self.token_secret = token_secret = check_secret("token_secret", token_secret)
        metrics_flush_interval = check_optional_number("metrics_flush_interval",
                                                       metrics_flush_interval)
        metrics_admins = check_names("metrics_admins", metrics_admins, "account ID")
        metrics_retention_days = check_optional_number(
            "metrics_retention_days", metrics_retention_days, positive=True)
        self.authenticator = Authenticator(
            credentials if self.backend_timeout is None
            else timeouts.BoundedCredentials(credentials, self.backend_timeout),
            region=region, service_hosts=self.service_hosts, clock_skew=self.clock_skew,
            authorizer=authorizer)
        self.metrics = metrics
        self.meter: Meter | None = None
        self.metrics_api: MetricsAPI | None = None
        if metrics is not None:
            self.meter = Meter(metrics, flush_interval=metrics_flush_interval, buckets=buckets,
                               retention_days=metrics_retention_days)
            self.metrics_api = MetricsAPI(metrics, self.meter, authenticator=self.authenticator,
                                          admins=metrics_admins, buckets=buckets)
        self.cors = cors if cors is None or self.backend_timeout is None \
            else timeouts.BoundedCORS(cors, self.backend_timeout)
        self.list_buckets = ListBuckets(self.authenticator, buckets, token_secret=token_secret,
                                        backend_timeout=self.backend_timeout)
        self.app = app

    def _compose(self, app: WSGIApp) -> WSGIApp:
        """The layers around ``app``: innermost first, so a request crosses them bottom up."""
        if self.authenticate_all:
            app = with_idle_bound(AuthenticationLayer(app, self.authenticator), self.idle_timeout)
        if self.cors is not None:
            app = CORSLayer(app, self.cors, self.hosts)
        list_metrics: WSGIApp | None = None
        if self.metrics_api is not None:
            list_metrics = with_idle_bound(self.metrics_api, self.idle_timeout)
        app = ServiceRoutes(app, self.hosts, list_buckets=self.list_buckets,
                            list_metrics=list_metrics, note_bucket=self.authenticate_all)
        if self.meter is not None:
            app = MeteringLayer(app, self.meter, self.hosts, authenticated=self.authenticate_all)
        return app

    @property
    def app(self) -> WSGIApp:
        """The gateway's app, behind the layers; may be replaced."""
        return self._app

    @app.setter
    def app(self, app: WSGIApp) -> None:
        self._app = app
        self._stack = self._compose(app)

    @property
    def authorizer(self) -> Authorizer:
        """Decides ``s3:ListAllMyBuckets`` (and ``utapi:ListMetrics``, and with
        ``authenticate_all`` what the gateway asks); may be replaced."""
        return self.authenticator.authorizer

    @authorizer.setter
    def authorizer(self, authorizer: Authorizer) -> None:
        self.authenticator.authorizer = authorizer

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self._stack(environ, start_response)

    def operation_of(self, environ: dict[str, Any],
                     bucket_in_host: bool | None = None) -> str | None:
        """The UTAPI name of a request's S3 operation (``s3:GetObject``...), or ``None``."""
        if bucket_in_host is None:
            bucket_in_host = self.hosts.is_bucket_host(environ)
        return operation_of(environ, bucket_in_host)

    def bucket_of(self, environ: dict[str, Any],
                  bucket_in_host: bool | None = None) -> str | None:
        """The bucket a request addresses (virtual-hosted or path-style), or ``None``."""
        return self.hosts.bucket_of(environ, bucket_in_host)

    def is_bucket_host(self, environ: dict[str, Any]) -> bool:
        """Whether the request addresses a bucket by its host name (``photos.s3.example.com``)."""
        return self.hosts.is_bucket_host(environ)

    def authenticate(self, environ: dict[str, Any], payload_hash: str | None = None,
                     query: Sequence[tuple[str, str]] | None = None) -> Identity | None:
        """Check the request's signature: its identity, ``None`` if anonymous; raises S3Error.

        ``payload_hash``, ``query``: see :func:`s3service.auth.authenticate`.
        """
        return self.authenticator.identify(environ, payload_hash, query)
