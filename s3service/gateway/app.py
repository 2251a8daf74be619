"""A small storage gateway: S3's bucket-level operations on the middleware's store.

It keeps no objects, only buckets, in the same store the middleware lists
them from (an :class:`~s3service.backends.protocols.AdminStore`, like
:class:`~s3service.backends.memory.MemoryBackend` or
:class:`~s3service.backends.sql.SQLBackend`; it asks ``add_bucket``,
``delete_bucket`` -- with ``owner``: delete only that account's bucket -- and
``get_bucket``).  ``s3service serve`` runs it;
it is also a worked example of a gateway behind :class:`~s3service.S3ServiceMiddleware`.

Example::

    from s3service.backends.memory import MemoryBackend
    from s3service.gateway import make_app

    store = MemoryBackend()
    store.add_account("79a59df9...", display_name="Test")
    store.add_key("79a59df9...", "AKIDEXAMPLE", "secret")
    app = make_app(store, region="us-east-1", service_hosts=["s3.example.com"])

Operations: CreateBucket (``PUT /bucket``, with an optional
``CreateBucketConfiguration``), DeleteBucket, HeadBucket, GetBucketLocation
(``?location``), ListObjects (v1 and ``list-type=2``) and ListObjectVersions
(``?versions``), the listings always empty.  As S3 does, re-creating a
bucket you own in us-east-1 succeeds (``200 OK``, the bucket untouched); in
every other region it is ``409 BucketAlreadyOwnedByYou``.  Buckets are
addressed path-style (``/bucket``) or virtual-hosted (``bucket.s3.example.com``,
for the given ``service_hosts``).  Everything else is answered ``501
NotImplemented``.

The gateway trusts the caller identity the middleware (``authenticate_all=True``)
leaves in ``environ["s3service.identity"]``: anonymous requests are refused
with ``AccessDenied``, as are requests on another account's bucket.  Every
operation first asks the authorizer the middleware leaves in
``environ["s3service.authorizer"]`` (the middleware's own, bound to the caller
and the request; without one, the gateway's ``authorizer``) whether the caller may
do its action on ``arn:aws:s3:::BUCKET``: ``s3:CreateBucket``,
``s3:DeleteBucket``, ``s3:ListBucket`` (HeadBucket and both ListObjects),
``s3:ListBucketVersions`` or ``s3:GetBucketLocation``; a refusal is
``403 AccessDenied``, before the store is asked anything.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import quote

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from ..authorization import Authorizer, RequestAuthorizer, RequestContext, with_context
from ..backends.base import BucketInfo, BucketNameTaken, UnknownAccount, UnknownBucket
from ..backends.protocols import AdminStore
from ..bucketnames import validate_bucket_name
from ..errors import (XML_DECLARATION, AccessDenied, BucketAlreadyExists, BucketAlreadyOwnedByYou,
                     IllegalLocationConstraintException, InvalidArgument,
                     InvalidLocationConstraint, MalformedXML, NoSuchBucket, NotImplemented_,
                     TooManyBuckets)
from ..hosts import bucket_from_host, service_host_names
from ..identity import Identity
from ..listing import S3_XMLNS
from ..middleware import S3ServiceMiddleware
from ..policies.authorizer import default_authorizer
from ..regions import DEFAULT_REGION, looks_like_region
from ..envelope import AUTHORIZER_KEY, IDENTITY_KEY, Exchange, Reply, answer
from ..wsgi import parse_query
from ..xmltext import element

log = logging.getLogger("s3service.gateway")

MAX_KEYS = 1000
MAX_BODY = 64 * 1024            # a CreateBucketConfiguration is a few hundred bytes
#: Buckets an account may own (S3's default quota; ``serve --max-buckets``).
MAX_BUCKETS = 10_000

#: Query parameters each listing understands (anything else is a sub-resource).
LIST_V1_PARAMS = frozenset({"prefix", "delimiter", "marker", "max-keys", "encoding-type"})
LIST_V2_PARAMS = frozenset({"list-type", "prefix", "delimiter", "max-keys", "encoding-type",
                            "continuation-token", "fetch-owner", "start-after"})
VERSIONS_PARAMS = frozenset({"versions", "prefix", "delimiter", "max-keys", "encoding-type",
                             "key-marker", "version-id-marker"})
# Authentication and SDK bookkeeping parameters, never a sub-resource.
_IGNORED_PARAMS = frozenset({"x-id", "awsaccesskeyid", "signature", "expires"})

_LEGACY_REGIONS = {"EU": "eu-west-1"}

#: A bucket's resource name for the authorizer (``arn:aws:s3:::photos``).
BUCKET_ARN = "arn:aws:s3:::"

StartResponse = Callable[..., Any]


class Gateway:
    """The WSGI app; see the module documentation.  Wrap it with the middleware.

    ``authorizer`` decides each operation when the middleware in front left
    none in ``environ["s3service.authorizer"]`` (default: the store's IAM
    policies, :func:`~s3service.policies.authorizer.default_authorizer`); give it
    the middleware's.  ``max_buckets``:
    the most buckets one account may own (``None``: no limit); CreateBucket
    beyond it is ``400 TooManyBuckets``.  (Each answer of ListBuckets is at
    most that long: a bound on what one slow reader can hold.)
    """

    def __init__(self, store: AdminStore, region: str = DEFAULT_REGION,
                 service_hosts: Sequence[str] = (), *,
                 authorizer: Authorizer | None = None,
                 max_buckets: int | None = MAX_BUCKETS) -> None:
        if max_buckets is not None and max_buckets < 0:
            raise ValueError("max_buckets must not be negative")
        self.store = store
        self.max_buckets = max_buckets
        self.region = region
        self.service_hosts = service_host_names(service_hosts)
        self.authorizer: Authorizer = authorizer or default_authorizer(store)

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        return answer(environ, start_response, self._respond, logger=log)

    def _respond(self, exchange: Exchange) -> Reply:
        status, headers, body = self.handle(exchange.environ, exchange.method,
                                            exchange.environ.get(IDENTITY_KEY))
        return Reply(status, headers, body)

    # -- routing ---------------------------------------------------------------

    def handle(self, environ: dict, method: str, identity: Identity | None
               ) -> tuple[str, list[tuple[str, str]], bytes]:
        """Answer one request: ``(status, headers, body)``; raises S3Error.

        The operation is found, then authorized (see :meth:`authorize`), then done.
        """
        bucket, key = self.address(environ)
        query = parse_query(environ.get("QUERY_STRING", ""))
        params = dict(query)
        if identity is None:
            raise AccessDenied()
        if not bucket or key:
            raise NotImplemented_("This gateway implements bucket operations only.")
        action, operation = self.route(environ, method, identity, bucket, params)
        self.authorize(environ, identity, action, bucket)
        return operation()

    def route(self, environ: dict, method: str, identity: Identity, bucket: str,
              params: dict[str, str]) -> tuple[str, Callable[[], Any]]:
        """The request's IAM action and the call doing it; NotImplemented for anything else."""
        names = {name for name in params
                 if name.lower() not in _IGNORED_PARAMS and not name.lower().startswith("x-amz-")}
        if method == "PUT" and not names:
            return "s3:CreateBucket", lambda: self.create_bucket(environ, identity, bucket)
        if method == "DELETE" and not names:
            return "s3:DeleteBucket", lambda: self.delete_bucket(identity, bucket)
        if method == "HEAD":                                  # as S3 maps HeadBucket
            return "s3:ListBucket", lambda: self.head_bucket(identity, bucket)
        if method == "GET":
            if names == {"location"}:
                return "s3:GetBucketLocation", lambda: self.get_bucket_location(identity, bucket)
            if "versions" in names and names <= VERSIONS_PARAMS:
                return "s3:ListBucketVersions", lambda: self.list_object_versions(
                    identity, bucket, params)
            if "list-type" in names and names <= LIST_V2_PARAMS:
                return "s3:ListBucket", lambda: self.list_objects_v2(identity, bucket, params)
            if names <= LIST_V1_PARAMS:
                return "s3:ListBucket", lambda: self.list_objects(identity, bucket, params)
        raise NotImplemented_("This gateway does not implement that operation.")

    def address(self, environ: dict) -> tuple[str, str]:
        """``(bucket, key)`` addressed by the request, virtual-hosted or path-style."""
        path = environ.get("PATH_INFO", "") or "/"
        bucket = bucket_from_host(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""),
                                  self.service_hosts)
        if bucket is not None:
            return bucket, path[1:]
        bucket, _, key = path[1:].partition("/")
        return bucket, key

    # -- operations ------------------------------------------------------------

    def authorize(self, environ: dict, identity: Identity, action: str, bucket: str) -> None:
        """Raise AccessDenied unless ``identity`` may do ``action`` on ``arn:aws:s3:::bucket``.

        Asks the authorizer the middleware left in ``environ["s3service.authorizer"]``
        (bound to this caller and request); without one, this gateway's own
        ``authorizer``, with the request's context.
        """
        ask = environ.get(AUTHORIZER_KEY)
        if not isinstance(ask, RequestAuthorizer) or ask.identity != identity:
            ask = RequestAuthorizer(with_context(self.authorizer),
                                    RequestContext(environ, identity))
        if not ask.is_allowed(action, BUCKET_ARN + bucket):
            raise AccessDenied()

    def create_bucket(self, environ: dict, identity: Identity, bucket: str
                      ) -> tuple[str, list[tuple[str, str]], bytes]:
        validate_bucket_name(bucket)
        region = self.check_location(parse_location(read_body(environ)))
        self.check_bucket_quota(identity, bucket)
        try:
            self.store.add_bucket(identity.account_id, bucket, region=region)
        except BucketNameTaken as exc:
            if exc.owner == identity.account_id:
                if region == DEFAULT_REGION and self.in_us_east_1(identity, bucket):
                    return "200 OK", [("Location", "/" + bucket)], b""   # S3's legacy answer
                raise BucketAlreadyOwnedByYou(BucketName=bucket) from None
            raise BucketAlreadyExists(BucketName=bucket) from None
        except UnknownAccount:        # the caller's account was removed meanwhile
            raise AccessDenied() from None
        return "200 OK", [("Location", "/" + bucket)], b""

    def check_bucket_quota(self, identity: Identity, bucket: str) -> None:
        """TooManyBuckets if the caller already owns ``max_buckets`` buckets (``bucket`` not one).

        Counted before the bucket is added: creations racing one another may
        each see room for one more, so an account may end a few over.
        """
        if self.max_buckets is None:
            return
        owned = self.store.list_buckets(identity.account_id, limit=self.max_buckets)
        names = [info.name for info in owned]
        if len(names) >= self.max_buckets and bucket not in names:
            raise TooManyBuckets()

    def in_us_east_1(self, identity: Identity, bucket: str) -> bool:
        """Whether the caller's bucket of that name is in us-east-1 (it may be gone meanwhile)."""
        found = self.store.get_bucket(bucket)
        return (found is not None and found[0] == identity.account_id
                and found[1].region == DEFAULT_REGION)

    def check_location(self, constraint: str) -> str:
        """The region to create a bucket in, given its ``LocationConstraint`` ("" if none)."""
        constraint = _LEGACY_REGIONS.get(constraint, constraint)
        if not constraint:
            if self.region == DEFAULT_REGION:
                return DEFAULT_REGION
            raise IllegalLocationConstraintException()
        if constraint == DEFAULT_REGION:  # S3: us-east-1 is never spelled out
            raise InvalidLocationConstraint(LocationConstraint=constraint)
        if constraint == self.region:
            return constraint
        if not looks_like_region(constraint):
            raise InvalidLocationConstraint(LocationConstraint=constraint)
        raise IllegalLocationConstraintException(
            f"The {constraint} location constraint is incompatible for the region specific "
            "endpoint this request was sent to.")

    def owned_bucket(self, identity: Identity, bucket: str) -> BucketInfo:
        """The bucket's info if the caller owns it; NoSuchBucket or AccessDenied otherwise."""
        found = self.store.get_bucket(bucket)
        if found is None:
            raise NoSuchBucket(BucketName=bucket)
        owner, info = found
        if owner != identity.account_id:
            raise AccessDenied()
        return info

    def delete_bucket(self, identity: Identity, bucket: str
                      ) -> tuple[str, list[tuple[str, str]], bytes]:
        # One step on name and owner: a check first, then a delete by name,
        # would delete a bucket another account made in between.
        try:
            self.store.delete_bucket(bucket, owner=identity.account_id)
        except UnknownBucket:
            found = self.store.get_bucket(bucket)
            if found is not None and found[0] != identity.account_id:
                raise AccessDenied() from None
            raise NoSuchBucket(BucketName=bucket) from None
        return "204 No Content", [], b""

    def head_bucket(self, identity: Identity, bucket: str
                    ) -> tuple[str, list[tuple[str, str]], bytes]:
        info = self.owned_bucket(identity, bucket)
        return "200 OK", [("x-amz-bucket-region", info.region),
                          ("x-amz-access-point-alias", "false"),
                          ("Content-Type", "application/xml")], b""

    def get_bucket_location(self, identity: Identity, bucket: str
                            ) -> tuple[str, list[tuple[str, str]], bytes]:
        info = self.owned_bucket(identity, bucket)
        location = "" if info.region == DEFAULT_REGION else info.region
        return xml_document("LocationConstraint", [location] if location else [])

    def list_objects(self, identity: Identity, bucket: str, params: dict[str, str]
                     ) -> tuple[str, list[tuple[str, str]], bytes]:
        self.owned_bucket(identity, bucket)
        max_keys, encode = listing_options(params)
        parts = [element("Name", bucket), element("Prefix", encode(params.get("prefix", ""))),
                 element("Marker", encode(params.get("marker", ""))),
                 element("MaxKeys", str(max_keys))]
        parts += optional_echo(params, encode)
        parts.append(element("IsTruncated", "false"))
        return xml_document("ListBucketResult", parts)

    def list_objects_v2(self, identity: Identity, bucket: str, params: dict[str, str]
                        ) -> tuple[str, list[tuple[str, str]], bytes]:
        if params["list-type"] != "2":
            raise InvalidArgument("Invalid List Type specified in Request",
                                  ArgumentName="list-type", ArgumentValue=params["list-type"])
        self.owned_bucket(identity, bucket)
        max_keys, encode = listing_options(params)
        if "continuation-token" in params:   # this gateway never hands one out
            raise InvalidArgument("The continuation token provided is incorrect",
                                  ArgumentName="continuation-token",
                                  ArgumentValue=params["continuation-token"])
        parts = [element("Name", bucket), element("Prefix", encode(params.get("prefix", ""))),
                 element("KeyCount", "0"), element("MaxKeys", str(max_keys))]
        parts += optional_echo(params, encode)
        if "start-after" in params:
            parts.append(element("StartAfter", encode(params["start-after"])))
        parts.append(element("IsTruncated", "false"))
        return xml_document("ListBucketResult", parts)

    def list_object_versions(self, identity: Identity, bucket: str, params: dict[str, str]
                             ) -> tuple[str, list[tuple[str, str]], bytes]:
        self.owned_bucket(identity, bucket)
        max_keys, encode = listing_options(params)
        if params.get("version-id-marker") and not params.get("key-marker"):
            raise InvalidArgument("A version-id marker cannot be specified without a key marker.",
                                  ArgumentName="version-id-marker",
                                  ArgumentValue=params["version-id-marker"])
        parts = [element("Name", bucket), element("Prefix", encode(params.get("prefix", ""))),
                 element("KeyMarker", encode(params.get("key-marker", ""))),
                 element("VersionIdMarker", params.get("version-id-marker", "")),
                 element("MaxKeys", str(max_keys))]
        parts += optional_echo(params, encode)
        parts.append(element("IsTruncated", "false"))
        return xml_document("ListVersionsResult", parts)


