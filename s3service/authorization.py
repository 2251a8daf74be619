"""Authorization: who may do what, asked in one way.

Everything that decides a request lives here: the :class:`Authorizer`
protocol a user implements (one method, ``is_allowed``; an authorizer that
also looks at the request implements :class:`ContextAuthorizer`'s
``is_allowed_in``), the :class:`RequestContext` such an authorizer is
handed, the default :class:`AllowAuthenticated`, and the
:class:`RequestAuthorizer` -- an authorizer bound to one caller and one
request -- that the authentication layer leaves in
``environ["s3service.authorizer"]`` for every signed request::

    ask = environ["s3service.authorizer"]
    if not ask.is_allowed("s3:DeleteBucket", "arn:aws:s3:::photos"):
        raise AccessDenied()

ListBuckets, ListMetrics and the bundled gateway all ask that object.  An
authorizer given to the middleware is wrapped once, when it is given
(:func:`with_context`), so that every question takes the same form
(``is_allowed_in(identity, action, resource, context)``).

The condition keys a :class:`RequestContext` knows are worked out from the
environ only when a policy asks for them, so a request whose policies have
no conditions pays for nothing but the object.  Keys (case-insensitive, as
IAM's are):

``aws:SourceIp`` (``REMOTE_ADDR``), ``aws:SecureTransport`` (``true`` over
HTTPS), ``aws:CurrentTime`` (ISO 8601, UTC), ``aws:EpochTime`` (seconds),
``aws:username`` (IAM users only), ``aws:userid`` (``ACCOUNT:USER`` for an IAM
user, the account id for the account itself), ``aws:PrincipalAccount``,
``aws:PrincipalArn``, ``aws:PrincipalType`` (``User`` or ``Account``),
``s3:prefix`` and ``s3:max-keys`` (from the query string, when given),
``s3:signatureversion`` (``AWS`` for SigV2, ``AWS4-HMAC-SHA256`` for SigV4),
``s3:authType`` (``REST-HEADER`` or ``REST-QUERY-STRING``),
``s3:x-amz-content-sha256``, ``aws:UserAgent`` and ``aws:Referer`` (the
request's headers).

A gateway may give more (:meth:`RequestAuthorizer.is_allowed`'s ``keys``):
:data:`GATEWAY_KEYS` are the keys S3 documents for bucket and object
operations that only a gateway can know (``s3:x-amz-acl``,
``s3:ExistingObjectTag/<tag>``...).  A policy naming any other key is refused
when it is created (:func:`known_condition_keys`): a condition on a key no
request has would never hold, and a Deny on it would silently never apply.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable

from .identity import Identity
from .wsgi import parse_query

__all__ = ["GATEWAY_KEYS", "KNOWN_KEYS", "AllowAuthenticated", "Authorizer", "ContextAuthorizer",
           "RequestAuthorizer", "RequestContext", "key_getter", "known_condition_keys",
           "with_context"]


@runtime_checkable
class Authorizer(Protocol):
    def is_allowed(self, identity: Identity, action: str, resource: str) -> bool:
        """Whether ``identity`` may do ``action`` (e.g. ``s3:ListAllMyBuckets``) on ``resource``.

        ``resource`` is an ARN-like string (``arn:aws:s3:::*`` for the service).
        Return a bool; an exception is answered ``500 InternalError`` (or
        ``503`` for :class:`~s3service.backends.base.BackendUnavailable`).
        """


@runtime_checkable
class ContextAuthorizer(Authorizer, Protocol):
    def is_allowed_in(self, identity: Identity, action: str, resource: str,
                      context: RequestContext) -> bool:
        """As :meth:`Authorizer.is_allowed`, knowing the request (source address, time...).

        An authorizer that has this method is asked it, with the request's
        :class:`RequestContext`; one without it is asked ``is_allowed``.
        """


class AllowAuthenticated:
    """The default authorizer: every authenticated identity may do everything."""

    def is_allowed(self, identity: Identity, action: str, resource: str) -> bool:
        return True

    def is_allowed_in(self, identity: Identity, action: str, resource: str,
                      context: RequestContext) -> bool:
        return True


class _WithoutContext:
    """A plain :class:`Authorizer` answering :class:`ContextAuthorizer`'s question."""

    __slots__ = ("authorizer",)

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    def is_allowed(self, identity: Identity, action: str, resource: str) -> bool:
        return bool(self.authorizer.is_allowed(identity, action, resource))

    def is_allowed_in(self, identity: Identity, action: str, resource: str,
                      context: RequestContext) -> bool:
        return bool(self.authorizer.is_allowed(identity, action, resource))


