"""``IAMLayer``: the AWS IAM and STS query APIs on the S3 endpoint, as a WSGI layer.

Example::

    from s3service.iam import IAMLayer

    app = IAMLayer(S3ServiceMiddleware(gateway_app, credentials=store, buckets=store),
                   store, region="us-east-1")

A ``POST /`` signed with SigV4 for the service ``iam`` or ``sts`` (what
``aws iam ...``, ``aws sts ...`` and boto3's ``iam`` and ``sts`` clients send
with ``--endpoint-url``) is answered here: its form body
(``Action=CreateUser&Version=2010-05-08&UserName=alice``) names one of
:data:`~.actions.IAM_ACTIONS` or :data:`~.actions.STS_ACTIONS`, which acts on
the caller's own account.  Answers are IAM's XML; errors IAM's
``ErrorResponse``.  Every other request passes to ``app`` untouched: the test
is a few string operations on the ``Authorization`` header of a ``POST /``.

Temporary credentials (GetSessionToken) call STS and the S3 API, not IAM (as
on AWS without MFA).
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl

from ..auth import Authenticator
from ..authorization import Authorizer
from ..backends.protocols import AdminStore
from ..envelope import Exchange, Reply, StartResponse, WSGIApp, answer
from ..errors import InvalidAccessKeyId, S3Error, XAmzContentSHA256Mismatch
from ..payload.idle import DEFAULT_IDLE_TIMEOUT, with_idle_bound
from ..policies import PolicyAuthorizer
from ..regions import DEFAULT_REGION
from ..wsgi import header, parse_query
from .actions import IAM_ACTIONS, STS_ACTIONS, Call
from .errors import (AccessDenied, InvalidAction, InvalidClientTokenId, MissingAction,
                     ValidationError)
from .query import IAM_NAMESPACE, STS_NAMESPACE, error_document, render

__all__ = ["MAX_BODY", "IAMLayer", "signed_for"]

#: Bytes a request body may have (a policy document is at most 6,144 characters,
#: three times that URL-encoded).
MAX_BODY = 256 * 1024
#: Where SDKs sign IAM, a global service, when given no region.
GLOBAL_REGION = "us-east-1"
_SERVICES = {"iam": (IAM_ACTIONS, IAM_NAMESPACE), "sts": (STS_ACTIONS, STS_NAMESPACE)}


def signed_for(environ: dict) -> str | None:
    """``"iam"`` or ``"sts"`` when the request is a ``POST /`` SigV4-signed for that
    service (its credential scope's), else ``None``."""
    scope = _scope(environ)
    return None if scope is None else scope[3]


def _scope(environ: dict) -> list[str] | None:
    """The credential scope (``AK/date/region/service/aws4_request``) of an IAM or STS request."""
    if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO", "/") not in ("/", ""):
        return None
    authorization = environ.get("HTTP_AUTHORIZATION")
    if not isinstance(authorization, str) or not authorization.startswith("AWS4-HMAC-SHA256"):
        return None
    start = authorization.find("Credential=")
    if start < 0:
        return None
    scope = authorization[start + 11:].split(",", 1)[0].strip().split("/")
    if len(scope) == 5 and scope[3] in _SERVICES:
        return scope
    return None


class IAMLayer:
    """Answers IAM and STS requests on the endpoint; passes every other request to ``app``.

    :param store: the :class:`~s3service.backends.protocols.AdminStore` users, keys and
        policies are kept in (the one the middleware behind authenticates with).
    :param region: the region requests are signed for (SigV4 credential scope); also
        ``us-east-1``, where SDKs sign IAM (a global service) when they are given no region.
    :param authorizer: decides ``iam:*`` actions; default: a
        :class:`~s3service.policies.PolicyAuthorizer` on ``store`` (an account's own key
        may do everything, an IAM user what its policies allow).
    :param clock_skew: seconds a signed request's date may differ from the server's.
    :param idle_timeout: the longest a request body may send nothing (seconds; ``None``: no bound).
    """

    def __init__(self, app: WSGIApp, store: AdminStore, *, region: str = DEFAULT_REGION,
                 authorizer: Authorizer | None = None, clock_skew: float = 900.0,
                 service_hosts: Sequence[str] = (),
                 idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT) -> None:
        self.app = app
        self.store = store
        self.authenticator = Authenticator(
            store, region=region, service_hosts=service_hosts, clock_skew=clock_skew,
            authorizer=authorizer if authorizer is not None else PolicyAuthorizer(store))
        self._global = self.authenticator
        if region != GLOBAL_REGION:
            self._global = Authenticator(store, region=GLOBAL_REGION, service_hosts=service_hosts,
                                         clock_skew=clock_skew,
                                         authorizer=self.authenticator.authorizer)
        self._handle = with_idle_bound(self._answer, idle_timeout)

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and signed_for(environ) is not None:
            return self._handle(environ, start_response)
        return self.app(environ, start_response)

    def _answer(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        scope = _scope(environ) or ["", "", "", "iam", ""]
        service = scope[3]
        actions, namespace = _SERVICES[service]
        authenticator = self._global if scope[2] == GLOBAL_REGION else self.authenticator

        def error_body(error: S3Error, exchange: Exchange) -> Reply:
            if isinstance(error, InvalidAccessKeyId):     # (IAM's name and words for it)
                error = InvalidClientTokenId()
            sender = getattr(error, "sender", error.status < 500)
            return Reply(error.status_line, [("Content-Type", "text/xml")],
                         error_document(error.code, error.text, exchange.request_id,
                                        sender=sender, namespace=namespace))

        def respond(exchange: Exchange) -> Reply:
            body = _read_body(environ)
            digest = hashlib.sha256(body).hexdigest()
            declared = header(environ, "x-amz-content-sha256")
            if declared is not None and not hmac.compare_digest(declared.lower(), digest):
                raise XAmzContentSHA256Mismatch()
            query = parse_query(environ.get("QUERY_STRING"))
            identity = authenticator.check(environ, digest, query, service=service).identity
            if identity is None:
                raise AccessDenied()
            exchange.access_key = identity.access_key
            try:
                params = dict(query)
                params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                        strict_parsing=False))
            except (UnicodeDecodeError, ValueError):
                raise ValidationError("The request body is not a valid form") from None
            action = params.get("Action")
            if not action:
                raise MissingAction()
            handler = actions.get(action)
            if handler is None:
                raise InvalidAction(f"Could not find operation {action} for version "
                                    f"{params.get('Version', '')}")
            credential = self.store.get_credential(identity.access_key)
            session = credential is not None and credential.session_token is not None
            if session and service == "iam":
                raise AccessDenied("Temporary credentials from GetSessionToken cannot call IAM")
            call = Call(self.store, identity, params, lambda act, resource:
                        authenticator.is_allowed(environ, identity, act, resource), session)
            result = handler(call)
            return Reply("200 OK", [("Content-Type", "text/xml")],
                         render(action, result, exchange.request_id, namespace))

        return answer(environ, start_response, respond, error_body=error_body)


def _read_body(environ: dict) -> bytes:
    text = environ.get("CONTENT_LENGTH") or "0"
    try:
        length = int(text)
    except ValueError:
        raise ValidationError("Content-Length is not a number") from None
    if length < 0 or length > MAX_BODY:
        raise ValidationError(f"The request body may have {MAX_BODY} bytes at most")
    stream = environ.get("wsgi.input")
    if not length or stream is None:
        return b""
    body = stream.read(length)
    if len(body) < length:
        raise ValidationError("The request body is shorter than its Content-Length")
    return body

