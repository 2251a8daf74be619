"""Real boto3 clients talking to a WSGI app in-process, for the gateway's tests.

A ``before-send`` hook hands each request, exactly as botocore signed it, to
the app (through WebTest) and gives botocore the app's answer to parse::

    s3 = boto3_client(app, ("AKID", "secret"))
    assert status_of(s3.create_bucket(Bucket="photos")) == 200
    assert error_of(s3.delete_bucket, Bucket="nope") == (404, "NoSuchBucket")
"""
from __future__ import annotations

from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from webtest import TestApp

ENDPOINT = "http://s3.example.com"


class _Raw:
    """What botocore reads a response body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body


def boto3_client(app, key, region="us-east-1", endpoint=ENDPOINT):
    """A real boto3 S3 client whose requests go to the WSGI ``app`` in-process."""
    test_app = TestApp(app)
    client = boto3.client("s3", endpoint_url=endpoint, region_name=region,
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
