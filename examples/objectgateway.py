"""A small object gateway storing objects in a directory, behind the middleware.

    python examples/objectgateway.py /tmp/objects     # serves on http://127.0.0.1:8000

What it implements is the table :data:`OPERATIONS`, path-style: CreateBucket,
HeadBucket, DeleteBucket, GetBucketLocation, ListObjects (v1 and v2),
ListObjectVersions (the bucket is never versioned: each object once, version
``null``), PutObject, GetObject and HeadObject (``Range``, ``response-*``,
``If-Match`` and the other conditions), DeleteObject, DeleteObjects, and
multipart upload (Create, UploadPart, Complete, Abort).  Every other request -- a sub-resource such as ``?acl``,
``?tagging``, ``?versioning``, ``?cors``, ``?policy``, or a header asking for
what it does not do (``x-amz-copy-source``, ``x-amz-tagging``, server-side
encryption, object lock, conditional writes...) -- is ``501 NotImplemented``,
answered before anything is read or written: a gateway must never answer
what it does not understand as the nearest operation it knows.

:func:`make_app` mounts it behind :class:`~s3service.S3ServiceMiddleware`
with ``authenticate_all=True``, so the middleware has checked the caller's
signature *and* checks the body as the gateway reads it
(:mod:`s3service.payload`): ``x-amz-content-sha256``, signed chunks,
checksums, ``Content-MD5``.  The gateway streams the body into a temporary
file, reads it to its end (``Content-Length`` bytes, or up to the end of an
HTTP ``Transfer-Encoding: chunked`` body -- which the middleware lets through
for POST only: a chunked PUT is ``411 MissingContentLength``), and renames the file into place
only once the middleware reports the body verified
(``environ["s3service.payload"].verified``): a body that fails its checks
raises an S3 error from the read that reaches its end, which the middleware
answers as S3 does, and leaves nothing behind.

Layout under the root (directories 0700, files 0600)::

    <bucket>/bucket.json            the bucket's owner and creation time
    <bucket>/objects/<sha256(key)>  an object: its bytes, then its metadata
    <bucket>/uploads/<upload id>/   a multipart upload: upload.json, its parts
                                    (once completed: completed.json, kept so that
                                    a retried Complete answers the same)
    <bucket>/tmp/                   bodies being received

An object is *one* file holding its bytes followed by its metadata (key,
size, ETag, content type, headers, checksum) and the metadata's length, so
that a PUT replaces data and metadata together with one rename, and a GET
reads both from the one file it opened: concurrent writers of a key never
tear an object, and the last rename wins.  Writes into a bucket hold a shared
lock on its ``bucket.json`` and DeleteBucket the exclusive one, so no
acknowledged object is deleted with a bucket.  The files and the reading of
bodies are in ``objectgateway_files.py`` beside this one.

Each bucket belongs to the account that created it: CreateBucket and
DeleteBucket go through the middleware's store too (so ``aws s3 ls`` lists
them), and a request for a bucket of another account is ``AccessDenied``.
Each operation asks the middleware's authorizer, through
``environ["s3service.authorizer"]`` (``s3:PutObject`` on
``arn:aws:s3:::bucket/key``...), so an IAM user does what its policies allow.

The contract with the store: a bucket's row is the truth.  The row can go
without this gateway knowing (``s3service bucket delete NAME`` removes only
the row), so ``bucket.json`` records which row -- owner and creation time --
the directory belongs to; a directory whose row is gone, or was made again
by anyone (the same account included), holds a deleted bucket's objects and
is discarded before the name is used again, never shown to the new bucket.
A gateway of your own must do the same: data of a bucket whose row is gone
must go, or the name must stay refused.

A model for a gateway, not a product: no versioning, ACLs, CORS, copies or
conditional writes, and a listing reads every object's metadata.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO, NamedTuple
from urllib.parse import quote

from s3service import S3ServiceMiddleware
from s3service.backends import BucketNameTaken, UnknownBucket
from s3service.bucketnames import validate_bucket_name
from s3service.errors import (AccessDenied, BucketAlreadyExists, BucketNotEmpty,
                              EntityTooLarge, EntityTooSmall, InternalError, InvalidArgument,
                              InvalidPart, InvalidPartOrder, InvalidRange, InvalidRequest,
                              KeyTooLongError, MalformedXML, NoSuchBucket, NoSuchKey,
                              NoSuchUpload, NotImplemented_, PreconditionFailed, S3Error)
from s3service.payload import PAYLOAD_KEY
from s3service.wsgi import parse_query, request_path
from s3service.xmltext import element

from objectgateway_files import (bucket_locked, copy_body, copy_exactly, drain_body,
                                 end_object_file, file_range, locked, make_private_dir,
                                 open_object_file, parse_xml_list, read_object_meta, write_json)

log = logging.getLogger("objectgateway")

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
REQUEST_ID = "s3service.request_id"   # where the middleware leaves the request's id

MAX_OBJECT_SIZE = 5 * 1024 ** 3       # one PUT, or one part
MAX_KEY_LENGTH = 1024                 # bytes of UTF-8
MIN_PART_SIZE = 5 * 1024 ** 2         # every part of a multipart upload but the last
MAX_PARTS = 10_000
MAX_DELETE_KEYS = 1_000
#: The largest XML bodies read: S3's part and key counts, with room for checksums and escapes.
MAX_COMPLETE_BODY = MAX_PARTS * 512
MAX_DELETE_BODY = MAX_DELETE_KEYS * 8 * 1024

#: What this gateway implements: (method, addresses an object, sub-resource) ->
#: (the method answering it, the IAM action it asks the authorizer for).  The
#: sub-resource is the query's names that are not request parameters
#: (:data:`PARAMETERS`), sorted and joined by ``&``.  Anything else is 501.
OPERATIONS: dict[tuple[str, bool, str], tuple[str, str | None]] = {
    ("PUT", False, ""): ("create_bucket", "s3:CreateBucket"),
    ("HEAD", False, ""): ("head_bucket", "s3:ListBucket"),
    ("DELETE", False, ""): ("delete_bucket", "s3:DeleteBucket"),
    ("GET", False, "location"): ("get_bucket_location", "s3:GetBucketLocation"),
    ("GET", False, ""): ("list_objects", "s3:ListBucket"),
    ("GET", False, "versions"): ("list_object_versions", "s3:ListBucketVersions"),
    ("POST", False, "delete"): ("delete_objects", None),       # s3:DeleteObject, key by key
    ("PUT", True, ""): ("put_object", "s3:PutObject"),
    ("GET", True, ""): ("get_object", "s3:GetObject"),
    ("HEAD", True, ""): ("head_object", "s3:GetObject"),
    ("DELETE", True, ""): ("delete_object", "s3:DeleteObject"),
    ("POST", True, "uploads"): ("create_multipart_upload", "s3:PutObject"),
    ("PUT", True, "partNumber&uploadId"): ("upload_part", "s3:PutObject"),
    ("POST", True, "uploadId"): ("complete_multipart_upload", "s3:PutObject"),
    ("DELETE", True, "uploadId"): ("abort_multipart_upload", "s3:AbortMultipartUpload"),
}

#: Query names that are parameters of an operation, not a sub-resource choosing one
#: (and those of a presigned URL's signature, which the middleware has checked).
PARAMETERS = frozenset({
    "prefix", "delimiter", "marker", "max-keys", "encoding-type", "list-type",
    "continuation-token", "start-after", "fetch-owner", "key-marker", "version-id-marker",
    "versionId", "x-id", "response-content-type", "response-content-language",
    "response-expires", "response-cache-control", "response-content-disposition",
    "response-content-encoding", "AWSAccessKeyId", "Signature", "Expires"})

#: Request headers asking for what this gateway does not do.
UNSUPPORTED_HEADERS = (
    "x-amz-copy-source", "x-amz-copy-source-range", "x-amz-tagging",
    "x-amz-server-side-encryption", "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold",
    "x-amz-website-redirect-location", "x-amz-grant-read", "x-amz-grant-write",
    "x-amz-grant-read-acp", "x-amz-grant-write-acp", "x-amz-grant-full-control")
#: The canned ACLs that say no more than what this gateway does: the owner has it all.
OWNER_ONLY_ACLS = ("private", "bucket-owner-full-control")

#: Object headers stored with an object and returned with it; GetObject's ``response-*``
#: parameters override them (and ``Content-Type``) in one answer.
STORED_HEADERS = ("Cache-Control", "Content-Disposition", "Content-Encoding",
                  "Content-Language", "Expires")
OVERRIDES = {f"response-{name.lower()}": name for name in ("Content-Type", *STORED_HEADERS)}

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class Reply(NamedTuple):
    """An answer: status line, headers, and the body (bytes, or an iterable of them)."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes | Iterable[bytes]


