"""The examples: paste.ini, gunicorn.conf.py with boto3, and the WebTest example itself."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

ALICE, BOB = "a" * 64, "b" * 64
ALICE_KEY = ("AKIAALICEALICEALICE0", "alice-secret-alice-secret-alice-secret-00")
BOB_KEY = ("AKIABOBBOBBOBBOBBOB0", "bob-secret-bob-secret-bob-secret-bob-sec")


def fill_store(url: str) -> None:
    """Alice and Bob, a key each; Bob owns ``bobs-bucket``, Alice ``alices-bucket``."""
    from s3service.backends.sql import SQLBackend

    store = SQLBackend(url)
    store.add_account(ALICE, display_name="alice")
    store.add_key(ALICE, *ALICE_KEY)
    store.add_account(BOB, display_name="bob")
    store.add_key(BOB, *BOB_KEY)
    store.add_bucket(ALICE, "alices-bucket")
    store.add_bucket(BOB, "bobs-bucket")
    store.close()


def test_webtest_example_runs():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(EXAMPLES / "test_with_webtest.py")],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout


# -- paste.ini ----------------------------------------------------------------------------

@pytest.fixture
def paste_app(tmp_path):
    """examples/paste.ini loaded from a copy in tmp_path (its store: tmp_path/s3service.db)."""
    pytest.importorskip("paste.deploy")
    from paste.deploy import loadapp
    from webtest import TestApp

    shutil.copy(EXAMPLES / "paste.ini", tmp_path / "paste.ini")
    fill_store(f"sqlite:///{tmp_path / 's3service.db'}")
    return TestApp(loadapp(f"config:{tmp_path / 'paste.ini'}"))


def signed(app, method, path, body=b"", host="s3.example.com", key=ALICE_KEY,
           region="us-east-1"):
    from tests.helpers.signing import signed_headers

    headers = signed_headers(method, f"http://{host}{path}", *key, region=region, body=body)
    return app.request(path, method=method, body=body, headers={**dict(headers), "Host": host},
                       expect_errors=True)


def code_of(response) -> str | None:
    return ET.fromstring(response.body).findtext("Code")


def test_paste_ini_serves_list_buckets(paste_app):
    response = signed(paste_app, "GET", "/")
    assert response.status_int == 200, response.body
    doc = ET.fromstring(response.body)
    assert doc.findtext(f"{NS}Owner/{NS}ID") == ALICE
    assert [b.findtext(f"{NS}Name") for b in doc.iter(f"{NS}Bucket")] == ["alices-bucket"]


def test_paste_ini_gateway_behind_the_filter(paste_app):
    # Path-style and virtual-hosted (service_hosts from [DEFAULT]) on the same store.
    assert signed(paste_app, "PUT", "/path-style").status_int == 200
    assert signed(paste_app, "PUT", "/", host="vhost.s3.example.com").status_int == 200
    names = [b.findtext(f"{NS}Name")
             for b in ET.fromstring(signed(paste_app, "GET", "/").body).iter(f"{NS}Bucket")]
    assert names == ["alices-bucket", "path-style", "vhost"]

    location = signed(paste_app, "GET", "/?location", host="vhost.s3.example.com")
    assert ET.fromstring(location.body).tag == f"{NS}LocationConstraint"
    assert ET.fromstring(location.body).text is None                    # us-east-1

    bad = signed(paste_app, "PUT", "/xml-bucket", body=b"<CreateBucketConfiguration><Loc")
    assert (bad.status_int, code_of(bad)) == (400, "MalformedXML")
    assert code_of(bad) and ET.fromstring(bad.body).findtext("RequestId") == \
        bad.headers["x-amz-request-id"]
    entity = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "eu-west-1">]>'
              b"<CreateBucketConfiguration><LocationConstraint>&e;</LocationConstraint>"
              b"</CreateBucketConfiguration>")
    assert code_of(signed(paste_app, "PUT", "/dtd-bucket", body=entity)) == "MalformedXML"
    wrong_root = b"<Bucket><LocationConstraint>eu-west-1</LocationConstraint></Bucket>"
    assert code_of(signed(paste_app, "PUT", "/root-bucket", body=wrong_root)) == "MalformedXML"

    for method, path in [("GET", "/path-style/some/key"), ("PUT", "/path-style?versioning"),
                         ("POST", "/path-style?delete"), ("GET", "/path-style?acl")]:
        response = signed(paste_app, method, path)
        assert (response.status_int, code_of(response)) == (501, "NotImplemented"), path

    anonymous = paste_app.request("/path-style", method="DELETE", expect_errors=True,
                                  headers={"Host": "s3.example.com"})
    assert (anonymous.status_int, code_of(anonymous)) == (403, "AccessDenied")


# -- gunicorn.conf.py and boto3 -------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gunicorn_endpoint(tmp_path_factory):
    """gunicorn -c examples/gunicorn.conf.py, region eu-west-1, on a throw-away SQLite store."""
    pytest.importorskip("gunicorn")
    tmp = tmp_path_factory.mktemp("gunicorn")
    url = f"sqlite:///{tmp / 'gateway.db'}"
    fill_store(url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3SERVICE_", "GUNICORN"))}
    env.update(S3SERVICE_DB=url, S3SERVICE_REGION="eu-west-1", S3SERVICE_WORKERS="2",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
    with open(tmp / "out", "w") as out, open(tmp / "err", "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(EXAMPLES / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{port}"],
            stdout=out, stderr=err, cwd=tmp, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited: {(tmp / 'err').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start: {(tmp / 'err').read_text()}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)     # its own session: only its workers
                proc.wait(timeout=15)


def client(endpoint, key=ALICE_KEY, signed=True):
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                    connect_timeout=5, read_timeout=30,
                    **({} if signed else {"signature_version": UNSIGNED}))
    return boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1",
                        aws_access_key_id=key[0], aws_secret_access_key=key[1], config=config)


def error_of(call, *args, **kwargs) -> tuple[int, str]:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


EU = {"LocationConstraint": "eu-west-1"}


def test_create_bucket_with_location_constraint(gunicorn_endpoint):
    s3 = client(gunicorn_endpoint)
    made = s3.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration=EU)
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert made["Location"] == "/eu-bucket"
    assert s3.get_bucket_location(Bucket="eu-bucket")["LocationConstraint"] == "eu-west-1"
    head = s3.head_bucket(Bucket="eu-bucket")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
    names = {b["Name"]: b for b in s3.list_buckets()["Buckets"]}
    assert set(names) == {"alices-bucket", "eu-bucket"}

    assert error_of(s3.create_bucket, Bucket="eu-bucket", CreateBucketConfiguration=EU) == \
        (409, "BucketAlreadyOwnedByYou")
    assert error_of(s3.create_bucket, Bucket="bobs-bucket", CreateBucketConfiguration=EU) == \
        (409, "BucketAlreadyExists")


@pytest.mark.parametrize("configuration, code", [
    (None, "IllegalLocationConstraintException"),           # eu-west-1 needs it spelled out
    ({"LocationConstraint": "us-west-2"}, "IllegalLocationConstraintException"),
    ({"LocationConstraint": "us-east-1"}, "InvalidLocationConstraint"),
    ({"LocationConstraint": "not a region"}, "InvalidLocationConstraint"),
])
def test_create_bucket_in_another_region(gunicorn_endpoint, configuration, code):
    s3 = client(gunicorn_endpoint)
    kwargs = {} if configuration is None else {"CreateBucketConfiguration": configuration}
    assert error_of(s3.create_bucket, Bucket="elsewhere", **kwargs) == (400, code)
    assert error_of(s3.head_bucket, Bucket="elsewhere")[0] == 404


@pytest.mark.parametrize("name", ["Bad_Name", "ab", "192.168.1.1", "bucket-s3alias"])
def test_create_bucket_invalid_name(gunicorn_endpoint, name):
    s3 = client(gunicorn_endpoint)
    assert error_of(s3.create_bucket, Bucket=name, CreateBucketConfiguration=EU) == \
        (400, "InvalidBucketName")


def test_delete_and_head_bucket(gunicorn_endpoint):
    s3 = client(gunicorn_endpoint)
    s3.create_bucket(Bucket="short-lived", CreateBucketConfiguration=EU)
    assert s3.head_bucket(Bucket="short-lived")["ResponseMetadata"]["HTTPStatusCode"] == 200
    deleted = s3.delete_bucket(Bucket="short-lived")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.head_bucket, Bucket="short-lived") == (404, "404")
    assert error_of(s3.delete_bucket, Bucket="short-lived") == (404, "NoSuchBucket")
    # Bob's bucket: it exists, but is not Alice's.
    assert error_of(s3.head_bucket, Bucket="bobs-bucket") == (403, "403")
    assert error_of(s3.delete_bucket, Bucket="bobs-bucket") == (403, "AccessDenied")
    assert error_of(s3.get_bucket_location, Bucket="bobs-bucket") == (403, "AccessDenied")
    assert error_of(s3.list_objects_v2, Bucket="bobs-bucket") == (403, "AccessDenied")
    assert client(gunicorn_endpoint, BOB_KEY).head_bucket(Bucket="bobs-bucket")


def test_list_empty_bucket(gunicorn_endpoint):
    s3 = client(gunicorn_endpoint)
    s3.create_bucket(Bucket="empty-bucket", CreateBucketConfiguration=EU)

    v1 = s3.list_objects(Bucket="empty-bucket")
    assert (v1["Name"], v1["Prefix"], v1["Marker"], v1["MaxKeys"], v1["IsTruncated"]) == \
        ("empty-bucket", "", "", 1000, False)
    assert "Contents" not in v1

    v2 = s3.list_objects_v2(Bucket="empty-bucket", Prefix="photos/", Delimiter="/", MaxKeys=10,
                            StartAfter="photos/a")
    assert (v2["Name"], v2["Prefix"], v2["Delimiter"], v2["KeyCount"], v2["MaxKeys"],
            v2["StartAfter"], v2["IsTruncated"]) == \
        ("empty-bucket", "photos/", "/", 0, 10, "photos/a", False)
    assert "Contents" not in v2 and "CommonPrefixes" not in v2
    assert s3.list_objects_v2(Bucket="empty-bucket", MaxKeys=5000)["MaxKeys"] == 1000

    versions = s3.list_object_versions(Bucket="empty-bucket", Prefix="x")
    assert (versions["Name"], versions["Prefix"], versions["KeyMarker"],
            versions["VersionIdMarker"], versions["MaxKeys"], versions["IsTruncated"]) == \
        ("empty-bucket", "x", "", "", 1000, False)
    assert "Versions" not in versions and "DeleteMarkers" not in versions

    assert error_of(s3.list_objects_v2, Bucket="no-such-bucket") == (404, "NoSuchBucket")
    assert error_of(s3.list_objects_v2, Bucket="empty-bucket", ContinuationToken="abc") == \
        (400, "InvalidArgument")


def test_unsupported_and_anonymous(gunicorn_endpoint):
    s3 = client(gunicorn_endpoint)
    s3.create_bucket(Bucket="plain-bucket", CreateBucketConfiguration=EU)
    assert error_of(s3.put_object, Bucket="plain-bucket", Key="k", Body=b"x") == \
        (501, "NotImplemented")
    assert error_of(s3.get_bucket_versioning, Bucket="plain-bucket") == (501, "NotImplemented")
    anonymous = client(gunicorn_endpoint, signed=False)
    assert error_of(anonymous.list_objects_v2, Bucket="plain-bucket") == (403, "AccessDenied")
    assert error_of(anonymous.list_buckets) == (403, "AccessDenied")


# -- objectgateway.py: every operation asks the middleware's authorizer ---------------------

def test_object_gateway_asks_the_authorizer_for_each_operation(tmp_path):
    from webtest import TestApp

    from s3service.backends.memory import MemoryBackend
    from tests.helpers.signing import signed_headers

    sys.path.insert(0, str(EXAMPLES))
    try:
        from objectgateway import make_app
    finally:
        sys.path.remove(str(EXAMPLES))

    class NoPutObject:
        def __init__(self) -> None:
            self.asked: list[tuple[str, str]] = []

        def is_allowed(self, identity, action, resource) -> bool:
            self.asked.append((action, resource))
            return action != "s3:PutObject"

    store, authorizer = MemoryBackend(), NoPutObject()
    store.add_account("a" * 64, "example")
    store.add_key("a" * 64, "AKIDEXAMPLEOBJECTS01", "objects-secret")
    app = TestApp(make_app(tmp_path / "objects", store, authorizer=authorizer))

    def send(method: str, path: str, body: bytes = b"", status: int = 200):
        headers = signed_headers(method, f"http://localhost{path}", "AKIDEXAMPLEOBJECTS01",
                                 "objects-secret", body=body)
        return app.request(path, method=method, body=body,
                           headers={**dict(headers), "Host": "localhost"}, status=status)

    send("PUT", "/allowed-bucket")
    refused = send("PUT", "/allowed-bucket/key.txt", b"data", status=403)
    assert b"<Code>AccessDenied</Code>" in refused.body
    assert authorizer.asked == [("s3:CreateBucket", "arn:aws:s3:::allowed-bucket"),
                                ("s3:PutObject", "arn:aws:s3:::allowed-bucket/key.txt")]
    assert not list((tmp_path / "objects" / "allowed-bucket" / "objects").iterdir())
    assert [b.name for b in store.list_buckets("a" * 64)] == ["allowed-bucket"]
