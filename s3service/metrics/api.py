"""``POST /?Action=ListMetrics``: the Service Utilization API, at its four levels.

A request body names one level and the entities wanted at it: ``"service":
["s3"]``, ``"accounts": [account IDs]``, ``"users": [user names]`` (of the
caller's account; a root key's requests count under the account's own ID) or
``"buckets": [bucket names]``.  The answer has one object per entity.  A
user may also be named by its ARN, ``arn:aws:iam::ACCOUNT:user/NAME`` (or
``arn:aws:iam::ACCOUNT:root`` for the account's root key), which is how
another account's user is named.

Who may read what is decided by :func:`~.access.entity_for`.

The pure parts -- :func:`parse_request_body`, :func:`validate_time_range`,
:func:`render_metrics`, :func:`json_error` -- are usable alone; :class:`MetricsAPI`
is the WSGI handler the middleware routes ``POST /`` to when it has a metrics
store.  Every answer, errors included, is JSON; errors are
``{"code": ..., "message": ...}`` with the code's HTTP status.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from ..errors import (AccessDenied, InvalidArgument, InvalidRequest, MissingContentLength,
                      S3Error, error_class)
from .. import envelope
from ..backends.protocols import BucketStore
from ..auth import Authenticator
from ..payload.checks import check_sha256
from ..wsgi import parse_query
from .access import (ENTITY_RESOURCE, LIST_METRICS_ACTION, SERVICE_RESOURCE,  # noqa: F401
                     entity_for, user_of)
from .meter import Meter
from .operations import OPERATIONS
from ..backends.metrics_base import (ACCOUNTS, BUCKETS, INTERVAL_MS, SERVICE, USERS,
                                     MetricsTotals, interval_start)
from ..backends.protocols import MetricsStore

log = logging.getLogger("s3service.metrics")

#: The key naming the entity in each answer object, per level.
ANSWER_KEYS = {SERVICE: "serviceName", ACCOUNTS: "accountId", USERS: "userName",
               BUCKETS: "bucketName"}
#: At most this many entities in one request.
MAX_NAMES = 100
#: Longest name accepted (bucket names and account IDs are shorter).
MAX_NAME_LENGTH = 255
#: The services this endpoint reports on.
SERVICES = ("s3",)
#: Bodies longer than this are refused before being read.
MAX_BODY = 64 * 1024
ACTIONS = ("ListMetrics", "ListRecentMetrics")

_READ_CHUNK = 16 * 1024
_UNSIGNED = "UNSIGNED-PAYLOAD"


_error = partial(error_class, module=__name__)

InvalidParameterValue = _error(
    "InvalidParameterValue", 400,
    "An invalid or out-of-range value was supplied for the input parameter.")
WrongFormat = _error("WrongFormat", 400, "Data entered by the user has a wrong format.")
InvalidAction = _error("InvalidAction", 400,
                       "The action or operation requested is invalid. "
                       "Verify that the action is typed correctly.")
MaxMessageLengthExceeded = _error("MaxMessageLengthExceeded", 400, "Your request was too big.")
IncompleteBody = _error("IncompleteBody", 400,
                        "You did not provide the number of bytes specified by the "
                        "Content-Length HTTP header.")

V4_ONLY = "Must use Auth V4 for this request."
#: The latest time a range may name (year 9999, in epoch ms): stores keep 64-bit integers.
MAX_TIMESTAMP = 253402300799999


# -- the pure parts -------------------------------------------------------------

def _timestamp(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameterValue(f"The {what} timestamp must be a number of milliseconds.")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidParameterValue(f"The {what} timestamp must be a whole number.")
        value = int(value)
    if value < 0:
        raise InvalidParameterValue(f"The {what} timestamp must not be negative.")
    if value > MAX_TIMESTAMP:
        raise InvalidParameterValue(f"The {what} timestamp is out of range.")
    return value


def validate_time_range(value: Any, now_ms: int) -> tuple[int, int]:
    """``[start, end]`` (end optional) from a request body, checked; returns ``(start, end)``.

    ``start`` must be the first millisecond of a 15-minute interval (minute 0,
    15, 30 or 45), ``end`` the last millisecond of one (minute 14, 29, 44 or
    59, 59.999 s) and after ``start``.  A missing (or ``null``) end is ``now_ms``;
    an end in the future is allowed.  Raises ``InvalidParameterValue``.
    """
    if not isinstance(value, list) or not 1 <= len(value) <= 2:
        raise InvalidParameterValue("timeRange must be a list of a start and an optional end.")
    start = _timestamp(value[0], "start")
    if start % INTERVAL_MS:
        raise InvalidParameterValue(
            "The start timestamp must be the beginning of a 15-minute interval "
            "(minute 0, 15, 30 or 45, 0 seconds, 0 milliseconds).")
    if len(value) < 2 or value[1] is None:
        end = now_ms
        if end < start:
            raise InvalidParameterValue("The start timestamp is in the future.")
        return start, end
    end = _timestamp(value[1], "end")
    if (end + 1) % INTERVAL_MS:
        raise InvalidParameterValue(
            "The end timestamp must be the end of a 15-minute interval "
            "(minute 14, 29, 44 or 59, 59 seconds, 999 milliseconds).")
    if end < start:
        raise InvalidParameterValue("The end timestamp must be after the start timestamp.")
    return start, end


def parse_request_body(body: bytes, action: str) -> dict[str, Any]:
    """The JSON object of a request body, with its keys checked for ``action``.

    Adds ``"level"`` (``service``, ``accounts``, ``users`` or ``buckets``) and
    ``"names"`` (that level's list, duplicates dropped).  Raises
    ``InvalidParameterValue`` (not JSON, not an object, unknown service, a bad
    list of names, more than one level) or ``WrongFormat`` (a required key
    missing).
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidParameterValue("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidParameterValue("The request body must be a JSON object.")
    levels = [level for level in ANSWER_KEYS if level in data]
    if not levels:
        raise WrongFormat("The request body must name the service (\"service\": [\"s3\"]), "
                          "accounts, users or buckets.")
    if len(levels) > 1:
        raise InvalidParameterValue("Name one of service, accounts, users or buckets.")
    if action == "ListMetrics" and "timeRange" not in data:
        raise WrongFormat("The request body must have a timeRange.")
    level = levels[0]
    names = data[level]
    if isinstance(names, str):
        names = [names]
    if (not isinstance(names, list) or not names
            or not all(isinstance(n, str) and 0 < len(n) <= MAX_NAME_LENGTH for n in names)):
        raise InvalidParameterValue(f"{level} must be a list of names.")
    names = list(dict.fromkeys(names))
    if len(names) > MAX_NAMES:
        raise InvalidParameterValue(f"At most {MAX_NAMES} {level} in one request.")
    if level == SERVICE:
        for service in names:
            if service not in SERVICES:
                raise InvalidParameterValue(f"Unknown service: {service[:64]!r}.")
    if level == USERS:
        for user in names:
            if user_of(user, "") is None:
                raise InvalidParameterValue("A user ARN is arn:aws:iam::ACCOUNT:user/NAME.")
    data[level] = data["names"] = names
    data["level"] = level
    return data


def render_metrics(service: str, time_range: tuple[int, int], totals: MetricsTotals,
                   operations: Iterable[str] = OPERATIONS, level: str = SERVICE
                   ) -> dict[str, Any]:
    """One entity's object of the answer; every operation listed, zero where none happened.

    ``service`` is the entity's name at ``level``: it goes under that level's
    key (``serviceName``, ``accountId``, ``userName`` or ``bucketName``).
    """
    ops = {name: 0 for name in operations}
    ops.update(totals.operations)
    return {
        ANSWER_KEYS[level]: service,
        "timeRange": [time_range[0], time_range[1]],
        "storageUtilized": list(totals.storage_utilized),
        "incomingBytes": totals.incoming_bytes,
        "outgoingBytes": totals.outgoing_bytes,
        "numberOfObjects": list(totals.number_of_objects),
        "operations": ops,
    }


def json_error(error: S3Error) -> bytes:
    """The JSON body answering ``error``: ``{"code": ..., "message": ...}``."""
    return json.dumps({"code": error.code, "message": error.text}).encode("utf-8")


def _json_error(error: S3Error, exchange: envelope.Exchange) -> envelope.Reply:
    return envelope.Reply(error.status_line, [("Content-Type", "application/json")],
                          json_error(error))


def _carries_signature(environ: dict, params: dict[str, str]) -> bool:
    """Whether the request says it is signed (a SigV4 header or presigned query)."""
    return ("HTTP_AUTHORIZATION" in environ or "X-Amz-Signature" in params
            or "X-Amz-Credential" in params)


def read_body(environ: dict, limit: int = MAX_BODY) -> bytes:
    """The request body, by its ``Content-Length``, refused if over ``limit`` bytes.

    Never reads more than ``Content-Length`` (nor more than ``limit``) bytes.
    """
    length = environ.get("CONTENT_LENGTH")
    if length is None or length == "":  # chunked or unknown: refused, not read
        raise MissingContentLength()
    try:
        size = int(length)
    except ValueError:
        raise InvalidArgument("Content-Length must be a number of bytes.",
                              ArgumentName="Content-Length", ArgumentValue=length) from None
    if size < 0:
        raise InvalidArgument("Content-Length must be a number of bytes.",
                              ArgumentName="Content-Length", ArgumentValue=length)
    if size > limit:
        raise MaxMessageLengthExceeded(
            f"The request body is {size} bytes; at most {limit} are accepted.")
    stream = environ.get("wsgi.input")
    chunks, remaining = [], size
    while remaining > 0 and stream is not None:
        chunk = stream.read(min(remaining, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    if remaining > 0:
        raise IncompleteBody()
    return b"".join(chunks)


class MetricsAPI:
    """The WSGI app answering ``POST /?Action=ListMetrics`` and ``ListRecentMetrics``.

    :param store: where the totals are read (:class:`~.store.MetricsStore`).
    :param meter: this process's meter, flushed before reading so its own counts
        show at once (``None``: nothing to flush).
    :param authenticator: checks a request's signature and holds the authorizer
        deciding ``utapi:ListMetrics`` (the middleware's
        :class:`~s3service.auth.Authenticator`).
    :param admins: the operator accounts allowed the service level and every
        account's and bucket's metrics.
    :param buckets: says who owns a bucket: its ``get_bucket(name)`` (both bundled
        stores have it) gives ``(owner, info)`` or ``None``; a store without it
        is asked ``list_buckets(caller, prefix=name, limit=1)``, and then a bucket
        the caller does not own is refused whether it exists or not.
    """

    def __init__(self, store: MetricsStore, meter: Meter | None, *,
                 authenticator: Authenticator, admins: Iterable[str] = (),
                 buckets: BucketStore | None = None,
                 max_body: int = MAX_BODY, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.admins = frozenset(admins)
        self.buckets = buckets
        self.meter = meter
        self.authenticator = authenticator
        self.max_body = max_body
        self.clock = clock

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        return envelope.answer(environ, start_response, self._respond, error_body=_json_error,
                               logger=log, what="ListMetrics")

    def _respond(self, exchange: envelope.Exchange) -> envelope.Reply:
        return envelope.Reply("200 OK", [("Content-Type", "application/json")],
                              self.answer(exchange.environ, exchange))

    def answer(self, environ: dict, exchange: envelope.Exchange | None = None) -> bytes:
        """The JSON answer of a request; raises the :class:`S3Error` to answer instead.

        ``exchange``, when given, learns the caller's access key for the log line.
        """
        params: dict[str, str] = {}
        for name, value in parse_query(environ.get("QUERY_STRING") or ""):
            params.setdefault(name, value)
        action = params.get("Action")
        if action not in ACTIONS:
            raise InvalidAction()
        authorization = environ.get("HTTP_AUTHORIZATION")
        if (isinstance(authorization, str) and authorization.startswith("AWS ")) \
                or "Signature" in params or "AWSAccessKeyId" in params:
            raise InvalidRequest(V4_ONLY)
        claimed = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
        body: bytes | None = None
        if claimed is None and _carries_signature(environ, params):
            # Clients signing with a plain SigV4 signer send no x-amz-content-sha256:
            # the body's own hash then goes into the canonical request, so the
            # signature only matches if the body is the one that was signed.
            body = read_body(environ, self.max_body)
            identity = self.authenticator.identify(
                environ, payload_hash=hashlib.sha256(body).hexdigest())
        else:
            # The signature covers the hash the client claims, not the body, and an
            # anonymous caller has none: both are decided before the body is read.
            identity = self.authenticator.identify(environ)
        if identity is None:
            raise AccessDenied()
        if exchange is not None:
            exchange.access_key = identity.access_key
        if identity.signature_version != "v4":
            raise InvalidRequest(V4_ONLY)
        if claimed is not None and claimed.startswith("STREAMING-"):
            raise InvalidRequest("Streaming uploads are not accepted for this request.")
        if body is None:
            body = read_body(environ, self.max_body)
            if claimed is not None and claimed != _UNSIGNED:
                check_sha256(claimed, hashlib.sha256(body).hexdigest())
        request = parse_request_body(body, action)
        level = request["level"]
        # Every entity is cleared before any is read: a refusal reveals no figures.
        ask = self.authenticator.bind(environ, identity)
        entities = [entity_for(identity, level, name, authorizer=ask,
                               admins=self.admins, buckets=self.buckets)
                    for name in request["names"]]
        now_ms = int(self.clock() * 1000)
        if action == "ListRecentMetrics":
            time_range = (now_ms - INTERVAL_MS, now_ms)
            query = (interval_start(time_range[0]), now_ms)
        else:
            time_range = validate_time_range(request["timeRange"], now_ms)
            query = time_range
        if self.meter is not None:
            self.meter.flush()  # this process's own counts are visible at once
        answer = [render_metrics(name, time_range,
                                 MetricsTotals() if entity is None
                                 else self.store.get_metrics(*query, entity), level=level)
                  for name, entity in zip(request["names"], entities)]
        return json.dumps(answer, separators=(",", ":")).encode("utf-8")
