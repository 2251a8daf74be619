"""Hardening, second round: the bundled gateway and its stores, driven by real boto3.

boto3 clients here send nothing over the network: a ``before-send`` hook hands
each request, exactly as botocore signed it, to the WSGI app (WebTest) and
gives botocore the app's answer to parse.
"""
from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from webtest import TestApp

from s3service.backends.base import AllowAuthenticated
from s3service.backends.memory import MemoryBackend
from s3service.gateway import app_factory, make_app

ACCOUNT, OTHER = "a" * 64, "b" * 64
ROOT_KEY = ("AKIAROOTROOTROOTROOT0", "root-secret-root-secret-root-secret-0000")
USER_KEY = ("AKIAUSERUSERUSERUSER0", "user-secret-user-secret-user-secret-0000")
OTHER_KEY = ("AKIAOTHEROTHEROTHER0", "other-secret-other-secret-other-secret-0")
ENDPOINT = "http://s3.example.com"


# -- boto3 through WebTest ---------------------------------------------------------------

class _Raw:
    """What botocore reads a response body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body


def boto3_client(app, key, region="us-east-1"):
    """A real boto3 S3 client whose requests go to the WSGI ``app`` in-process."""
    test_app = TestApp(app)
    client = boto3.client("s3", endpoint_url=ENDPOINT, region_name=region,
                          aws_access_key_id=key[0], aws_secret_access_key=key[1],
                          config=Config(s3={"addressing_style": "path"},
                                        retries={"max_attempts": 1}))

    def send(request, **_):
        parts = urlsplit(request.url)
        body = request.body or b""
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = {name: value.decode("latin-1") if isinstance(value, bytes) else str(value)
                   for name, value in request.headers.items()}
        headers["Host"] = parts.netloc
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = test_app.request(path, method=request.method, headers=headers, body=body,
                                    expect_errors=True)
        return AWSResponse(request.url, response.status_int, dict(response.headerlist),
                           _Raw(response.body))

    client.meta.events.register("before-send.s3", send)
    return client


def error_of(call, *args, **kwargs) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def status_of(response) -> int:
    return response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def store():
    store = MemoryBackend()
    store.add_account(ACCOUNT, display_name="alice")
    store.add_key(ACCOUNT, *ROOT_KEY)
    store.add_key(ACCOUNT, *USER_KEY, user="mallory")
    store.add_account(OTHER, display_name="bob")
    store.add_key(OTHER, *OTHER_KEY)
    return store


def bucket_names(store, account=ACCOUNT) -> list[str]:
    return [info.name for info in store.list_buckets(account)]


# -- 2. DeleteBucket deletes only the caller's bucket --------------------------------------

class Meddling:
    """A store in which Bob deletes Alice's ``contested`` bucket and makes one of his own
    of that name, just after the gateway first looks at it (or just before it deletes)."""

    def __init__(self, store: MemoryBackend) -> None:
        self._store = store
        self._done = False

    def __getattr__(self, name):
        return getattr(self._store, name)

    def _meddle(self) -> None:
        if not self._done:
            self._done = True
            self._store.delete_bucket("contested")
            self._store.add_bucket(OTHER, "contested")

    def get_bucket(self, name):
        found = self._store.get_bucket(name)
        self._meddle()
        return found

    def delete_bucket(self, name, **options):
        self._meddle()
        return self._store.delete_bucket(name, **options)


def test_delete_bucket_never_deletes_another_accounts_new_bucket(store):
    store.add_bucket(ACCOUNT, "contested")
    alice = boto3_client(make_app(Meddling(store)), ROOT_KEY)
    assert error_of(alice.delete_bucket, Bucket="contested") == (403, "AccessDenied")
    assert store.get_bucket("contested")[0] == OTHER                 # Bob's bucket survives


def test_delete_bucket_answers(store):
    store.add_bucket(OTHER, "bobs")
    alice = boto3_client(make_app(store), ROOT_KEY)
    assert error_of(alice.delete_bucket, Bucket="missing") == (404, "NoSuchBucket")
    assert error_of(alice.delete_bucket, Bucket="bobs") == (403, "AccessDenied")
    assert store.get_bucket("bobs")[0] == OTHER
    alice.create_bucket(Bucket="alices")
    assert status_of(alice.delete_bucket(Bucket="alices")) == 204
    assert store.get_bucket("alices") is None
