"""presign(): URLs the middleware (and botocore's own checker, the middleware) accepts."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from webtest import TestApp

from s3service import S3ServiceMiddleware
from s3service.auth.presign import presign
from s3service.backends.memory import MemoryBackend

ACCOUNT = "a" * 64


def app() -> TestApp:
    store = MemoryBackend()
    store.add_account(ACCOUNT, "presign")
    store.add_key(ACCOUNT, "AKIDPRESIGN", "presign-secret")
    store.add_bucket(ACCOUNT, "presigned-bucket")
    return TestApp(S3ServiceMiddleware(lambda e, s: [], credentials=store, buckets=store,
                                       region="eu-west-1"))


def relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_presigned_listing_is_accepted():
    url = presign("GET", "http://localhost/", "AKIDPRESIGN", "presign-secret",
                  region="eu-west-1", expires=60)
    answer = TestApp.get(app(), relative(url), extra_environ={"HTTP_HOST": "localhost"})
    assert b"<Name>presigned-bucket</Name>" in answer.body


@pytest.mark.parametrize("change", [
    {"secret_key": "wrong"}, {"region": "us-east-1"}, {"now": 0.0}])
def test_a_wrong_secret_region_or_time_is_refused(change):
    options = {"secret_key": "presign-secret", "region": "eu-west-1", **change}
    secret = options.pop("secret_key")
    url = presign("GET", "http://localhost/", "AKIDPRESIGN", secret, **options)
    answer = TestApp.get(app(), relative(url), extra_environ={"HTTP_HOST": "localhost"},
                         status="*")
    assert answer.status_int in (400, 403)


def test_the_url_carries_the_sigv4_query_parameters():
    url = presign("GET", "http://h:1/", "AK", "s", region="r", expires=5, now=0)
    names = [name for name, _ in parse_qsl(urlsplit(url).query)]
    assert names == ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                     "X-Amz-Signature", "X-Amz-SignedHeaders"]
    assert "X-Amz-Date=19700101T000000Z" in url
