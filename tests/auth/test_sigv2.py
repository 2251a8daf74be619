"""The SigV2 building blocks against what real botocore computes and sends."""
from __future__ import annotations

import base64
import hashlib
import hmac

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from tests.helpers.signing import client_environ, environ_from_request, frozen_time, make_client

from s3service.auth import sigv2
from s3service.wsgi import parse_query, request_path, wire_text

AK, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AT = 1_700_000_000.0
SERVICE_HOSTS = ("s3.example.com",)


class RecordingV1(botocore.auth.HmacV1Auth):
    def canonical_string(self, *args, **kwargs):
        self.recorded = super().canonical_string(*args, **kwargs)
        return self.recorded


class RecordingV1Query(botocore.auth.HmacV1QueryAuth):
    def canonical_string(self, *args, **kwargs):
        self.recorded = super().canonical_string(*args, **kwargs)
        return self.recorded


def sign(method, url, *, headers=None, token=None, presign=False, auth_path=None):
    creds = Credentials(AK, SECRET, token)
    signer = RecordingV1Query(creds, expires=3600) if presign else RecordingV1(creds)
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}))
    if auth_path is not None:
        request.auth_path = auth_path
    with frozen_time(AT):
        signer.add_auth(request)
    return signer, environ_from_request(method, request.url, request.headers)


def ours(environ, *, presigned=False, bucket_slash=True):
    """Our string to sign for a header-signed (or presigned) WSGI environ."""
    pairs = parse_query(environ["QUERY_STRING"])
    params = dict(pairs)
    amz = {key[5:].lower().replace("_", "-"): wire_text(value)
           for key, value in environ.items() if key.startswith("HTTP_X_AMZ_")}
    if presigned:
        amz.update((k, v) for k, v in pairs if k.startswith("x-amz-"))
        date = params["Expires"]
    else:
        date = "" if "HTTP_X_AMZ_DATE" in environ else environ["HTTP_DATE"]
    resource = sigv2.canonical_resource(
        request_path(environ), pairs, sigv2.bucket_from_host(environ["HTTP_HOST"], SERVICE_HOSTS),
        bucket_slash=bucket_slash)
    return sigv2.string_to_sign(environ["REQUEST_METHOD"], environ.get("HTTP_CONTENT_MD5", ""),
                                environ.get("CONTENT_TYPE", ""), date, amz, resource)


URLS = [
    ("http://s3.example.com/bucket/key", None),
    ("http://s3.example.com/", None),
    ("http://s3.example.com/bucket/with%20space/and~tilde", None),
    ("http://s3.example.com/bucket/caf%C3%A9/%E2%82%AC", None),
    ("http://s3.example.com/bucket/key?acl", None),
    ("http://s3.example.com/bucket/key?versionId=3%2B4&uploadId=u%2F1&partNumber=2", None),
    ("http://s3.example.com/bucket?prefix=a%20b&delete&max-keys=3&versioning", None),
    ("http://s3.example.com/bucket/key"
     "?response-content-disposition=attachment%3B%20filename%3D%22a%20b%22"
     "&response-content-type=text%2Fplain", None),
    ("http://bucket.s3.example.com/key%20with%20space?tagging", "/bucket/key%20with%20space"),
    ("http://bucket.s3.example.com/", "/bucket/"),
    ("http://my.dotted.bucket.s3.example.com:8080/k", "/my.dotted.bucket/k"),
]


@pytest.mark.parametrize(("url", "auth_path"), URLS)
def test_string_to_sign_matches_botocore(url, auth_path):
    signer, environ = sign("GET", url, auth_path=auth_path,
                           headers={"x-amz-meta-a": " caf\u00e9 ", "Content-MD5": "abc=",
                                    "Content-Type": "text/plain"})
    # Signed directly (no SDK auth_path), a bucket's path is signed as sent: "/bucket".
    sts = ours(environ, bucket_slash=False)
    assert sts == signer.recorded
    provided = environ["HTTP_AUTHORIZATION"].split(":", 1)[1]
    assert sigv2.signature(SECRET, sts) == provided


