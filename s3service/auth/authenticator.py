"""The rules a request is authenticated by, in one object the layers share."""
from __future__ import annotations

from collections.abc import Sequence

from ..authorization import (Authorizer, ContextAuthorizer, RequestAuthorizer, RequestContext,
                             with_context)
from ..backends.protocols import CredentialStore
from ..hosts import service_host_names
from ..identity import Identity
from ..regions import DEFAULT_REGION
from .dispatch import Authenticated, authenticate_request

__all__ = ["Authenticator"]


class Authenticator:
    """Checks signatures and binds the authorizer: the rules every layer authenticates by.

    :param credentials: looks up access keys (:class:`~s3service.backends.base.CredentialStore`).
    :param region: the region this endpoint signs for (SigV4 credential scope).
    :param service_hosts: the endpoint's host names (virtual-hosted requests, for SigV2).
    :param clock_skew: seconds a signed request's date may differ from the server's.
    :param authorizer: decides what a caller may do (default: everything,
        :class:`~s3service.authorization.AllowAuthenticated`); may be replaced
        (``authenticator.authorizer = ...``), taking effect on the next request.
    """

    def __init__(self, credentials: CredentialStore, *, region: str = DEFAULT_REGION,
                 service_hosts: Sequence[str] = (), clock_skew: float = 900.0,
                 authorizer: Authorizer | None = None) -> None:
        self.credentials = credentials
        self.region = region
        self.service_hosts = service_host_names(service_hosts)
        self.clock_skew = float(clock_skew)
        self.authorizer = authorizer
        # (optional: the store records each key's last use, see AdminStore)
        self._note_use = getattr(credentials, "note_key_used", None)

    @property
    def authorizer(self) -> Authorizer:
        """The authorizer as it was given (the default when none was)."""
        return self._authorizer

    @authorizer.setter
    def authorizer(self, authorizer: Authorizer | None) -> None:
        self.decide: ContextAuthorizer = with_context(authorizer)
        self._authorizer = authorizer if authorizer is not None else self.decide

    def check(self, environ: dict, payload_hash: str | None = None,
              query: Sequence[tuple[str, str]] | None = None,
              service: str = "s3") -> Authenticated:
        """The request's identity (``None``: anonymous) and SigV4 seed; raises S3Error.

        ``payload_hash``, ``query``: see :func:`s3service.auth.authenticate`;
        ``service``: the SigV4 credential scope's (``s3``; ``iam``, ``sts``).
        """
        found = authenticate_request(environ, self.credentials, region=self.region,
                                     max_skew=self.clock_skew, service_hosts=self.service_hosts,
                                     payload_hash=payload_hash, query=query, service=service)
        if self._note_use is not None and found.identity is not None:
            self._note_use(found.identity.access_key, service, self.region)
        return found

    def identify(self, environ: dict, payload_hash: str | None = None,
                 query: Sequence[tuple[str, str]] | None = None) -> Identity | None:
        """Only the identity of :meth:`check`."""
        return self.check(environ, payload_hash, query).identity

    def is_allowed(self, environ: dict, identity: Identity, action: str, resource: str) -> bool:
        """Whether ``identity`` may do ``action`` on ``resource`` in this request."""
        return bool(self.decide.is_allowed_in(identity, action, resource,
                                              RequestContext(environ, identity)))

    def bind(self, environ: dict, identity: Identity) -> RequestAuthorizer:
        """The authorizer bound to ``identity`` and this request, fit to be kept in the environ."""
        return RequestAuthorizer(self.decide, RequestContext.detached(environ, identity))