class Request(NamedTuple):
    """One request to the gateway, as its operation sees it."""

    environ: dict
    method: str
    bucket: str
    key: str
    query: dict[str, str]
    account: str          # the caller's account ID


def _xml(root: str, *parts: str) -> Reply:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{XMLNS}">'
            + "".join(parts) + f"</{root}>")
    return Reply("200 OK", [("Content-Type", "application/xml")], body.encode("utf-8"))


def _name(key: str) -> str:
    """The file name of a key (a hash: keys may be longer than a file name or hold ``/``)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _http_date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


# -- the request --------------------------------------------------------------------

def _header(environ: dict, name: str) -> str | None:
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


def _subresource(query: dict[str, str]) -> str:
    """The names of the query that choose an operation (``uploadId``, ``acl``...)."""
    return "&".join(sorted(name for name in query if name not in PARAMETERS
                           and not name.lower().startswith("x-amz-")))


def _refuse_unsupported_headers(environ: dict, method: str) -> None:
    """501 for a header this gateway would otherwise ignore, doing less than asked."""
    names = list(UNSUPPORTED_HEADERS)
    if method in ("PUT", "POST"):
        names += ["if-match", "if-none-match"]      # a conditional write
    refused = [name for name in names if _header(environ, name) is not None]
    acl = _header(environ, "x-amz-acl")
    if acl is not None and acl.strip() not in OWNER_ONLY_ACLS:
        refused.append("x-amz-acl")
    if (_header(environ, "x-amz-bucket-object-lock-enabled") or "").lower() == "true":
        refused.append("x-amz-bucket-object-lock-enabled")
    if refused:
        raise NotImplemented_(Header=refused[0])


def _header_value(name: str, text: str) -> str:
    """A query parameter's text as a response header's value (its UTF-8, as WSGI wants it)."""
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise InvalidArgument("Header value cannot contain control characters",
                              ArgumentName=name)
    return text.encode("utf-8", "replace").decode("latin-1")


def _object_headers(environ: dict) -> dict:
    """What is stored of a new object's request headers: type, ``STORED_HEADERS``, metadata."""
    headers = {name: value for name in STORED_HEADERS
               if (value := _header(environ, name)) is not None}
    return {"content_type": environ.get("CONTENT_TYPE") or "binary/octet-stream",
            "headers": headers,
            "metadata": {key[16:].lower().replace("_", "-"): value
                         for key, value in environ.items() if key.startswith("HTTP_X_AMZ_META_")}}


