"""A small object gateway storing objects in a directory, behind the middleware.

    python examples/objectgateway.py /tmp/objects     # serves on http://127.0.0.1:8000

It answers PutObject, GetObject (with ``Range``), HeadObject, DeleteObject,
ListObjectsV2 and multipart upload (Create, UploadPart, Complete, Abort),
plus CreateBucket/HeadBucket/DeleteBucket on its directories, path-style.
:func:`make_app` mounts it behind :class:`~s3service.S3ServiceMiddleware`
with ``authenticate_all=True``, so the middleware has checked the caller's
signature *and* checks the body as the gateway reads it
(:mod:`s3service.payload`): ``x-amz-content-sha256``, signed chunks,
checksums, ``Content-MD5``.  The gateway's part is to stream the body into a
temporary file and rename it into place only after the read that reaches
the end has returned (``environ["s3service.payload"].verified``): a body
that fails its checks raises an S3 error from that read, which is answered
as S3 answers it, and leaves nothing behind.

Layout under the root: ``<bucket>/objects/<sha256 of key>`` holds the data,
``<bucket>/meta/<sha256 of key>.json`` the key, size, ETag, checksum and
content type; ``<bucket>/uploads/<upload id>/`` a multipart upload's parts.
Each bucket belongs to the account that created it: CreateBucket and
DeleteBucket go through the middleware's store too (so ``aws s3 ls`` lists
them), and a request for a bucket of another account is ``AccessDenied``.
Each operation asks the middleware's authorizer, through
``environ["s3service.authorizer"]`` (``s3:PutObject`` on
``arn:aws:s3:::bucket/key``...), so an IAM user does what its policies allow.

A model for a gateway, not a product: no versioning, ACLs or locking
between writers of one key (the last rename wins).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

from defusedxml import ElementTree

from s3service import S3ServiceMiddleware
from s3service.backends.base import BucketNameTaken
from s3service.bucketnames import validate_bucket_name
from s3service.envelope import Exchange, Reply, answer
from s3service.errors import (AccessDenied, BucketAlreadyExists, BucketNotEmpty,
                              IncompleteBody, InvalidArgument, InvalidRequest, MalformedXML,
                              NoSuchBucket, NotImplemented_, error_class)
from s3service.payload import PAYLOAD_KEY
from s3service.wsgi import parse_query, request_path
from s3service.xmltext import element

NoSuchKey = error_class("NoSuchKey", 404, "The specified key does not exist.", __name__)
NoSuchUpload = error_class(
    "NoSuchUpload", 404, "The specified multipart upload does not exist. The upload ID may be "
    "invalid, or the upload may have been aborted or completed.", __name__)
InvalidPart = error_class(
    "InvalidPart", 400, "One or more of the specified parts could not be found. The part may "
    "not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    __name__)
InvalidRange = error_class("InvalidRange", 416, "The requested range is not satisfiable",
                           __name__)

PIECE = 256 * 1024
XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _name(key: str) -> str:
    """The file name of a key (a hash: keys may be longer than a file name or hold ``/``)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _http_date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