# -- helpers ---------------------------------------------------------------------

def read_body(environ: dict) -> bytes:
    """The request body (at most :data:`MAX_BODY` + 1 bytes of it)."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.strip():
        try:
            size = int(length)
        except ValueError:
            raise InvalidArgument("Invalid Content-Length") from None
        return stream.read(min(size, MAX_BODY + 1)) if size > 0 else b""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return stream.read(MAX_BODY + 1)
    return b""


def parse_location(body: bytes) -> str:
    """The ``LocationConstraint`` of a ``CreateBucketConfiguration`` body ("" if none)."""
    if not body.strip():
        return ""
    if len(body) > MAX_BODY:
        raise MalformedXML()
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError):
        raise MalformedXML() from None
    if _local(root.tag) != "CreateBucketConfiguration":
        raise MalformedXML()
    constraint = ""
    for child in root:
        if _local(child.tag) == "LocationConstraint":
            constraint = (child.text or "").strip()
    return constraint


def listing_options(params: dict[str, str]) -> tuple[int, Callable[[str], str]]:
    """``(MaxKeys to report, how to encode echoed keys)`` from a listing's parameters."""
    raw = params.get("max-keys")
    max_keys = MAX_KEYS
    if raw is not None:
        if not (raw.isascii() and raw.isdigit() and len(raw.lstrip("0")) <= 10
                and int(raw.lstrip("0") or "0") <= 2**31 - 1):
            raise InvalidArgument("Provided max-keys not an integer or within integer range",
                                  ArgumentName="max-keys", ArgumentValue=raw)
        max_keys = min(int(raw.lstrip("0") or "0"), MAX_KEYS)
    encoding = params.get("encoding-type")
    if encoding is None:
        return max_keys, str
    if encoding.lower() != "url":
        raise InvalidArgument("Invalid Encoding Method specified in Request",
                              ArgumentName="encoding-type", ArgumentValue=encoding)
    return max_keys, lambda text: quote(text, safe="/")


