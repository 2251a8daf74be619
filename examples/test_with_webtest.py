"""Unit-testing a gateway behind the s3service middleware with WebTest.

No server, no network: ``s3service.testing.S3TestApp`` is webtest's
``TestApp`` signing each request as boto3 does (botocore signs it), for the
host the middleware serves; ``sandbox()`` is a throw-away store with an
account, its root key and an IAM user's key.

    pip install 's3service[testing]' pytest
    python -m pytest examples/test_with_webtest.py
"""
from xml.etree import ElementTree

import pytest

from s3service.gateway import make_app
from s3service.testing import S3TestApp, error_code, sandbox

HOST = "s3.example.com"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture
def world():
    return sandbox()


@pytest.fixture
def app(world):
    """The bundled bucket gateway, every request signed with the account's root key."""
    return S3TestApp(make_app(world.store, service_hosts=[HOST]), world.root, host=HOST)


def test_create_then_list_buckets(app):
    assert app.put("/photos").status_int == 200
    listing = ElementTree.fromstring(app.get("/").body)
    assert [b.findtext(f"{NS}Name") for b in listing.iter(f"{NS}Bucket")] == ["photos"]


def test_virtual_hosted_bucket(app):
    assert app.s3("PUT", "/", host=f"photos.{HOST}").status_int == 200
    head = app.s3("HEAD", "/", host=f"photos.{HOST}")
    assert head.headers["x-amz-bucket-region"] == "us-east-1"


def test_sigv2_and_presigned_urls(app):
    app.put("/photos")
    assert app.s3("HEAD", "/photos", signature="v2").status_int == 200
    assert app.s3("GET", "/", presign=True).status_int == 200


def test_errors_are_s3_xml_with_the_request_id(app):
    response = app.put("/Not_A_Bucket", expect_errors=True)
    assert (response.status_int, error_code(response)) == (400, "InvalidBucketName")
    request_id = ElementTree.fromstring(response.body).findtext("RequestId")
    assert request_id == response.headers["x-amz-request-id"]


def test_an_iam_user_may_do_only_what_its_policies_allow(world, app):
    user = S3TestApp(app.app, world.user, host=HOST)
    response = user.put("/photos", expect_errors=True)
    assert (response.status_int, error_code(response)) == (403, "AccessDenied")
    world.allow("s3:CreateBucket", "arn:aws:s3:::photos")
    assert user.put("/photos").status_int == 200


def test_wrong_secret_and_anonymous_requests_are_refused(world, app):
    forged = type(world.root)(world.root.access_key, "not-the-secret")
    response = app.s3("PUT", "/photos", keys=forged, expect_errors=True)
    assert (response.status_int, error_code(response)) == (403, "SignatureDoesNotMatch")
    response = app.s3("PUT", "/photos", anonymous=True, expect_errors=True)
    assert (response.status_int, error_code(response)) == (403, "AccessDenied")