@pytest.mark.parametrize(("url", "auth_path"), URLS)
def test_presigned_string_to_sign_matches_botocore(url, auth_path):
    signer, environ = sign("GET", url, auth_path=auth_path, presign=True, token="tok/+=")
    sts = ours(environ, presigned=True, bucket_slash=False)
    assert sts == signer.recorded
    assert sigv2.signature(SECRET, sts) == dict(parse_query(environ["QUERY_STRING"]))["Signature"]


@pytest.mark.parametrize(("operation", "params"), [
    ("create_multipart_upload", {"Bucket": "b", "Key": "k"}),
    ("upload_part", {"Bucket": "b", "Key": "k", "UploadId": "u/1+2", "PartNumber": 3,
                     "Body": b"x"}),
    ("delete_objects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "k"}]}}),
    ("get_object", {"Bucket": "b", "Key": "d\u00e9j\u00e0 vu", "VersionId": "v 1",
                    "ResponseContentDisposition": "attachment; filename=\"x\""}),
    ("get_bucket_location", {"Bucket": "b"}),
    ("put_object_tagging", {"Bucket": "b", "Key": "k",
                            "Tagging": {"TagSet": [{"Key": "a", "Value": "b"}]}}),
    ("list_objects_v2", {"Bucket": "b", "Prefix": "x/y", "Delimiter": "/"}),
])
@pytest.mark.parametrize("style", ["path", "virtual"])
def test_client_requests_verify(operation, params, style):
    client = make_client(AK, SECRET, signature_version="s3", addressing_style=style)
    environ = client_environ(client, operation, at=AT, **params)
    provided = environ["HTTP_AUTHORIZATION"].split(":", 1)[1]
    assert sigv2.signature(SECRET, ours(environ)) == provided


def test_canonical_resource_subresources():
    pairs = [("versionId", "2"), ("prefix", "x"), ("acl", ""), ("uploads", ""),
             ("response-content-type", "a/b c"), ("X-Amz-Date", "1")]
    assert sigv2.canonical_resource("/b/k y", pairs) == (
        "/b/k%20y?acl&response-content-type=a/b c&uploads&versionId=2")
    assert sigv2.canonical_resource("/k", [("delete", "")], "bucket") == "/bucket/k?delete"
    assert sigv2.canonical_resource("/", [("max-keys", "1")]) == "/"
    assert sigv2.canonical_resource("/bucket", []) == "/bucket/"
    assert sigv2.canonical_resource("/bucket", [], bucket_slash=False) == "/bucket"
    assert sigv2.canonical_resource("/", [], "bucket") == "/bucket/"


def test_string_to_sign_with_x_amz_date_has_empty_date_line():
    sts = sigv2.string_to_sign("PUT", "", "image/jpeg", "",
                               {"x-amz-date": "Tue, 27 Mar 2007 21:15:45 +0000",
                                "x-amz-acl": " public-read "}, "/b/k")
    assert sts == ("PUT\n\nimage/jpeg\n\nx-amz-acl:public-read\n"
                   "x-amz-date:Tue, 27 Mar 2007 21:15:45 +0000\n/b/k")


def test_signature_is_base64_hmac_sha1():
    digest = hmac.new(b"secret", b"GET\n\n\n1\n/", hashlib.sha1).digest()
    assert sigv2.signature("secret", "GET\n\n\n1\n/") == base64.b64encode(digest).decode()


@pytest.mark.parametrize(("host", "expected"), [
    ("bucket.s3.example.com", "bucket"),
    ("Bucket.S3.Example.Com:8080", "bucket"),
    ("a.b.s3.example.com.", "a.b"),
    ("s3.example.com", None),
    ("s3.example.com:443", None),
    ("other.com", None),
    ("xs3.example.com", None),
    ("[::1]:80", None),
    ("", None),
])
def test_bucket_from_host(host, expected):
    assert sigv2.bucket_from_host(host, ("s3.example.com", "example.com.invalid")) == expected


def test_bucket_from_host_prefers_longest_service_host():
    assert sigv2.bucket_from_host("b.s3.example.com", ("example.com", "s3.example.com")) == "b"
    assert sigv2.bucket_from_host("b.s3.example.com", ()) is None


def test_environ_helper_decodes_path_as_latin1():
    environ = environ_from_request("GET", "http://h/b/%C3%A9", {})
    assert environ["PATH_INFO"] == "/b/\xc3\xa9"
    assert request_path(environ) == "/b/\u00e9"