def optional_echo(params: dict[str, str], encode: Callable[[str], str]) -> list[str]:
    parts = []
    if "delimiter" in params:
        parts.append(element("Delimiter", encode(params["delimiter"])))
    if "encoding-type" in params:
        parts.append(element("EncodingType", "url"))
    return parts


def xml_document(root: str, children: list[str]) -> tuple[str, list[tuple[str, str]], bytes]:
    """A ``200 OK`` answer carrying ``<root xmlns=S3>children</root>``."""
    if children:
        text = f'{XML_DECLARATION}<{root} xmlns="{S3_XMLNS}">{"".join(children)}</{root}>'
    else:
        text = f'{XML_DECLARATION}<{root} xmlns="{S3_XMLNS}"/>'
    return "200 OK", [("Content-Type", "application/xml")], text.encode("utf-8")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


# -- factories -------------------------------------------------------------------

def make_app(store: AdminStore, region: str = DEFAULT_REGION, service_hosts: Sequence[str] = (),
             *, max_buckets: int | None = MAX_BUCKETS,
             **middleware_options: Any) -> S3ServiceMiddleware:
    """The gateway wrapped by the middleware (``authenticate_all=True``), both on ``store``.

    ``max_buckets``: the gateway's per-account bucket limit (see :class:`Gateway`).

    ``middleware_options`` go to :class:`~s3service.S3ServiceMiddleware`
    (``authorizer``, ``clock_skew``, ``token_secret``); the gateway decides its
    operations with the middleware's ``authorizer``, also when it is replaced later
    (``app.authorizer = ...``): the middleware hands it to the gateway, bound to
    each request, in ``environ["s3service.authorizer"]``.
    """
    gateway = Gateway(store, region=region, service_hosts=service_hosts,
                      authorizer=middleware_options.get("authorizer"), max_buckets=max_buckets)
    return S3ServiceMiddleware(gateway, credentials=store, buckets=store, region=region,
                               service_hosts=service_hosts, authenticate_all=True,
                               **middleware_options)


def app_factory(global_conf: dict, **local_conf: Any) -> Gateway:
    """PasteDeploy app factory for the bare gateway (put ``egg:s3service#s3service`` in front).

    Options (in the app section or ``[DEFAULT]``): ``db`` (or ``backend``),
    ``region``, ``service_hosts``, ``authorizer``, as for the filter.  Gateway
    and filter each open the store, so they must name the same database: ``db =
    memory`` would give them two different stores.  Put ``authorizer`` in
    ``[DEFAULT]`` so that both decide with it: set only on the filter, the
    gateway decides with the store's IAM policies.
    """
    from ..paste import as_list, load_object, make_store

    conf = {**global_conf, **local_conf}
    store = make_store(conf.get("db"), conf.get("backend"))
    authorizer = load_object(conf["authorizer"])() if conf.get("authorizer") else None
    return Gateway(store, region=conf.get("region", DEFAULT_REGION),
                   service_hosts=as_list(conf.get("service_hosts", "")), authorizer=authorizer)