class ObjectGateway:
    """The WSGI app: objects in files under ``root`` (see the module's docstring)."""

    def __init__(self, root: str | os.PathLike[str], store) -> None:
        self.root = Path(root)
        self.root.parent.mkdir(parents=True, exist_ok=True)
        make_private_dir(self.root)
        make_private_dir(self.root / ".trash")        # (no bucket name starts with a dot)
        self.store = store          # who owns which bucket (the middleware's store)

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        try:
            status, headers, body = self.handle(environ)
        except S3Error:
            raise         # answered as S3's XML error by the middleware (nothing is started)
        except Exception:
            log.exception("%s: internal error", environ.get(REQUEST_ID, "-"))
            raise InternalError() from None
        headers = [("x-amz-request-id", environ.get(REQUEST_ID, "")), *headers]
        if isinstance(body, bytes):
            headers.append(("Content-Length", str(len(body))))
            body = [body]
        start_response(status, headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            close = getattr(body, "close", None)
            if close is not None:
                close()
            return []
        return body

    # -- routing ------------------------------------------------------------------

    def handle(self, environ: dict) -> Reply:
        """Find the request's operation in :data:`OPERATIONS`, check it may, and do it."""
        identity = environ.get("s3service.identity")
        if identity is None:
            raise AccessDenied()
        method = environ.get("REQUEST_METHOD", "GET")
        bucket, _, key = request_path(environ).lstrip("/").partition("/")
        query = dict(parse_query(environ.get("QUERY_STRING")))
        found = OPERATIONS.get((method, bool(key), _subresource(query))) if bucket else None
        if found is None:
            raise NotImplemented_()
        _refuse_unsupported_headers(environ, method)
        validate_bucket_name(bucket)
        if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_LENGTH:
            raise KeyTooLongError(Size=len(key.encode("utf-8", "surrogatepass")),
                                  MaxSizeAllowed=MAX_KEY_LENGTH)
        if key and query.get("versionId", "null") != "null":     # never versioned
            raise InvalidArgument("Invalid version id specified", ArgumentName="versionId",
                                  ArgumentValue=query["versionId"])
        operation, action = found
        if action is not None:
            self.authorize(environ, action, bucket, key)
        request = Request(environ, method, bucket, key, query, identity.account_id)
        return getattr(self, operation)(request)

    def authorize(self, environ: dict, action: str, bucket: str, key: str) -> None:
        """AccessDenied unless the middleware's authorizer lets the caller do ``action``."""
        if not self.is_allowed(environ, action, bucket, key):
            raise AccessDenied()

    @staticmethod
    def is_allowed(environ: dict, action: str, bucket: str, key: str) -> bool:
        authorizer = environ.get("s3service.authorizer")
        resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")
        return authorizer is not None and authorizer.is_allowed(action, resource)

    # -- buckets ------------------------------------------------------------------

    def home(self, request: Request) -> Path:
        """The directory of a bucket the caller's account owns (else an S3 error)."""
        found = self.store.get_bucket(request.bucket)
        if found is None:
            raise NoSuchBucket(BucketName=request.bucket)
        owner, info = found
        expected = _header(request.environ, "x-amz-expected-bucket-owner")
        if owner != request.account or expected not in (None, owner):
            raise AccessDenied()
        return self._directory(request.bucket, _tenure(owner, info))

    def _directory(self, bucket: str, tenure: dict) -> Path:
        """The bucket's directory for its current row, made if new.

        A directory left by an earlier bucket of the name (its row deleted
        behind the gateway's back) is discarded first: its objects are not the
        new bucket's.
        """
        home = self.root / bucket
        for _ in range(5):     # (each pass either finds it, or loses a race with one who made it)
            try:
                if json.loads((home / "bucket.json").read_text()) == tenure:
                    return home
                self._discard_stale(home, tenure)
            except FileNotFoundError:
                if home.exists():
                    raise RuntimeError(f"{home} is not a bucket of this gateway") from None
            fresh = Path(tempfile.mkdtemp(dir=self.root / ".trash"))
            for part in ("objects", "uploads", "tmp"):
                make_private_dir(fresh / part)
            write_json(fresh / "bucket.json", tenure)
            try:
                os.rename(fresh, home)      # whole, with its bucket.json, or not at all
            except OSError:                 # another request made it first
                shutil.rmtree(fresh)
        raise RuntimeError(f"{home}: could not be made")

    @contextlib.contextmanager
    def _keeping(self, home: Path) -> Iterator[None]:
        """Hold off DeleteBucket while the block puts something in the bucket.

        ``NoSuchBucket`` if the bucket went since it was looked up: its
        directory moved away, or its row deleted (the directory may have been
        made again by a request that looked the row up just before).
        """
        with bucket_locked(home, exclusive=False) as tenure:
            found = self.store.get_bucket(home.name)
            if found is None or _tenure(*found) != tenure:
                raise NoSuchBucket(BucketName=home.name)
            yield

    def _discard_stale(self, home: Path, tenure: dict) -> None:
        """Remove the directory of an earlier bucket of the name: out of the way at
        once, then deleted (unless another request did, or made the new one, first)."""
        trash = self.root / ".trash" / uuid.uuid4().hex
        try:
            with bucket_locked(home, exclusive=True) as found:
                if found == tenure:
                    return
                os.rename(home, trash)
        except NoSuchBucket:
            return
        shutil.rmtree(trash)

    def create_bucket(self, request: Request) -> Reply:
        drain_body(request.environ)             # (a location constraint: checked, unused)
        with contextlib.suppress(BucketNameTaken):
            self.store.add_bucket(request.account, request.bucket)
        found = self.store.get_bucket(request.bucket)
        if found is None or found[0] != request.account:
            raise BucketAlreadyExists(BucketName=request.bucket)
        # (one's own again: 200, as S3 answers in us-east-1)
        self._directory(request.bucket, _tenure(*found))
        return Reply("200 OK", [("Location", f"/{request.bucket}")], b"")

    def head_bucket(self, request: Request) -> Reply:
        self.home(request)
        return Reply("200 OK", [], b"")

    def get_bucket_location(self, request: Request) -> Reply:
        self.home(request)
        region = self.store.get_bucket(request.bucket)[1].region
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="{XMLNS}">'
                f'{"" if region == "us-east-1" else region}</LocationConstraint>')
        return Reply("200 OK", [("Content-Type", "application/xml")], body.encode("utf-8"))

    def delete_bucket(self, request: Request) -> Reply:
        home = self.home(request)
        trash = self.root / ".trash" / uuid.uuid4().hex
        with bucket_locked(home, exclusive=True):      # no object is put in it meanwhile
            if any((home / "objects").iterdir()):
                raise BucketNotEmpty(BucketName=request.bucket)
            try:
                self.store.delete_bucket(request.bucket, owner=request.account)
            except UnknownBucket:       # deleted by another way meanwhile
                raise NoSuchBucket(BucketName=request.bucket) from None
            os.rename(home, trash)
        shutil.rmtree(trash)
        return Reply("204 No Content", [], b"")

    # -- listings -----------------------------------------------------------------

    def _sorted_objects(self, home: Path) -> list[dict]:
        found = (read_object_meta(path) for path in (home / "objects").iterdir())
        return sorted((meta for meta in found if meta is not None), key=lambda m: m["key"])

    def list_objects(self, request: Request) -> Reply:
        """ListObjects: v2 with ``list-type=2``, else v1."""
        query = request.query
        encode = _encoder(query)
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        max_keys = _max_keys(query)
        v2 = query.get("list-type") == "2"
        if v2:
            token = query.get("continuation-token")
            after = _token_key(token) if token is not None else query.get("start-after", "")
        else:
            after = query.get("marker", "")
        page = _page(self._sorted_objects(self.home(request)), prefix, delimiter, after,
                     max_keys)
        owner = element("Owner", element("ID", request.account)) \
            if not v2 or query.get("fetch-owner") == "true" else ""
        parts = [element("Name", request.bucket), element("Prefix", encode(prefix))]
        if v2:
            parts.append(f"<KeyCount>{len(page.objects) + len(page.prefixes)}</KeyCount>")
            if "continuation-token" in query:
                parts.append(element("ContinuationToken", query["continuation-token"]))
            if page.truncated:
                parts.append(element("NextContinuationToken", _token(page.last)))
            if "start-after" in query:
                parts.append(element("StartAfter", encode(query["start-after"])))
        else:
            parts.append(element("Marker", encode(after)))
            if page.truncated and delimiter:
                parts.append(element("NextMarker", encode(page.last)))
        parts += _listing_tail(page, max_keys, delimiter, encode, query)
        parts += ["<Contents>" + element("Key", encode(meta["key"]))
                  + element("LastModified", _iso(meta["modified"]))
                  + element("ETag", meta["etag"]) + f"<Size>{meta['size']}</Size>"
                  + owner + "<StorageClass>STANDARD</StorageClass></Contents>"
                  for meta in page.objects]
        parts += _common_prefixes(page, encode)
        return _xml("ListBucketResult", *parts)

    def list_object_versions(self, request: Request) -> Reply:
        """ListObjectVersions of a bucket never versioned: each object once, version ``null``."""
        query = request.query
        encode = _encoder(query)
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        max_keys = _max_keys(query)
        after = query.get("key-marker", "")
        if query.get("version-id-marker") and not after:
            raise InvalidArgument("A version-id marker cannot be specified without a key "
                                  "marker.", ArgumentName="version-id-marker",
                                  ArgumentValue=query["version-id-marker"])
        page = _page(self._sorted_objects(self.home(request)), prefix, delimiter, after,
                     max_keys)
        parts = [element("Name", request.bucket), element("Prefix", encode(prefix)),
                 element("KeyMarker", encode(after)),
                 element("VersionIdMarker", query.get("version-id-marker", ""))]
        if page.truncated:
            parts += [element("NextKeyMarker", encode(page.last)),
                      "<NextVersionIdMarker>null</NextVersionIdMarker>"]
        parts += _listing_tail(page, max_keys, delimiter, encode, query)
        parts += ["<Version>" + element("Key", encode(meta["key"]))
                  + "<VersionId>null</VersionId><IsLatest>true</IsLatest>"
                  + element("LastModified", _iso(meta["modified"]))
                  + element("ETag", meta["etag"]) + f"<Size>{meta['size']}</Size>"
                  + element("Owner", element("ID", request.account))
                  + "<StorageClass>STANDARD</StorageClass></Version>"
                  for meta in page.objects]
        parts += _common_prefixes(page, encode)
        return _xml("ListVersionsResult", *parts)

    # -- objects ------------------------------------------------------------------------

    def _object_path(self, home: Path, key: str) -> Path:
        return home / "objects" / _name(key)

    @contextlib.contextmanager
    def _writing(self, home: Path, path: Path) -> Iterator[tuple[BinaryIO, dict]]:
        """A new object file to become ``path``: the block writes its bytes and fills in
        its metadata; then the metadata ends the file, which is renamed into place
        (``NoSuchBucket`` if the bucket went meanwhile).  If the block raises, the
        file is removed and nothing changes."""
        try:
            fd, tmp = tempfile.mkstemp(dir=home / "tmp")
        except FileNotFoundError:               # deleted since it was looked up
            raise NoSuchBucket(BucketName=home.name) from None
        try:
            with os.fdopen(fd, "wb") as out:
                meta: dict = {}
                yield out, meta
                end_object_file(out, meta)
            with self._keeping(home):
                os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @staticmethod
    def _receive(request: Request, out: BinaryIO, meta: dict) -> list[tuple[str, str]]:
        """Write the body (an object's or a part's) to ``out``, its size and ETag (and a
        checksum the middleware verified) into ``meta``; the headers answering it."""
        md5 = copy_body(request.environ, out, MAX_OBJECT_SIZE, EntityTooLarge, required=True)
        meta.update(size=out.tell(), etag=f'"{md5}"')
        headers = [("ETag", meta["etag"])]
        report = request.environ.get(PAYLOAD_KEY)
        if report is not None and report.checksum_algorithm:
            meta["checksum"] = [report.checksum_algorithm, report.checksum]
            headers.append((f"x-amz-checksum-{report.checksum_algorithm.lower()}",
                            report.checksum))
        return headers

    def put_object(self, request: Request) -> Reply:
        home = self.home(request)
        with self._writing(home, self._object_path(home, request.key)) as (out, meta):
            headers = self._receive(request, out, meta)
            meta.update(key=request.key, modified=time.time(),
                        **_object_headers(request.environ))
        return Reply("200 OK", headers, b"")

    def _open_object(self, request: Request) -> tuple[BinaryIO, dict]:
        try:
            return open_object_file(self._object_path(self.home(request), request.key))
        except FileNotFoundError:
            raise NoSuchKey(Key=request.key) from None

    def head_object(self, request: Request) -> Reply:
        return self.get_object(request)

    def get_object(self, request: Request) -> Reply:
        file, meta = self._open_object(request)
        try:
            return self._object_reply(request, file, meta)
        except BaseException:
            file.close()
            raise

    def _object_reply(self, request: Request, file: BinaryIO, meta: dict) -> Reply:
        environ, size = request.environ, meta["size"]
        if not _modified(environ, meta):
            file.close()
            return Reply("304 Not Modified", [("ETag", meta["etag"]), (
                "Last-Modified", _http_date(meta["modified"]))], [])
        stored = {"Content-Type": meta["content_type"], **meta["headers"]}
        for parameter, name in OVERRIDES.items():
            if parameter in request.query:
                stored[name] = _header_value(parameter, request.query[parameter])
        headers = [("ETag", meta["etag"]), ("Last-Modified", _http_date(meta["modified"])),
                   ("Accept-Ranges", "bytes"), *stored.items()]
        headers += [(f"x-amz-meta-{name}", value) for name, value in meta["metadata"].items()]
        start, end, status = 0, size, "200 OK"
        ranged = environ.get("HTTP_RANGE")
        match = _RANGE.fullmatch(ranged.strip()) if ranged else None
        if match and (match[1] or match[2]):
            if match[1]:
                start = int(match[1])
                end = min(size, int(match[2]) + 1) if match[2] else size
            else:
                start = max(0, size - int(match[2]))
            if start >= size or start >= end:
                raise InvalidRange(RangeRequested=ranged, ActualObjectSize=size)
            status = "206 Partial Content"
            headers.append(("Content-Range", f"bytes {start}-{end - 1}/{size}"))
        elif "checksum" in meta and environ.get("HTTP_X_AMZ_CHECKSUM_MODE") == "ENABLED":
            algorithm, value = meta["checksum"]
            headers.append((f"x-amz-checksum-{algorithm.lower()}", value))
        headers.append(("Content-Length", str(end - start)))
        return Reply(status, headers, file_range(file, start, end))

    def delete_object(self, request: Request) -> Reply:
        self._object_path(self.home(request), request.key).unlink(missing_ok=True)
        return Reply("204 No Content", [], b"")

    def delete_objects(self, request: Request) -> Reply:
        """DeleteObjects: up to 1,000 keys, each authorized and answered on its own."""
        report = request.environ.get(PAYLOAD_KEY)
        if report is None or not (report.content_md5 or report.checksum_algorithm):
            raise InvalidRequest("Missing required header for this request: Content-MD5")
        home = self.home(request)
        fields, objects = parse_xml_list(request.environ, "Delete", "Object", MAX_DELETE_BODY,
                                          home / "tmp", MAX_DELETE_KEYS)
        quiet = fields.get("Quiet", "false").lower() == "true"
        if not objects or any(not entry.get("Key") for entry in objects):
            raise MalformedXML()
        parts = []
        for entry in objects:
            key, version = entry["Key"], entry.get("VersionId")
            named = element("Key", key) + ("" if version is None
                                           else element("VersionId", version))
            if version not in (None, "null"):
                code, message = "NoSuchVersion", "The specified version does not exist."
            elif not self.is_allowed(request.environ, "s3:DeleteObject", request.bucket, key):
                code, message = "AccessDenied", "Access Denied"
            else:
                self._object_path(home, key).unlink(missing_ok=True)
                if not quiet:
                    parts.append(f"<Deleted>{named}</Deleted>")
                continue
            parts.append(f"<Error>{named}{element('Code', code)}"
                         f"{element('Message', message)}</Error>")
        return _xml("DeleteResult", *parts)

    # -- multipart upload ---------------------------------------------------------------

    def _upload(self, request: Request, home: Path) -> Path:
        """The directory of the upload ``uploadId`` of the request's key (else NoSuchUpload)."""
        upload_id = request.query.get("uploadId", "")
        upload = home / "uploads" / upload_id
        try:
            if re.fullmatch(r"[0-9a-f]{32}", upload_id) and \
                    json.loads((upload / "upload.json").read_text())["key"] == request.key:
                return upload
        except FileNotFoundError:
            pass
        raise NoSuchUpload(UploadId=upload_id)

    def _open_upload(self, request: Request, home: Path) -> Path:
        """An upload that is still open (not completed)."""
        upload = self._upload(request, home)
        if (upload / "completed.json").exists():
            raise NoSuchUpload(UploadId=request.query["uploadId"])
        return upload

    def create_multipart_upload(self, request: Request) -> Reply:
        home = self.home(request)
        drain_body(request.environ)
        upload_id = uuid.uuid4().hex
        fresh = Path(tempfile.mkdtemp(dir=home / "tmp"))
        write_json(fresh / "upload.json", {"key": request.key,
                                            **_object_headers(request.environ)})
        with self._keeping(home):
            os.rename(fresh, home / "uploads" / upload_id)
        return _xml("InitiateMultipartUploadResult", element("Bucket", request.bucket),
                    element("Key", request.key), element("UploadId", upload_id))

    def upload_part(self, request: Request) -> Reply:
        number_text = request.query["partNumber"]
        if not number_text.isdigit() or not 1 <= int(number_text) <= MAX_PARTS:
            raise InvalidArgument("Part number must be an integer between 1 and 10000, inclusive",
                                  ArgumentName="partNumber", ArgumentValue=number_text)
        home = self.home(request)
        upload = self._open_upload(request, home)
        try:
            with self._writing(home, upload / f"part-{int(number_text):05d}") as (out, meta):
                headers = self._receive(request, out, meta)
        except FileNotFoundError:       # aborted meanwhile
            raise NoSuchUpload(UploadId=request.query["uploadId"]) from None
        return Reply("200 OK", headers, b"")

    def complete_multipart_upload(self, request: Request) -> Reply:
        """CompleteMultipartUpload; the same again answers as the first did (a client's retry)."""
        home = self.home(request)
        upload = self._upload(request, home)
        _, listed = parse_xml_list(request.environ, "CompleteMultipartUpload", "Part",
                                    MAX_COMPLETE_BODY, home / "tmp", MAX_PARTS)
        wanted = _wanted_parts(listed)
        with locked(upload / "upload.json"):
            completed = upload / "completed.json"
            if not (upload / "upload.json").exists():       # aborted meanwhile
                raise NoSuchUpload(UploadId=request.query["uploadId"])
            if not completed.exists():
                self._assemble(request, home, upload, wanted)
            etag = json.loads(completed.read_text())["etag"]
        return _xml("CompleteMultipartUploadResult",
                    element("Location", f"/{request.bucket}/{request.key}"),
                    element("Bucket", request.bucket), element("Key", request.key),
                    element("ETag", etag))

    def _assemble(self, request: Request, home: Path, upload: Path,
                  wanted: list[tuple[int, str]]) -> None:
        """Join the parts into the object; leave ``completed.json`` and no parts behind."""
        with contextlib.ExitStack() as stack:
            parts = []
            for number, etag in wanted:
                try:
                    file, meta = open_object_file(upload / f"part-{number:05d}")
                except FileNotFoundError:
                    raise InvalidPart(PartNumber=number, ETag=etag) from None
                stack.enter_context(file)
                if meta["etag"].strip('"') != etag.strip('"'):
                    raise InvalidPart(PartNumber=number, ETag=etag)
                parts.append((number, file, meta))
            for number, _, meta in parts[:-1]:
                if meta["size"] < MIN_PART_SIZE:
                    raise EntityTooSmall(ProposedSize=meta["size"], MinSizeAllowed=MIN_PART_SIZE,
                                         PartNumber=number, ETag=meta["etag"])
            digests = b"".join(bytes.fromhex(meta["etag"].strip('"')) for _, _, meta in parts)
            etag = f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'
            info = json.loads((upload / "upload.json").read_text())
            with self._writing(home, self._object_path(home, request.key)) as (out, meta):
                for _, file, part in parts:
                    copy_exactly(file, out, part["size"])
                meta.update(key=request.key, size=out.tell(), etag=etag, modified=time.time(),
                            content_type=info["content_type"], headers=info["headers"],
                            metadata=info["metadata"])
        write_json(upload / "completed.json", {"etag": etag})
        for part in upload.glob("part-*"):
            part.unlink(missing_ok=True)

    def abort_multipart_upload(self, request: Request) -> Reply:
        upload = self._open_upload(request, self.home(request))
        with locked(upload / "upload.json"):
            if (upload / "completed.json").exists():        # completed meanwhile
                raise NoSuchUpload(UploadId=request.query["uploadId"])
            shutil.rmtree(upload, ignore_errors=True)
        return Reply("204 No Content", [], b"")