def with_context(authorizer: Authorizer | None) -> ContextAuthorizer:
    """``authorizer`` as a :class:`ContextAuthorizer` (``None``: :class:`AllowAuthenticated`).

    One that has ``is_allowed_in`` is returned as it is; a plain one is
    wrapped, its answers unchanged.  Called once, where an authorizer is
    given, so that no question on the request path has to look.
    """
    if authorizer is None:
        return AllowAuthenticated()
    if isinstance(authorizer, ContextAuthorizer):
        return authorizer
    return _WithoutContext(authorizer)


class RequestContext:
    """The condition keys of one request, computed on first use.

    ``extra`` adds keys, or overrides them (one value, or a tuple of several).
    """

    __slots__ = ("environ", "identity", "extra", "_now", "_query")

    def __init__(self, environ: Mapping[str, object], identity: Identity,
                 extra: Mapping[str, str | tuple[str, ...]] | None = None,
                 now: float | None = None) -> None:
        self.environ = environ
        self.identity = identity
        self.extra = {k.lower(): v for k, v in extra.items()} if extra else None
        self._now = now
        self._query: dict[str, str] | None = None

    @property
    def now(self) -> float:
        """The request's time, epoch seconds (fixed at the first question)."""
        if self._now is None:
            self._now = time.time()
        return self._now

    def values(self, key: str) -> tuple[str, ...] | None:
        """The values of condition key ``key`` (lower case), or ``None`` when the request has none."""
        if self.extra and key in self.extra:
            value = self.extra[key]
            return value if isinstance(value, tuple) else (value,)
        getter = _KEYS.get(key)
        if getter is None:
            return None
        value = getter(self)
        return None if value is None else (value,)

    def key_values(self, names: tuple[str, ...],
                   getters: tuple[Callable[[RequestContext], str | None], ...]
                   ) -> tuple[tuple[str, ...] | str | None, ...]:
        """The values of the keys ``names`` (their :func:`key_getter` in ``getters``) at once.

        For a cache key: equal results mean equal values, in a form that
        differs from :meth:`values`'.
        """
        if self.extra:
            return tuple([self.values(name) for name in names])
        if len(getters) == 1:                   # the common case, without a loop
            return (getters[0](self),)
        return tuple([getter(self) for getter in getters])

    def query(self, name: str) -> str | None:
        if self._query is None:
            self._query = dict(parse_query(str(self.environ.get("QUERY_STRING") or "")))
        return self._query.get(name)

    @classmethod
    def detached(cls, environ: Mapping[str, object], identity: Identity) -> RequestContext:
        """A context holding only the environ entries it reads, not the environ itself.

        For a context kept *in* the environ (a :class:`RequestAuthorizer`):
        no reference cycle, so nothing is left for the cycle collector.
        """
        return cls({name: environ[name] for name in _ENVIRON_KEYS if name in environ}, identity)

    def with_extra(self, extra: Mapping[str, str | tuple[str, ...]]) -> RequestContext:
        """The same request with more keys (e.g. a gateway's own ``s3:prefix``)."""
        merged = {**(self.extra or {}), **{k.lower(): v for k, v in extra.items()}}
        return RequestContext(self.environ, self.identity, merged, self._now)


def _source_ip(ctx: RequestContext) -> str | None:
    address = ctx.environ.get("REMOTE_ADDR")
    return str(address) if address else None


def _secure(ctx: RequestContext) -> str:
    return "true" if ctx.environ.get("wsgi.url_scheme") == "https" else "false"


