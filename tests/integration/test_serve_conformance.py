"""``s3service serve`` as shipped (granian) against what S3 answers: issue 25's library items.

* An anonymous GET, HEAD, DELETE or ListObjects on a bucket that does not
  exist is ``404 NoSuchBucket`` (one that exists, anyone's, stays ``403``).
* A SigV2 request dated 1950 is ``403 AccessDenied``.
* An anonymous PUT with ``Expect: 100-continue`` gets its final answer without
  an interim ``100 Continue`` (granian sends one only when the app reads the
  body; stock gunicorn sends it before the app runs, whatever the app does).
* CORS: Put/Get/DeleteBucketCors with boto3, preflights (path-style and
  virtual-hosted) answered from the rules without a signature, and the CORS
  headers on a presigned cross-origin request's answer.
* What granian does to a header value beyond ASCII (an xfail: s3-tests'
  unicode metadata test meets it).
"""
from __future__ import annotations

import json
import socket
from datetime import datetime, timezone

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers.cliserver import Server, run_cli
from tests.helpers.signing import presigned_url

from .conftest import _boto3_session
from .rawhttp import send, sign_v2, sign_v4

SERVICE_HOST = "s3.localtest"
ORIGIN = "https://page.example"
CORS = {"CORSRules": [{"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": [ORIGIN],
                       "AllowedHeaders": ["content-type", "x-amz-*"],
                       "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 120}]}


def cli_json(db: str, *args: str) -> dict:
    result = run_cli("--db", db, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve-conformance")
    db = f"sqlite:///{tmp / 'store.db'}"
    keys = {}
    for name in ("owner", "other"):
        account = cli_json(db, "account", "create", "--name", name)["account_id"]
        key = cli_json(db, "key", "create", account)
        keys[name] = (key["access_key"], key["secret_key"])
    server = Server(tmp, db, "--workers", "1", "--service-host", SERVICE_HOST)
    server.netloc = f"127.0.0.1:{server.port}"
    try:
        server.wait_ready()
        yield server, keys
    finally:
        server.stop()


def client(endpoint: str, keys=None, **config):
    cfg = Config(signature_version=UNSIGNED if keys is None else "s3v4",
                 s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                 connect_timeout=5, read_timeout=20, **config)
    access, secret = keys or (None, None)
    return _boto3_session().client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                   aws_access_key_id=access, aws_secret_access_key=secret,
                                   config=cfg)


def failure(call, **kwargs) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]


def test_anonymous_requests_on_a_missing_bucket_are_no_such_bucket(served):
    server, keys = served
    client(server.endpoint, keys["other"]).create_bucket(Bucket="others-bucket")
    anonymous = client(server.endpoint)
    for call, kwargs in ((anonymous.list_objects, {}), (anonymous.list_objects_v2, {}),
                         (anonymous.get_object, {"Key": "k"}),
                         (anonymous.delete_object, {"Key": "k"}),
                         (anonymous.delete_bucket, {}), (anonymous.get_bucket_location, {})):
        assert failure(call, Bucket="never-made-bucket", **kwargs) == (404, "NoSuchBucket")
        assert failure(call, Bucket="others-bucket", **kwargs) == (403, "AccessDenied")
    assert failure(anonymous.head_bucket, Bucket="never-made-bucket")[0] == 404
    assert failure(anonymous.head_bucket, Bucket="others-bucket")[0] == 403
    assert failure(anonymous.create_bucket, Bucket="never-made-bucket") == (403, "AccessDenied")


def test_sigv2_dated_1950_is_access_denied(served):
    server, keys = served
    url = f"{server.endpoint}/some-bucket"
    headers = sign_v2("GET", url, *keys["owner"],
                      when=datetime(1950, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    assert any(name == "Date" and "1950" in value for name, value in headers)
    response = send(server.endpoint, "GET", "/some-bucket", headers)
    assert (response.status, response.error()["Code"]) == (403, "AccessDenied")


def raw_exchange(port: int, head: str) -> bytes:
    """What the server sends for ``head`` (a request's head, its body never sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1"))
        received = b""
        while b"</Error>" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return received


def test_refused_put_with_expect_100_continue_gets_no_interim_answer(served):
    server, keys = served
    client(server.endpoint, keys["owner"]).create_bucket(Bucket="expect-bucket")
    for target in ("/expect-bucket/key", "/expect-bucket"):
        received = raw_exchange(server.port, (
            f"PUT {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Content-Length: 1048576\r\nExpect: 100-continue\r\n\r\n"))
        assert received.startswith(b"HTTP/1.1 403 "), received[:200]
        assert b"100 Continue" not in received and b"<Code>AccessDenied</Code>" in received


def preflight(server, path: str, host: str | None = None, **headers: str):
    sent = [("Host", host or server.netloc)] + [
        (name.replace("_", "-"), value) for name, value in headers.items()]
    return send(server.endpoint, "OPTIONS", path, sent)


def test_cors_configuration_preflights_and_headers(served):
    server, keys = served
    owner = client(server.endpoint, keys["owner"])
    owner.create_bucket(Bucket="web-bucket")
    asking = {"Origin": ORIGIN, "Access-Control-Request-Method": "PUT",
              "Access-Control-Request-Headers": "content-type"}

    refused = preflight(server, "/web-bucket/photo.jpg", **asking)
    assert (refused.status, refused.error()["Code"]) == (403, "CORSResponse")
    assert refused.error()["Message"] == "CORS is not enabled for this bucket."
    assert failure(owner.get_bucket_cors, Bucket="web-bucket") == (404, "NoSuchCORSConfiguration")

    owner.put_bucket_cors(Bucket="web-bucket", CORSConfiguration=CORS)
    assert owner.get_bucket_cors(Bucket="web-bucket")["CORSRules"] == CORS["CORSRules"]
    other = client(server.endpoint, keys["other"])
    assert failure(other.put_bucket_cors, Bucket="web-bucket",
                   CORSConfiguration=CORS) == (403, "AccessDenied")
    bad = {"CORSRules": [{"AllowedMethods": ["PATCH"], "AllowedOrigins": ["*"]}]}
    assert failure(owner.put_bucket_cors, Bucket="web-bucket",
                   CORSConfiguration=bad) == (400, "InvalidRequest")

    for path, host in (("/web-bucket/photo.jpg", None),
                       ("/photo.jpg", f"web-bucket.{SERVICE_HOST}:{server.port}")):
        allowed = preflight(server, path, host, **asking)
        assert allowed.status == 200, allowed.body
        assert allowed.header("Access-Control-Allow-Origin") == ORIGIN
        assert allowed.header("Access-Control-Allow-Methods") == "GET, PUT"
        assert allowed.header("Access-Control-Allow-Headers") == "content-type"
        assert allowed.header("Access-Control-Max-Age") == "120"
    other_origin = preflight(server, "/web-bucket/k", **{**asking, "Origin": "https://evil"})
    assert (other_origin.status, other_origin.error()["Code"]) == (403, "CORSResponse")
    no_method = preflight(server, "/web-bucket/k", Origin=ORIGIN)
    assert (no_method.status, no_method.error()["Code"]) == (400, "BadRequest")

    url = presigned_url("GET", f"{server.endpoint}/web-bucket", *keys["owner"])
    listed = send(server.endpoint, "GET", url[len(server.endpoint):],
                  [("Host", server.netloc), ("Origin", ORIGIN)])
    assert listed.status == 200
    assert listed.header("Access-Control-Allow-Origin") == ORIGIN
    assert listed.header("Access-Control-Expose-Headers") == "ETag"

    owner.delete_bucket_cors(Bucket="web-bucket")
    assert preflight(server, "/web-bucket/photo.jpg", **asking).status == 403


@pytest.mark.xfail(strict=True, reason="granian 2.8 hands the WSGI app an empty value for a "
                   "header with bytes beyond ASCII (measured), so the signature cannot match; "
                   "gunicorn passes them as latin-1 text and the same request is accepted")
def test_a_signed_header_beyond_ascii_is_accepted(served):
    server, keys = served
    client(server.endpoint, keys["owner"]).create_bucket(Bucket="latin-bucket")
    url = f"{server.endpoint}/latin-bucket"
    headers = sign_v4("GET", url, *keys["owner"], headers={"x-amz-meta-note": "caf\xe9"})
    response = send(server.endpoint, "GET", "/latin-bucket", headers)
    assert response.status == 200, response.body
