"""examples/objectgateway.py with CORS, and anonymous requests, as S3 answers them.

gunicorn serves the example (its store an SQLite file); the clients are boto3
and raw HTTP for what a browser sends (preflights, ``Origin``).
"""
from __future__ import annotations

import urllib.request

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers.signing import presigned_url

from . import seed
from .conftest import _boto3_session, boto3_client, start_server
from .rawhttp import send

BUCKET = "cors-example"
ORIGIN = "http://page.localtest:8080"
RULES = {"CORSRules": [{"ID": "page", "AllowedMethods": ["PUT", "GET"],
                        "AllowedOrigins": ["http://*.localtest:8080"],
                        "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]}]}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    for server in start_server(tmp_path_factory.mktemp("cors-server"), "cors",
                               app="object_gateway_app:app",
                               S3SERVICE_TEST_OBJECTS=str(tmp_path_factory.mktemp("objects"))):
        boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET).create_bucket(Bucket=BUCKET)
        yield server


def failure(call, **kwargs) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return (caught.value.response["ResponseMetadata"]["HTTPStatusCode"],
            caught.value.response["Error"]["Code"])


def options(srv, path: str, **headers: str):
    return send(srv.url, "OPTIONS", path,
                [("Host", srv.netloc)] + [(k.replace("_", "-"), v) for k, v in headers.items()])


def test_cors_rules_answer_preflights_and_a_presigned_upload(srv):
    s3 = boto3_client(srv, seed.ROOT_KEY, seed.ROOT_SECRET)
    asking = {"Origin": ORIGIN, "Access-Control-Request-Method": "PUT",
              "Access-Control-Request-Headers": "content-type"}
    assert options(srv, f"/{BUCKET}/upload.txt", **asking).status == 403

    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration=RULES)
    assert s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"] == RULES["CORSRules"]
    allowed = options(srv, f"/{BUCKET}/upload.txt", **asking)
    assert allowed.status == 200
    assert allowed.header("Access-Control-Allow-Origin") == ORIGIN
    assert allowed.header("Access-Control-Allow-Methods") == "PUT, GET"

    url = presigned_url("PUT", f"{srv.url}/{BUCKET}/upload.txt", seed.ROOT_KEY,
                        seed.ROOT_SECRET)
    request = urllib.request.Request(url, data=b"from a page", method="PUT",
                                     headers={"Origin": ORIGIN})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert answer.headers["Access-Control-Expose-Headers"] == "ETag"
    assert s3.get_object(Bucket=BUCKET, Key="upload.txt")["Body"].read() == b"from a page"

    s3.delete_bucket_cors(Bucket=BUCKET)
    assert failure(s3.get_bucket_cors, Bucket=BUCKET) == (404, "NoSuchCORSConfiguration")
    refused = options(srv, f"/{BUCKET}/upload.txt", **asking)
    assert (refused.status, refused.error()["Code"]) == (403, "CORSResponse")


def test_put_bucket_cors_is_validated_and_owned(srv):
    s3 = boto3_client(srv, seed.ROOT_KEY, seed.ROOT_SECRET)
    two_wildcards = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*.*"]}]}
    assert failure(s3.put_bucket_cors, Bucket=BUCKET,
                   CORSConfiguration=two_wildcards) == (400, "InvalidRequest")
    assert failure(s3.put_bucket_cors, Bucket=BUCKET,
                   CORSConfiguration={"CORSRules": []}) == (400, "MalformedXML")
    other = boto3_client(srv, seed.B_KEY, seed.B_SECRET)
    assert failure(other.put_bucket_cors, Bucket=BUCKET,
                   CORSConfiguration=RULES) == (403, "AccessDenied")
    assert failure(s3.get_bucket_cors, Bucket=BUCKET) == (404, "NoSuchCORSConfiguration")


def test_anonymous_on_a_missing_bucket_is_no_such_bucket(srv):
    anonymous = _boto3_session().client(
        "s3", endpoint_url=srv.url, region_name=seed.REGION,
        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}))
    assert failure(anonymous.get_object, Bucket="never-made", Key="k") == (404, "NoSuchBucket")
    assert failure(anonymous.list_objects_v2, Bucket="never-made") == (404, "NoSuchBucket")
    assert failure(anonymous.delete_bucket, Bucket="never-made") == (404, "NoSuchBucket")
    assert failure(anonymous.head_bucket, Bucket="never-made")[0] == 404
    assert failure(anonymous.get_object, Bucket=BUCKET, Key="k") == (403, "AccessDenied")
    assert failure(anonymous.create_bucket, Bucket="never-made") == (403, "AccessDenied")
