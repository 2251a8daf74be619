"""``authenticate_all``: pass-through requests are checked before the gateway sees them."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest

from tests.helpers.signing import signed_headers

from . import rawhttp, seed
from .checks import assert_error, echo_of
from .rawhttp import send, sign_v4


def test_bad_signature_never_reaches_gateway(server_auth_all):
    srv = server_auth_all
    headers = sign_v4("GET", srv.url + "/photos", seed.ROOT_KEY, "wrong-secret")
    resp = send(srv.url, "GET", "/photos", headers)
    assert_error(resp, 403, "SignatureDoesNotMatch", AWSAccessKeyId=seed.ROOT_KEY)
    assert b'"gateway"' not in resp.body


def test_bad_signature_with_body_never_reaches_gateway(server_auth_all):
    srv = server_auth_all
    body = b"payload" * 100
    headers = sign_v4("PUT", srv.url + "/photos/key", seed.ROOT_KEY, "wrong-secret", body=body)
    resp = send(srv.url, "PUT", "/photos/key", headers, body)
    assert_error(resp, 403, "SignatureDoesNotMatch")
    assert b'"gateway"' not in resp.body


def test_unknown_key_never_reaches_gateway(server_auth_all):
    srv = server_auth_all
    host = f"photos.{seed.SERVICE_HOST}:{srv.port}"
    headers = sign_v4("GET", srv.url + "/", seed.UNKNOWN_KEY, "x", host=host)
    assert_error(send(srv.url, "GET", "/", headers), 403, "InvalidAccessKeyId",
                 AWSAccessKeyId=seed.UNKNOWN_KEY)


def test_good_v4_signature_reaches_gateway_with_identity(server_auth_all):
    srv = server_auth_all
    body = b"hello gateway"
    headers = sign_v4("PUT", srv.url + "/photos/a.txt", seed.USER_KEY, seed.USER_SECRET,
                      body=body)
    doc = echo_of(send(srv.url, "PUT", "/photos/a.txt", headers, body))
    assert doc["path"] == "/photos/a.txt"
    assert doc["has_identity"] is True
    assert doc["identity"] == {"account_id": seed.ACCOUNT_A, "display_name": seed.DISPLAY_A,
                               "access_key": seed.USER_KEY, "user": seed.USER_NAME,
                               "signature_version": "v4"}
    assert doc["body_bytes"] == len(body)
    assert doc["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert doc["request_id"] and len(doc["request_id"]) == 16


def test_good_v2_signature_virtual_hosted_reaches_gateway(server_auth_all):
    srv = server_auth_all
    host = f"photos.{seed.SERVICE_HOST}:{srv.port}"
    # SigV2 signs the bucket as part of the resource: botocore's signer does
    # that through ``auth_path``, which a plain AWSRequest lacks, so sign the
    # path-style resource by hand here.
    headers = sign_v2_virtual(srv, host, "/photos/", "/?acl")
    doc = echo_of(send(srv.url, "GET", "/?acl", headers))
    assert doc["host"] == host
    assert doc["identity"]["access_key"] == seed.B_KEY
    assert doc["identity"]["account_id"] == seed.ACCOUNT_B
    assert doc["identity"]["signature_version"] == "v2"
    assert doc["identity"]["user"] is None


def sign_v2_virtual(srv, host: str, resource: str, target: str):
    return signed_headers("GET", srv.url + target, seed.B_KEY, seed.B_SECRET, version="v2",
                          headers={"Host": host}, auth_path=resource)


def test_presigned_reaches_gateway(server_auth_all):
    srv = server_auth_all
    url = rawhttp.presign_v4(srv.url + "/photos/x", seed.SESSION_KEY, seed.SESSION_SECRET,
                             token=seed.SESSION_TOKEN)
    doc = echo_of(send(srv.url, "GET", rawhttp.target_of(url), [("Host", srv.netloc)]))
    assert doc["path"] == "/photos/x"
    assert doc["identity"]["access_key"] == seed.SESSION_KEY
    assert doc["identity"]["user"] == seed.USER_NAME


def test_anonymous_reaches_gateway_as_none(server_auth_all):
    srv = server_auth_all
    doc = echo_of(send(srv.url, "GET", "/public-bucket/obj", [("Host", srv.netloc)]))
    assert doc["has_identity"] is True
    assert doc["identity"] is None


@pytest.mark.parametrize("minutes", [20])
def test_skewed_request_never_reaches_gateway(server_auth_all, minutes):
    from datetime import datetime, timedelta, timezone

    srv = server_auth_all
    when = datetime.now(timezone.utc) - timedelta(minutes=minutes)
    headers = sign_v4("GET", srv.url + "/photos", seed.ROOT_KEY, seed.ROOT_SECRET, when=when)
    assert_error(send(srv.url, "GET", "/photos", headers), 403, "RequestTimeTooSkewed")


def test_list_buckets_still_served(server_auth_all):
    srv = server_auth_all
    resp = send(srv.url, "GET", "/", sign_v4("GET", srv.url + "/", seed.ROOT_KEY,
                                             seed.ROOT_SECRET))
    assert resp.status == 200, resp.body
    assert [e.text for e in resp.xml.iter(rawhttp.S3_NS + "Name")] == seed.NAMES_A


# -- real SDK requests to the gateway ---------------------------------------------------------

TRICKY_KEYS = ["plain.txt", "dir/sub dir/ü ñ 日本.txt", "a+b=c&d%e", "x/./y/../z//w",
               "!*'()~$@,;:", "trailing/"]


def _wsgi_path(path: str) -> str:
    """PEP 3333 gives the path as latin-1 decoded bytes: the text the client meant."""
    return path.encode("latin-1").decode("utf-8")


@pytest.mark.parametrize("version", ["s3v4", "s3"])
@pytest.mark.parametrize("key", TRICKY_KEYS)
def test_boto3_get_object_reaches_gateway(server_auth_all, version, key):
    from .conftest import boto3_client

    client = boto3_client(server_auth_all, seed.USER_KEY, seed.USER_SECRET,
                          signature_version=version)
    resp = client.get_object(Bucket="photos", Key=key, ResponseContentType="text/plain")
    doc = json.loads(resp["Body"].read())
    assert doc["gateway"] == "echo"
    assert _wsgi_path(doc["path"]) == "/photos/" + key
    assert "response-content-type=text%2Fplain" in doc["query"]
    assert doc["identity"]["access_key"] == seed.USER_KEY
    assert doc["identity"]["signature_version"] == ("v4" if version == "s3v4" else "v2")


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_boto3_put_object_reaches_gateway(server_auth_all, version):
    from .conftest import boto3_client

    client = boto3_client(server_auth_all, seed.SESSION_KEY, seed.SESSION_SECRET,
                          token=seed.SESSION_TOKEN, signature_version=version)
    body = b"0123456789" * 1000
    resp = client.put_object(Bucket="photos", Key="up/load ü.bin", Body=body,
                             Metadata={"note": "hi there"})
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    doc = json.loads(base64.urlsafe_b64decode(resp["ResponseMetadata"]["HTTPHeaders"]["x-echo"]))
    assert doc["method"] == "PUT"
    assert _wsgi_path(doc["path"]) == "/photos/up/load ü.bin"
    assert doc["body_bytes"] == len(body)
    assert doc["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert doc["identity"]["access_key"] == seed.SESSION_KEY
    assert doc["identity"]["signature_version"] == ("v4" if version == "s3v4" else "v2")


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_boto3_bad_secret_to_gateway_refused(server_auth_all, version):
    from botocore.exceptions import ClientError

    from .conftest import boto3_client

    client = boto3_client(server_auth_all, seed.USER_KEY, "bad-secret",
                          signature_version=version)
    with pytest.raises(ClientError) as info:
        client.get_object(Bucket="photos", Key="dir/ü.txt")
    assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# (MinIO's SDK refuses keys with dot segments itself.)
@pytest.mark.parametrize("key", [k for k in TRICKY_KEYS if "./" not in k])
def test_minio_get_object_reaches_gateway(server_auth_all, key):
    from .test_clients import _minio

    client = _minio(server_auth_all, seed.B_KEY, seed.B_SECRET)
    resp = client.get_object("photos", key)
    try:
        doc = json.loads(resp.data)
    finally:
        resp.close()
        resp.release_conn()
    assert _wsgi_path(doc["path"]) == "/photos/" + key
    assert doc["identity"]["access_key"] == seed.B_KEY
    assert doc["identity"]["account_id"] == seed.ACCOUNT_B


def test_aws_cli_cp_to_stdout_reaches_gateway(server_auth_all, tmp_path):
    from .test_clients import _aws

    key = "dir/ü ñ.txt"
    proc = _aws(server_auth_all, tmp_path, seed.ROOT_KEY, seed.ROOT_SECRET, "s3", "cp",
                f"s3://photos/{key}", "-")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["method"] == "GET"
    assert _wsgi_path(doc["path"]) == "/photos/" + key
    assert doc["identity"]["access_key"] == seed.ROOT_KEY
    assert doc["identity"]["user"] is None


def test_head_with_bad_signature_refused_without_body(server_auth_all):
    srv = server_auth_all
    headers = sign_v4("HEAD", srv.url + "/photos/k", seed.ROOT_KEY, "wrong-secret")
    resp = send(srv.url, "HEAD", "/photos/k", headers)
    assert resp.status == 403
    assert resp.body == b""
    assert resp.header("x-amz-request-id")
    assert resp.header("X-Echo") is None


def test_post_to_service_root_is_authenticated(server_auth_all):
    srv = server_auth_all
    body = b"<Delete/>"
    bad = sign_v4("POST", srv.url + "/", seed.ROOT_KEY, "wrong-secret", body=body)
    assert_error(send(srv.url, "POST", "/", bad, body), 403, "SignatureDoesNotMatch")
    good = sign_v4("POST", srv.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET, body=body)
    doc = echo_of(send(srv.url, "POST", "/", good, body))
    assert doc["identity"]["access_key"] == seed.ROOT_KEY
    assert doc["body_bytes"] == len(body)
