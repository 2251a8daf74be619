"""The authentication layer: who sent a request, put in the environ before the app sees it.

Example::

    from s3service.auth import Authenticator
    from s3service.layers.authentication import AuthenticationLayer

    authenticator = Authenticator(store, region="us-east-1")
    app = AuthenticationLayer(gateway_app, authenticator)

For every request it checks the signature (SigV2 or SigV4, header or
presigned URL) and leaves, for the app behind it:

``environ["s3service.identity"]``
    the caller's :class:`~s3service.identity.Identity`, ``None`` for an
    anonymous request;
``environ["s3service.authorizer"]``
    for a signed request, the authorizer bound to the caller and the request
    (a :class:`~s3service.authorization.RequestAuthorizer`); never one a
    client could have planted;
``environ["s3service.request_id"]``
    the request id, which the app answers with too;
``environ["s3service.payload"]``, ``environ["wsgi.input"]``
    the body's checks (:func:`s3service.payload.verify_payload`).

A request that fails is answered with S3's XML error and never reaches the
app; an S3 error the app lets out before starting its response (a body that
failed its checks) is answered the same way (:mod:`.apperrors`).

:class:`~s3service.auth.Authenticator` is what the service's own operations
(ListBuckets, ListMetrics) ask too: one object holds the credential store, the
region, the allowed clock skew and the authorizer.
"""
from __future__ import annotations

from collections.abc import Iterable

from ..auth import Authenticator
from ..envelope import (AUTHORIZER_KEY, IDENTITY_KEY, REQUEST_ID_KEY, Exchange, StartResponse,
                        WSGIApp, answer)
from ..payload import verify_payload
from .apperrors import answer_app_errors

__all__ = ["AuthenticationLayer"]


class AuthenticationLayer:
    """Authenticates every request before ``app`` sees it (see the module documentation)."""

    def __init__(self, app: WSGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator
        self._answer_app = self._answer_app_errors

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        return answer(environ, start_response, self._authenticate)

    def _authenticate(self, exchange: Exchange) -> WSGIApp:
        environ = exchange.environ
        identity, seed = self.authenticator.check(environ)
        environ[IDENTITY_KEY] = identity
        environ[REQUEST_ID_KEY] = exchange.request_id
        if identity is not None:
            exchange.access_key = identity.access_key
            environ[AUTHORIZER_KEY] = self.authenticator.bind(environ, identity)
        else:
            environ.pop(AUTHORIZER_KEY, None)     # never one a client could have planted
        verify_payload(environ, seed, None if identity is None else identity.access_key)
        return self._answer_app

    def _answer_app_errors(self, environ: dict, start_response: StartResponse
                           ) -> Iterable[bytes]:
        return answer_app_errors(self.app, environ, start_response)
