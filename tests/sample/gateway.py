"""A small object gateway, as a user of the library writes one: only its public API.

Objects are kept in a dict; buckets are the store's.  Every request reaches
it authenticated (``authenticate_all=True``), and each operation asks the
middleware's authorizer first, so the store's IAM policies decide.  Type-checked
with ``mypy --strict`` in CI, as a user's code would be.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from typing import Any

from s3service import (AUTHORIZER_KEY, IDENTITY_KEY, PAYLOAD_KEY, Identity, RequestAuthorizer,
                       S3Error, S3ServiceMiddleware)
from s3service.backends import AdminStore, BucketNameTaken
from s3service.errors import (AccessDenied, BucketAlreadyExists, BucketAlreadyOwnedByYou,
                              MethodNotAllowed, NoSuchBucket, NoSuchKey)

StartResponse = Callable[..., Any]
SERVICE_HOST = "s3.example.com"


class ObjectGateway:
    """PUT/GET/HEAD/DELETE of objects, and PUT (CreateBucket) of buckets, path-style."""

    def __init__(self, store: AdminStore) -> None:
        self.store = store
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        identity: Identity | None = environ[IDENTITY_KEY]
        if identity is None:
            raise AccessDenied()
        ask: RequestAuthorizer = environ[AUTHORIZER_KEY]
        method: str = environ["REQUEST_METHOD"]
        bucket, _, key = environ["PATH_INFO"].lstrip("/").partition("/")
        if not key:
            return self.create_bucket(identity, ask, method, bucket, start_response)
        self.owned_bucket(identity, bucket)
        action = {"PUT": "s3:PutObject", "GET": "s3:GetObject", "HEAD": "s3:GetObject",
                  "DELETE": "s3:DeleteObject"}.get(method)
        if action is None:
            raise MethodNotAllowed(method=method, resource_type="OBJECT")
        if not ask.is_allowed(action, f"arn:aws:s3:::{bucket}/{key}"):
            raise AccessDenied()
        if method == "PUT":
            data = b"".join(iter(lambda: environ["wsgi.input"].read(65536), b""))
            if not environ[PAYLOAD_KEY].verified:       # the read that ends checks it all
                raise S3Error("the body was not verified")     # never keep it then
            etag = '"' + hashlib.md5(data).hexdigest() + '"'
            with self.lock:
                self.objects[bucket, key] = (data, etag)
            start_response("200 OK", [("ETag", etag), ("Content-Length", "0")])
            return [b""]
        with self.lock:
            found = self.objects.get((bucket, key))
            if found is None:
                raise NoSuchKey(Key=key)
            if method == "DELETE":
                del self.objects[bucket, key]
                start_response("204 No Content", [])
                return [b""]
        data, etag = found
        start_response("200 OK", [("ETag", etag), ("Content-Length", str(len(data))),
                                  ("Content-Type", "application/octet-stream")])
        return [b"" if method == "HEAD" else data]

    def create_bucket(self, identity: Identity, ask: RequestAuthorizer, method: str,
                      bucket: str, start_response: StartResponse) -> Iterable[bytes]:
        if method != "PUT":
            raise MethodNotAllowed(method=method, resource_type="BUCKET")
        if not ask.is_allowed("s3:CreateBucket", f"arn:aws:s3:::{bucket}"):
            raise AccessDenied()
        try:
            self.store.add_bucket(identity.account_id, bucket)
        except BucketNameTaken as taken:
            if taken.owner == identity.account_id:
                raise BucketAlreadyOwnedByYou(BucketName=bucket) from None
            raise BucketAlreadyExists(BucketName=bucket) from None
        start_response("200 OK", [("Location", f"/{bucket}"), ("Content-Length", "0")])
        return [b""]

    def owned_bucket(self, identity: Identity, bucket: str) -> None:
        found = self.store.get_bucket(bucket)
        if found is None:
            raise NoSuchBucket(BucketName=bucket)
        if found[0] != identity.account_id:
            raise AccessDenied()


def make_app(store: AdminStore) -> S3ServiceMiddleware:
    """The gateway behind the middleware, both on ``store``, with the default authorizer."""
    return S3ServiceMiddleware(ObjectGateway(store), credentials=store, buckets=store,
                               service_hosts=[SERVICE_HOST], authenticate_all=True)