# -- helpers of the operations ----------------------------------------------------------

def _tenure(owner: str, info) -> dict:
    """What tells one bucket of a name from another of the same name: owner, creation time."""
    created: datetime = info.created
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return {"owner": owner, "created": created.astimezone(timezone.utc).isoformat()}


def _modified(environ: dict, meta: dict) -> bool:
    """GetObject's conditions: ``False`` for ``304 Not Modified``, PreconditionFailed if one
    fails (``If-Match`` wins over ``If-Unmodified-Since``, ``If-None-Match`` over
    ``If-Modified-Since``, as S3 has it).  ``Range`` downloads send ``If-Match`` so that an
    object replaced meanwhile is not stitched together from two versions."""
    modified = int(meta["modified"])            # (HTTP dates are to the second)
    if_match, if_none_match = _header(environ, "if-match"), _header(environ, "if-none-match")
    if if_match is not None:
        if not _etag_in(if_match, meta["etag"]):
            raise PreconditionFailed(Condition="If-Match")
    elif _since(environ, "if-unmodified-since", modified):
        raise PreconditionFailed(Condition="If-Unmodified-Since")
    if if_none_match is not None:
        return not _etag_in(if_none_match, meta["etag"])
    return _since(environ, "if-modified-since", modified) is not False


def _etag_in(listed: str, etag: str) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` list names ``etag`` (or is ``*``)."""
    wanted = {tag.strip().removeprefix("W/").strip('"') for tag in listed.split(",")}
    return "*" in wanted or etag.strip('"') in wanted


def _since(environ: dict, name: str, modified: int) -> bool | None:
    """Whether the object was modified after the date of header ``name``; ``None`` without
    one (or with one that is not a date, which HTTP says to ignore)."""
    text = _header(environ, name)
    try:
        return modified > parsedate_to_datetime(text).timestamp() if text else None
    except (TypeError, ValueError):
        return None


def _wanted_parts(listed: list[dict[str, str]]) -> list[tuple[int, str]]:
    """CompleteMultipartUpload's parts: (number, ETag), in ascending order (else S3's error)."""
    wanted = []
    for fields in listed:
        number, etag = fields.get("PartNumber", "").strip(), fields.get("ETag", "").strip()
        if not number.isdigit() or not etag:
            raise MalformedXML()
        if not 1 <= int(number) <= MAX_PARTS:
            raise InvalidArgument("Part number must be an integer between 1 and 10000, inclusive",
                                  ArgumentName="partNumber", ArgumentValue=number)
        if wanted and int(number) <= wanted[-1][0]:
            raise InvalidPartOrder()
        wanted.append((int(number), etag))
    if not wanted:
        raise MalformedXML()
    return wanted


class Page(NamedTuple):
    """One page of a listing."""

    objects: list[dict]
    prefixes: list[str]
    truncated: bool
    last: str             # the last key or common prefix on the page (where the next starts)


def _page(objects: list[dict], prefix: str, delimiter: str, after: str, max_keys: int) -> Page:
    """The keys after ``after`` under ``prefix``, rolled up at ``delimiter``: one page."""
    found: list[dict] = []
    prefixes: list[str] = []
    last = ""
    for meta in objects:
        key = meta["key"]
        if not key.startswith(prefix) or key <= after:
            continue
        rest = key[len(prefix):]
        common = prefix + rest.split(delimiter, 1)[0] + delimiter \
            if delimiter and delimiter in rest else None
        if common is not None and (common in prefixes or common <= after):
            continue
        if len(found) + len(prefixes) == max_keys:
            return Page(found, prefixes, max_keys > 0, last)
        if common is not None:
            prefixes.append(common)
            last = common
        else:
            found.append(meta)
            last = key
    return Page(found, prefixes, False, last)


def _listing_tail(page: Page, max_keys: int, delimiter: str, encode, query: dict) -> list[str]:
    """The elements every listing has after its markers."""
    parts = [f"<MaxKeys>{max_keys}</MaxKeys>"]
    if delimiter:
        parts.append(element("Delimiter", encode(delimiter)))
    parts.append(f"<IsTruncated>{'true' if page.truncated else 'false'}</IsTruncated>")
    if "encoding-type" in query:
        parts.append("<EncodingType>url</EncodingType>")
    return parts


def _common_prefixes(page: Page, encode) -> list[str]:
    return ["<CommonPrefixes>" + element("Prefix", encode(p)) + "</CommonPrefixes>"
            for p in page.prefixes]


def _encoder(query: dict):
    """How a listing writes keys: as they are, or URL-encoded with ``encoding-type=url``."""
    encoding = query.get("encoding-type")
    if encoding is None:
        return lambda text: text
    if encoding.lower() != "url":
        raise InvalidArgument("Invalid Encoding Method specified in Request",
                              ArgumentName="encoding-type", ArgumentValue=encoding)
    return lambda text: quote(text, safe="/")


def _max_keys(query: dict) -> int:
    text = query.get("max-keys", "1000")
    if not text.isdigit():
        raise InvalidArgument("Provided max-keys not an integer or within integer range",
                              ArgumentName="max-keys", ArgumentValue=text)
    return min(1000, int(text))


def _token(key: str) -> str:
    """A ListObjectsV2 continuation token: where the next page starts, opaque to the client."""
    return base64.urlsafe_b64encode(key.encode("utf-8", "surrogatepass")).decode("ascii")


def _token_key(token: str) -> str:
    try:
        raw = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True)
        return raw.decode("utf-8", "surrogatepass")
    except (ValueError, binascii.Error):
        raise InvalidArgument("The continuation token provided is incorrect",
                              ArgumentName="continuation-token") from None


def make_app(root: str | os.PathLike[str], store, *, region: str = "us-east-1",
             **options) -> S3ServiceMiddleware:
    """The gateway on ``root`` behind the middleware (``authenticate_all=True``).

    ``store`` holds the credentials and answers ListBuckets (a
    :class:`~s3service.backends.memory.MemoryBackend`, for one).
    """
    return S3ServiceMiddleware(ObjectGateway(root, store), credentials=store, buckets=store,
                               region=region, authenticate_all=True, **options)


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    from s3service.backends.memory import MemoryBackend
    from s3service.gateway.admin import new_access_key, new_account_id, new_secret_key

    store = MemoryBackend()
    account, access_key, secret_key = new_account_id(), new_access_key(), new_secret_key()
    store.add_account(account, display_name="example")
    store.add_key(account, access_key, secret_key)
    root = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="objects-")
    print(f"objects in {root}\nexport AWS_ACCESS_KEY_ID={access_key} "
          f"AWS_SECRET_ACCESS_KEY={secret_key} AWS_DEFAULT_REGION=us-east-1")
    make_server("127.0.0.1", 8000, make_app(root, store)).serve_forever()