def _current_time(ctx: RequestContext) -> str:
    return datetime.fromtimestamp(int(ctx.now), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user_id(ctx: RequestContext) -> str:
    identity = ctx.identity
    return identity.account_id if identity.user is None else \
        f"{identity.account_id}:{identity.user}"


def _auth_type(ctx: RequestContext) -> str | None:
    if ctx.environ.get("HTTP_AUTHORIZATION"):
        return "REST-HEADER"
    if ctx.query("X-Amz-Signature") is not None or ctx.query("Signature") is not None:
        return "REST-QUERY-STRING"
    return None


def _header(name: str) -> Callable[[RequestContext], str | None]:
    def get(ctx: RequestContext) -> str | None:
        value = ctx.environ.get(name)
        return None if value is None else str(value)
    return get


_KEYS = {
    "aws:sourceip": _source_ip,
    "aws:securetransport": _secure,
    "aws:currenttime": _current_time,
    "aws:epochtime": lambda ctx: str(int(ctx.now)),
    "aws:username": lambda ctx: ctx.identity.user,
    "aws:userid": _user_id,
    "aws:principalaccount": lambda ctx: ctx.identity.account_id,
    "aws:principalarn": lambda ctx: ctx.identity.arn,
    "aws:principaltype": lambda ctx: "Account" if ctx.identity.user is None else "User",
    "s3:prefix": lambda ctx: ctx.query("prefix"),
    "s3:max-keys": lambda ctx: ctx.query("max-keys"),
    "s3:signatureversion": lambda ctx: "AWS" if ctx.identity.signature_version == "v2"
    else "AWS4-HMAC-SHA256",
    "s3:authtype": _auth_type,
    "s3:x-amz-content-sha256": _header("HTTP_X_AMZ_CONTENT_SHA256"),
    "aws:useragent": _header("HTTP_USER_AGENT"),
    "aws:referer": _header("HTTP_REFERER"),
}

#: The environ entries the keys are read from.
_ENVIRON_KEYS = ("REMOTE_ADDR", "wsgi.url_scheme", "HTTP_AUTHORIZATION", "QUERY_STRING",
                 "HTTP_X_AMZ_CONTENT_SHA256", "HTTP_USER_AGENT", "HTTP_REFERER")

#: The condition keys a :class:`RequestContext` knows (lower case).
KNOWN_KEYS = frozenset(_KEYS)

#: The condition keys S3 documents for bucket and object operations that a
#: gateway, not the middleware, knows (lower case); a key ending in ``/`` is
#: followed by a name of the caller's (``s3:existingobjecttag/owner``).
GATEWAY_KEYS = frozenset({
    "s3:delimiter", "s3:versionid", "s3:locationconstraint", "s3:x-amz-acl",
    "s3:x-amz-copy-source", "s3:x-amz-metadata-directive", "s3:x-amz-storage-class",
    "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-server-side-encryption-customer-algorithm", "s3:x-amz-website-redirect-location",
    "s3:x-amz-grant-read", "s3:x-amz-grant-write", "s3:x-amz-grant-read-acp",
    "s3:x-amz-grant-write-acp", "s3:x-amz-grant-full-control", "s3:object-lock-mode",
    "s3:object-lock-retain-until-date", "s3:object-lock-remaining-retention-days",
    "s3:object-lock-legal-hold", "s3:requestobjecttagkeys", "s3:existingobjecttag/",
    "s3:requestobjecttag/", "s3:tlsversion", "s3:resourceaccount",
})


def known_condition_keys(extra: Iterable[str] = ()) -> Callable[[str], bool]:
    """Whether a condition key (any case) is one some request may have.

    The keys are this module's own (:data:`KNOWN_KEYS`), S3's that a gateway
    may give (:data:`GATEWAY_KEYS`) and ``extra``: those a gateway adds of its
    own.  For :func:`~s3service.policies.parse_policy`'s ``known_keys``.
    """
    known = KNOWN_KEYS | GATEWAY_KEYS | {key.lower() for key in extra}

    def is_known(key: str) -> bool:
        key = key.lower()
        name, slash, _ = key.partition("/")
        return key in known or bool(slash and name + "/" in known)
    return is_known


def _unknown(ctx: RequestContext) -> None:
    return None


def key_getter(key: str) -> Callable[[RequestContext], str | None]:
    """The function giving a request's value of ``key`` (lower case), or ``None``."""
    getter: Callable[[RequestContext], str | None] = _KEYS.get(key, _unknown)
    return getter


class RequestAuthorizer:
    """An authorizer bound to one request: what the middleware leaves in
    ``environ["s3service.authorizer"]`` (with ``authenticate_all=True``).

    The gateway behind the middleware asks it ``is_allowed(action, resource)``
    and gets the middleware's own authorizer's answer for the caller and this
    request (its source address, transport, time...), so both decide by the
    same rules -- with :class:`~s3service.policies.PolicyAuthorizer`, the same
    policies.  ``keys`` add condition keys only the gateway knows.

    ``authorizer`` is a :class:`ContextAuthorizer` (see :func:`with_context`).
    """

    __slots__ = ("authorizer", "context")

    def __init__(self, authorizer: ContextAuthorizer, context: RequestContext) -> None:
        self.authorizer = authorizer
        self.context = context

    @property
    def identity(self) -> Identity:
        """The caller this request was authenticated as."""
        return self.context.identity

    def is_allowed(self, action: str, resource: str, **keys: str) -> bool:
        """Whether the caller may do ``action`` (``s3:DeleteBucket``) on ``resource`` (an ARN)."""
        context = self.context.with_extra(keys) if keys else self.context
        return bool(self.authorizer.is_allowed_in(context.identity, action, resource, context))