def _write_json(path: Path, doc: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


def _read_body(environ: dict, into) -> str:
    """Copy the (verified) body into the open file ``into``; its MD5 in hex.

    Returns only once the read that reaches the end has returned, so only
    once every check the middleware makes has held.
    """
    stream = environ["wsgi.input"]
    left = int(environ.get("CONTENT_LENGTH") or 0)
    md5 = hashlib.md5()
    while left > 0:
        data = stream.read(min(PIECE, left))
        if not data:
            raise IncompleteBody()
        md5.update(data)
        into.write(data)
        left -= len(data)
    report = environ.get(PAYLOAD_KEY)
    if report is not None and not report.verified:  # nothing read: an empty body
        stream.read()
    return md5.hexdigest()


class ObjectGateway:
    """The WSGI app: objects in files under ``root`` (see the module's docstring)."""

    def __init__(self, root: str | os.PathLike[str], store) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.store = store          # who owns which bucket (the middleware's store)

    def __call__(self, environ: dict, start_response) -> Iterator[bytes]:
        return answer(environ, start_response, self.handle)

    # -- routing ------------------------------------------------------------------

    def handle(self, exchange: Exchange) -> Reply:
        environ = exchange.environ
        if environ.get("s3service.identity") is None:
            raise AccessDenied()
        bucket, _, key = request_path(environ).lstrip("/").partition("/")
        query = dict(parse_query(environ.get("QUERY_STRING")))
        method = exchange.method
        if not bucket:
            raise NotImplemented_()
        validate_bucket_name(bucket)
        self.authorize(environ, _action(method, key, query), bucket, key)
        if not key:
            return self.bucket_request(method, bucket, query, environ)
        home = self.home(environ, bucket)
        if "uploadId" in query:
            upload = self._upload_dir(home, query["uploadId"], key)
            if method == "PUT":
                return self.upload_part(environ, upload, query.get("partNumber", ""))
            if method == "POST":
                return self.complete(environ, home, bucket, key, upload)
            if method == "DELETE":
                shutil.rmtree(upload, ignore_errors=True)
                return Reply("204 No Content", [], b"")
        elif method == "POST" and "uploads" in query:
            return self.create_upload(environ, home, bucket, key)
        elif method == "PUT":
            if "HTTP_X_AMZ_COPY_SOURCE" in environ:
                raise NotImplemented_()
            return self.put_object(environ, home, key)
        elif method in ("GET", "HEAD"):
            return self.get_object(environ, home, key)
        elif method == "DELETE":
            for path in (home / "meta" / f"{_name(key)}.json", home / "objects" / _name(key)):
                path.unlink(missing_ok=True)
            return Reply("204 No Content", [], b"")
        raise NotImplemented_()

    def authorize(self, environ: dict, action: str, bucket: str, key: str) -> None:
        """AccessDenied unless the middleware's authorizer lets the caller do ``action``."""
        authorizer = environ.get("s3service.authorizer")
        resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")
        if authorizer is None or not authorizer.is_allowed(action, resource):
            raise AccessDenied()

    def home(self, environ: dict, bucket: str) -> Path:
        """The directory of a bucket the caller's account owns (else an S3 error)."""
        found = self.store.get_bucket(bucket)
        if found is None:
            raise NoSuchBucket(BucketName=bucket)
        if found[0] != environ["s3service.identity"].account_id:
            raise AccessDenied()
        home = self.root / bucket
        for part in ("objects", "meta", "uploads", "tmp"):
            (home / part).mkdir(parents=True, exist_ok=True)
        return home

    def bucket_request(self, method: str, bucket: str, query: dict, environ: dict) -> Reply:
        if method == "PUT":
            with open(os.devnull, "wb") as sink:  # (a location constraint: checked, unused)
                _read_body(environ, sink)
            owner = environ["s3service.identity"].account_id
            try:
                self.store.add_bucket(owner, bucket)
            except BucketNameTaken:
                found = self.store.get_bucket(bucket)
                if found is None or found[0] != owner:
                    raise BucketAlreadyExists(BucketName=bucket) from None
                # (one's own again: 200, as S3 answers in us-east-1)
            self.home(environ, bucket)
            return Reply("200 OK", [("Location", f"/{bucket}")], b"")
        home = self.home(environ, bucket)
        if method == "HEAD":
            return Reply("200 OK", [], b"")
        if method == "GET":
            return self.list_objects(home, bucket, query)
        if method == "DELETE":
            if any((home / "meta").iterdir()):
                raise BucketNotEmpty(BucketName=bucket)
            self.store.delete_bucket(bucket, owner=environ["s3service.identity"].account_id)
            shutil.rmtree(home)
            return Reply("204 No Content", [], b"")
        raise NotImplemented_()

    # -- objects ------------------------------------------------------------------------

    def _receive(self, environ: dict, home: Path) -> tuple[Path, str]:
        """The body in a new temporary file (removed if it fails its checks), and its MD5."""
        fd, tmp = tempfile.mkstemp(dir=home / "tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                md5 = _read_body(environ, out)
        except BaseException:
            os.unlink(tmp)
            raise
        return Path(tmp), md5

    def put_object(self, environ: dict, home: Path, key: str) -> Reply:
        tmp, md5 = self._receive(environ, home)
        report = environ.get(PAYLOAD_KEY)
        doc = {"key": key, "size": tmp.stat().st_size, "etag": f'"{md5}"',
               "content_type": environ.get("CONTENT_TYPE") or "binary/octet-stream",
               "modified": time.time(), "metadata": _user_metadata(environ)}
        headers = [("ETag", doc["etag"])]
        if report is not None and report.checksum_algorithm and report.verified:
            doc["checksum"] = [report.checksum_algorithm, report.checksum]
            headers.append((f"x-amz-checksum-{report.checksum_algorithm.lower()}",
                            report.checksum))
        os.replace(tmp, home / "objects" / _name(key))
        _write_json(home / "meta" / f"{_name(key)}.json", doc)
        return Reply("200 OK", headers, b"")

    def _meta(self, home: Path, key: str) -> dict:
        try:
            return json.loads((home / "meta" / f"{_name(key)}.json").read_text())
        except FileNotFoundError:
            raise NoSuchKey(Key=key) from None

    def get_object(self, environ: dict, home: Path, key: str) -> Reply:
        doc = self._meta(home, key)
        size = doc["size"]
        headers = [("ETag", doc["etag"]), ("Last-Modified", _http_date(doc["modified"])),
                   ("Content-Type", doc["content_type"]), ("Accept-Ranges", "bytes")]
        headers += [(f"x-amz-meta-{name}", value) for name, value in doc["metadata"].items()]
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
        elif "checksum" in doc and environ.get("HTTP_X_AMZ_CHECKSUM_MODE") == "ENABLED":
            algorithm, value = doc["checksum"]
            headers.append((f"x-amz-checksum-{algorithm.lower()}", value))
        headers.append(("Content-Length", str(end - start)))
        return Reply(status, headers, _file_range(home / "objects" / _name(key), start, end))

    def list_objects(self, home: Path, bucket: str, query: dict) -> Reply:
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        after = query.get("continuation-token") or query.get("start-after") or ""
        try:
            max_keys = min(1000, int(query.get("max-keys", "1000")))
        except ValueError:
            raise InvalidArgument("Provided max-keys not an integer or within integer range",
                                  ArgumentName="max-keys") from None
        docs = sorted((json.loads(p.read_text()) for p in (home / "meta").glob("*.json")),
                      key=lambda d: d["key"])
        contents, prefixes, truncated, last = [], [], False, ""
        for doc in docs:
            key = doc["key"]
            if not key.startswith(prefix) or key <= after:
                continue
            if delimiter and delimiter in key[len(prefix):]:
                common = prefix + key[len(prefix):].split(delimiter, 1)[0] + delimiter
                if common in prefixes or common <= after:
                    continue
                entry = ("prefix", common)
            else:
                entry = ("key", doc)
            if len(contents) + len(prefixes) == max_keys:
                truncated = True
                break
            if entry[0] == "prefix":
                prefixes.append(entry[1])
                last = entry[1]
            else:
                contents.append(doc)
                last = key
        parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{XMLNS}">',
                 element("Name", bucket), element("Prefix", prefix),
                 f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>",
                 f"<MaxKeys>{max_keys}</MaxKeys>",
                 f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
        if delimiter:
            parts.append(element("Delimiter", delimiter))
        if truncated:
            parts.append(element("NextContinuationToken", last))
        for doc in contents:
            parts.append("<Contents>" + element("Key", doc["key"])
                         + element("LastModified", _iso(doc["modified"]))
                         + element("ETag", doc["etag"]) + f"<Size>{doc['size']}</Size>"
                         + "<StorageClass>STANDARD</StorageClass></Contents>")
        parts += ["<CommonPrefixes>" + element("Prefix", p) + "</CommonPrefixes>"
                  for p in prefixes]
        parts.append("</ListBucketResult>")
        return Reply("200 OK", [("Content-Type", "application/xml")],
                     "".join(parts).encode("utf-8"))

    # -- multipart upload ---------------------------------------------------------------

    def _upload_dir(self, home: Path, upload_id: str, key: str) -> Path:
        upload = home / "uploads" / upload_id
        if not re.fullmatch(r"[0-9a-f]{32}", upload_id) or not upload.is_dir() or \
                json.loads((upload / "upload.json").read_text())["key"] != key:
            raise NoSuchUpload(UploadId=upload_id)
        return upload

    def create_upload(self, environ: dict, home: Path, bucket: str, key: str) -> Reply:
        with open(os.devnull, "wb") as sink:
            _read_body(environ, sink)
        upload_id = uuid.uuid4().hex
        upload = home / "uploads" / upload_id
        upload.mkdir(parents=True)
        _write_json(upload / "upload.json", {
            "key": key, "content_type": environ.get("CONTENT_TYPE") or "binary/octet-stream",
            "metadata": _user_metadata(environ)})
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<InitiateMultipartUploadResult xmlns="{XMLNS}">{element("Bucket", bucket)}'
                f'{element("Key", key)}{element("UploadId", upload_id)}'
                "</InitiateMultipartUploadResult>")
        return Reply("200 OK", [("Content-Type", "application/xml")], body.encode("utf-8"))

    def upload_part(self, environ: dict, upload: Path, number_text: str) -> Reply:
        if not number_text.isdigit() or not 1 <= int(number_text) <= 10000:
            raise InvalidArgument("Part number must be an integer between 1 and 10000, inclusive",
                                  ArgumentName="partNumber", ArgumentValue=number_text)
        tmp, md5 = self._receive(environ, upload.parent.parent)
        number = int(number_text)
        headers = [("ETag", f'"{md5}"')]
        report = environ.get(PAYLOAD_KEY)
        if report is not None and report.checksum_algorithm and report.verified:
            headers.append((f"x-amz-checksum-{report.checksum_algorithm.lower()}",
                            report.checksum))
        os.replace(tmp, upload / f"part-{number:05d}")
        _write_json(upload / f"part-{number:05d}.json", {"etag": f'"{md5}"'})
        return Reply("200 OK", headers, b"")

    def complete(self, environ: dict, home: Path, bucket: str, key: str, upload: Path) -> Reply:
        with tempfile.TemporaryFile() as spool:
            _read_body(environ, spool)
            spool.seek(0)
            try:
                root = ElementTree.fromstring(spool.read())
            except ElementTree.ParseError:
                raise MalformedXML() from None
        wanted = []
        for part in root.iter():
            if part.tag.rsplit("}", 1)[-1] == "Part":
                fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in part}
                wanted.append((fields.get("PartNumber", ""), fields.get("ETag", "")))
        if not wanted:
            raise MalformedXML()
        numbers = [int(n) if n.isdigit() else 0 for n, _ in wanted]
        if numbers != sorted(set(numbers)):
            raise InvalidRequest("The list of parts was not in ascending order.")
        digests = b""
        fd, tmp = tempfile.mkstemp(dir=home / "tmp")
        with os.fdopen(fd, "wb") as out:
            for number, (_, etag) in zip(numbers, wanted):
                part = upload / f"part-{number:05d}"
                meta = part.with_name(part.name + ".json")
                if not meta.exists() or \
                        json.loads(meta.read_text())["etag"].strip('"') != etag.strip('"'):
                    os.unlink(tmp)
                    raise InvalidPart(PartNumber=number, ETag=etag)
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out, PIECE)
                digests += bytes.fromhex(etag.strip('"'))
        info = json.loads((upload / "upload.json").read_text())
        etag = f'"{hashlib.md5(digests).hexdigest()}-{len(numbers)}"'
        doc = {"key": key, "size": os.path.getsize(tmp), "etag": etag,
               "content_type": info["content_type"], "modified": time.time(),
               "metadata": info["metadata"]}
        os.replace(tmp, home / "objects" / _name(key))
        _write_json(home / "meta" / f"{_name(key)}.json", doc)
        shutil.rmtree(upload, ignore_errors=True)
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<CompleteMultipartUploadResult xmlns="{XMLNS}">'
                f'{element("Location", f"/{bucket}/{key}")}{element("Bucket", bucket)}'
                f'{element("Key", key)}{element("ETag", etag)}</CompleteMultipartUploadResult>')
        return Reply("200 OK", [("Content-Type", "application/xml")], body.encode("utf-8"))


def _action(method: str, key: str, query: dict) -> str:
    """The IAM action of a request to this gateway (``s3:PutObject``...)."""
    if not key:
        return {"PUT": "s3:CreateBucket", "DELETE": "s3:DeleteBucket"}.get(method, "s3:ListBucket")
    if method == "DELETE":
        return "s3:AbortMultipartUpload" if "uploadId" in query else "s3:DeleteObject"
    if method in ("GET", "HEAD"):
        return "s3:GetObject"
    return "s3:PutObject"       # PUT, a part, and creating or completing a multipart upload


def _user_metadata(environ: dict) -> dict[str, str]:
    return {key[16:].lower().replace("_", "-"): value for key, value in environ.items()
            if key.startswith("HTTP_X_AMZ_META_")}


def _file_range(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(start)
        left = end - start
        while left > 0:
            data = f.read(min(PIECE, left))
            if not data:
                return
            left -= len(data)
            yield data


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
