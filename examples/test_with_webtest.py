"""Unit-testing a gateway behind the s3service middleware with WebTest.

No server, no network: requests are signed by botocore (exactly as boto3
would sign them) and handed to the WSGI app in-process by WebTest.

    python -m pytest examples/test_with_webtest.py
"""
import xml.etree.ElementTree as ET

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from webtest import TestApp

from s3service.backends.memory import MemoryBackend
from s3service.gateway import make_app

ACCOUNT = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
ACCESS_KEY, SECRET_KEY = "AKIAEXAMPLEEXAMPLE01", "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3"
REGION = "us-east-1"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture
def app():
    store = MemoryBackend()
    store.add_account(ACCOUNT, display_name="alice")
    store.add_key(ACCOUNT, ACCESS_KEY, SECRET_KEY)
    return TestApp(make_app(store, region=REGION, service_hosts=["s3.example.com"]))


def s3(app, method, path, body=b"", host="s3.example.com", key=(ACCESS_KEY, SECRET_KEY)):
    """Send ``method path`` signed with SigV4 for ``host``; returns WebTest's response."""
    request = AWSRequest(method=method, url=f"http://{host}{path}", data=body)
    S3SigV4Auth(Credentials(*key), "s3", REGION).add_auth(request)
    headers = {**request.headers, "Host": host}
    return app.request(path, method=method, body=body, headers=headers, expect_errors=True)


def error_code(response):
    return ET.fromstring(response.body).findtext("Code")


def test_create_then_list_buckets(app):
    assert s3(app, "PUT", "/photos").status_int == 200
    listing = ET.fromstring(s3(app, "GET", "/").body)
    assert [b.findtext(f"{NS}Name") for b in listing.iter(f"{NS}Bucket")] == ["photos"]


def test_virtual_hosted_bucket(app):
    assert s3(app, "PUT", "/", host="photos.s3.example.com").status_int == 200
    head = s3(app, "HEAD", "/", host="photos.s3.example.com")
    assert head.status_int == 200
    assert head.headers["x-amz-bucket-region"] == REGION


def test_errors_are_s3_xml_with_the_request_id(app):
    response = s3(app, "PUT", "/Not_A_Bucket")
    assert response.status_int == 400
    assert error_code(response) == "InvalidBucketName"
    request_id = ET.fromstring(response.body).findtext("RequestId")
    assert request_id == response.headers["x-amz-request-id"]


def test_wrong_secret_is_refused(app):
    response = s3(app, "PUT", "/photos", key=(ACCESS_KEY, "not-the-secret"))
    assert (response.status_int, error_code(response)) == (403, "SignatureDoesNotMatch")


def test_anonymous_request_is_refused(app):
    response = app.put("/photos", headers={"Host": "s3.example.com"}, expect_errors=True)
    assert (response.status_int, error_code(response)) == (403, "AccessDenied")
