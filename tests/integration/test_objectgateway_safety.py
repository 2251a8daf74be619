"""examples/objectgateway.py never loses data: what it does not implement touches nothing,
concurrent writers of a key never tear it, bodies are read whole and bounded, files are
private, and a bucket deleted behind its back keeps none of its objects for the next owner.

gunicorn serves the example (two workers of four threads each, sharing an SQLite
store); the clients are boto3, the s3service CLI, and raw HTTP where boto3 cannot send
the request.
"""
from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from . import seed
from .checks import assert_error
from .conftest import boto3_client, start_server
from .rawhttp import send, sign_v2, sign_v4

BUCKET = "safe-bucket"
KEY = "precious.txt"
PRECIOUS = b"these bytes must survive every request the gateway does not implement"


@pytest.fixture(scope="module")
def objects_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("safe-objects") / "objects"


@pytest.fixture(scope="module")
def srv(tmp_path_factory, objects_root):
    for server in start_server(tmp_path_factory.mktemp("safe-server"), "objects-safe",
                               app="object_gateway_app:app",
                               S3SERVICE_TEST_OBJECTS=str(objects_root),
                               GUNICORN_CMD_ARGS="--threads 4"):
        boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET).create_bucket(Bucket=BUCKET)
        yield server


def client(server, key: str = seed.ROOT_KEY, secret: str = seed.ROOT_SECRET, **config):
    config.setdefault("read_timeout", 30)
    return boto3_client(server, key, secret, **config)


def error_of(call, **kwargs) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


# -- what it does not implement: 501, and nothing touched ------------------------------

def _put_object_acl(s3):
    s3.put_object_acl(Bucket=BUCKET, Key=KEY, ACL="public-read")


def _put_object_tagging(s3):
    s3.put_object_tagging(Bucket=BUCKET, Key=KEY, Tagging={"TagSet": [{"Key": "k",
                                                                       "Value": "v"}]})


UNIMPLEMENTED = {
    "PutObjectAcl": _put_object_acl,
    "PutObjectTagging": _put_object_tagging,
    "DeleteObjectTagging": lambda s3: s3.delete_object_tagging(Bucket=BUCKET, Key=KEY),
    "GetObjectAcl": lambda s3: s3.get_object_acl(Bucket=BUCKET, Key=KEY),
    "GetObjectTagging": lambda s3: s3.get_object_tagging(Bucket=BUCKET, Key=KEY),
    "GetObjectPart": lambda s3: s3.get_object(Bucket=BUCKET, Key=KEY, PartNumber=1),
    "CopyObject": lambda s3: s3.copy_object(Bucket=BUCKET, Key=KEY,
                                            CopySource={"Bucket": BUCKET, "Key": "other"}),
    "PutObjectWithTagging": lambda s3: s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"x",
                                                     Tagging="k=v"),
    "PutObjectPublicRead": lambda s3: s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"x",
                                                    ACL="public-read"),
    "PutObjectEncrypted": lambda s3: s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"x",
                                                   ServerSideEncryption="AES256"),
    "PutObjectIfNoneMatch": lambda s3: s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"x",
                                                     IfNoneMatch="*"),
    "PutBucketAcl": lambda s3: s3.put_bucket_acl(Bucket=BUCKET, ACL="public-read"),
    "PutBucketVersioning": lambda s3: s3.put_bucket_versioning(
        Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}),
    "PutBucketPolicy": lambda s3: s3.put_bucket_policy(Bucket=BUCKET, Policy="{}"),
    "PutBucketTagging": lambda s3: s3.put_bucket_tagging(Bucket=BUCKET, Tagging={
        "TagSet": [{"Key": "k", "Value": "v"}]}),
    "DeleteBucketPolicy": lambda s3: s3.delete_bucket_policy(Bucket=BUCKET),
    "GetBucketAcl": lambda s3: s3.get_bucket_acl(Bucket=BUCKET),
    "GetBucketPolicy": lambda s3: s3.get_bucket_policy(Bucket=BUCKET),
    "GetBucketWebsite": lambda s3: s3.get_bucket_website(Bucket=BUCKET),
    "GetBucketVersioning": lambda s3: s3.get_bucket_versioning(Bucket=BUCKET),
    "GetBucketLifecycle": lambda s3: s3.get_bucket_lifecycle_configuration(Bucket=BUCKET),
    "ListMultipartUploads": lambda s3: s3.list_multipart_uploads(Bucket=BUCKET),
}


@pytest.mark.parametrize("operation", sorted(UNIMPLEMENTED))
def test_unimplemented_is_501_and_touches_nothing(srv, operation):
    s3 = client(srv)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=PRECIOUS, ContentType="text/plain",
                  Metadata={"kept": "yes"})
    before = s3.head_object(Bucket=BUCKET, Key=KEY)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]

    assert error_of(lambda: UNIMPLEMENTED[operation](s3)) == (501, "NotImplemented")

    after = s3.get_object(Bucket=BUCKET, Key=KEY)
    assert after["Body"].read() == PRECIOUS
    for field in ("ETag", "ContentLength", "ContentType", "Metadata", "LastModified"):
        assert after[field] == before[field], field
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])] == listed
    assert s3.head_bucket(Bucket=BUCKET)


def test_unimplemented_sub_resource_is_refused_before_the_body_is_read(srv):
    """A PUT ?acl with a body larger than any gateway buffers: answered at once."""
    url = f"{srv.url}/{BUCKET}/{KEY}?acl"
    headers = sign_v4("PUT", url, seed.ROOT_KEY, seed.ROOT_SECRET,
                      headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    headers.append(("Content-Length", str(50 * 1024 * 1024)))      # and never sent
    assert_error(send(srv.url, "PUT", f"/{BUCKET}/{KEY}?acl", headers, timeout=5),
                 501, "NotImplemented")


# -- concurrent writers of one key ---------------------------------------------------

def _race(server, rounds: int, writers: int = 6, readers: int = 2) -> list[str]:
    """Many PUTs of one key with bodies of different sizes, GETs meanwhile: what went wrong."""
    bodies = [hashlib.sha256(str(n).encode()).digest() * (500 + 397 * n)
              for n in range(writers)]
    etags = {f'"{hashlib.md5(body).hexdigest()}"': body for body in bodies}
    problems: list[str] = []
    clients = [client(server, max_pool_connections=writers + readers)
               for _ in range(writers + readers)]

    def write(n: int) -> None:
        for _ in range(rounds):
            try:
                clients[n].put_object(Bucket="race", Key="one-key", Body=bodies[n])
            except ClientError as exc:
                problems.append(f"PUT: {exc}")

    def read(n: int) -> None:
        for _ in range(rounds):
            try:
                got = clients[writers + n].get_object(Bucket="race", Key="one-key")
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchKey":
                    problems.append(f"GET: {exc}")
                continue
            data = got["Body"].read()
            if etags.get(got["ETag"]) != data or got["ContentLength"] != len(data):
                problems.append(f"torn: ETag {got['ETag']}, {len(data)} bytes")

    clients[0].create_bucket(Bucket="race")
    with ThreadPoolExecutor(writers + readers) as pool:
        jobs = [pool.submit(write, n) for n in range(writers)]
        jobs += [pool.submit(read, n) for n in range(readers)]
        for job in jobs:
            job.result()
    final = clients[0].get_object(Bucket="race", Key="one-key")
    data = final["Body"].read()
    if etags.get(final["ETag"]) != data:
        problems.append("the last object is torn")
    return problems


def test_concurrent_puts_of_one_key_never_tear(srv):
    assert _race(srv, rounds=40) == []


def test_concurrent_completes_of_one_upload(srv):
    s3 = client(srv, max_pool_connections=8)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="mp/raced")["UploadId"]
    part = s3.upload_part(Bucket=BUCKET, Key="mp/raced", UploadId=upload, PartNumber=1,
                          Body=b"only part")
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: s3.complete_multipart_upload(
            Bucket=BUCKET, Key="mp/raced", UploadId=upload, MultipartUpload=parts), range(4)))
    assert len({r["ETag"] for r in results}) == 1
    assert s3.get_object(Bucket=BUCKET, Key="mp/raced")["Body"].read() == b"only part"


# -- bodies: read whole, and bounded ---------------------------------------------------

def _chunked(data: bytes, size: int = 1000) -> bytes:
    pieces = [data[i:i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


@pytest.mark.parametrize("version", ["v4", "v2"])
def test_http_chunked_put_without_content_length_is_missing_content_length(srv, version):
    """As S3 answers it (the middleware's doing): nothing stored, not 0 bytes."""
    key = f"chunked/{version}"
    data = hashlib.sha256(key.encode()).digest() * 4000           # 128,000 bytes
    url = f"{srv.url}/{BUCKET}/{key}"
    signer = sign_v4 if version == "v4" else sign_v2
    headers = signer("PUT", url, seed.ROOT_KEY, seed.ROOT_SECRET, body=data)
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    headers.append(("Transfer-Encoding", "chunked"))
    assert_error(send(srv.url, "PUT", f"/{BUCKET}/{key}", headers, _chunked(data)), 411,
                 "MissingContentLength")
    assert error_of(client(srv).head_object, Bucket=BUCKET, Key=key)[0] == 404


def test_put_without_any_length_is_missing_content_length(srv):
    url = f"{srv.url}/{BUCKET}/no-length"
    headers = sign_v4("PUT", url, seed.ROOT_KEY, seed.ROOT_SECRET)
    assert_error(send(srv.url, "PUT", f"/{BUCKET}/no-length", headers), 411,
                 "MissingContentLength")
    assert error_of(client(srv).head_object, Bucket=BUCKET, Key="no-length")[0] == 404


@pytest.mark.parametrize("query, limit", [("uploadId=" + "0" * 32, 10_000 * 512),
                                          ("delete", 1000 * 8 * 1024)])
def test_xml_body_larger_than_s3_takes_is_refused_unread(srv, query, limit):
    """CompleteMultipartUpload and DeleteObjects declaring more than S3 reads: refused at once."""
    path = f"/{BUCKET}/{'key' if query.startswith('uploadId') else ''}?{query}"
    headers = sign_v4("POST", srv.url + path, seed.ROOT_KEY, seed.ROOT_SECRET,
                      headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD",
                               "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="})
    headers.append(("Content-Length", str(limit + 1)))              # and never sent
    if query == "delete":
        assert_error(send(srv.url, "POST", path, headers, timeout=5), 400,
                     "MaxMessageLengthExceeded")
    else:   # (the upload is looked up first: S3 answers an unknown one so)
        assert_error(send(srv.url, "POST", path, headers, timeout=5), 404, "NoSuchUpload")
        upload = client(srv).create_multipart_upload(Bucket=BUCKET, Key="key")["UploadId"]
        path = f"/{BUCKET}/key?uploadId={upload}"
        headers = sign_v4("POST", srv.url + path, seed.ROOT_KEY, seed.ROOT_SECRET,
                          headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        headers.append(("Content-Length", str(limit + 1)))
        assert_error(send(srv.url, "POST", path, headers, timeout=5), 400,
                     "MaxMessageLengthExceeded")


def test_chunked_complete_body_larger_than_s3_takes(srv):
    """Without a Content-Length the body is read up to the bound, then refused: not parsed
    whole in memory (a tree of 100,000 parts)."""
    s3 = client(srv)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="huge-complete")["UploadId"]
    part = b"<Part><PartNumber>1</PartNumber><ETag>\"%s\"</ETag></Part>" % (b"0" * 32)
    body = (b"<CompleteMultipartUpload>" + part * (6 * 1024 * 1024 // len(part))
            + b"</CompleteMultipartUpload>")
    path = f"/{BUCKET}/huge-complete?uploadId={upload}"
    headers = sign_v4("POST", srv.url + path, seed.ROOT_KEY, seed.ROOT_SECRET, body=body)
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    headers.append(("Transfer-Encoding", "chunked"))
    assert_error(send(srv.url, "POST", path, headers, _chunked(body, 65536), timeout=30),
                 400, "MaxMessageLengthExceeded")


def test_complete_with_more_parts_than_s3_allows(srv):
    s3 = client(srv)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="many-parts")["UploadId"]
    parts = [{"PartNumber": n, "ETag": '"' + "0" * 32 + '"'} for n in range(1, 10_002)]
    assert error_of(s3.complete_multipart_upload, Bucket=BUCKET, Key="many-parts",
                    UploadId=upload, MultipartUpload={"Parts": parts}) == (400, "MalformedXML")


# -- files ------------------------------------------------------------------------------

def test_files_are_0600_in_0700_directories(srv, objects_root):
    s3 = client(srv)
    s3.put_object(Bucket=BUCKET, Key="private/file", Body=b"private", Metadata={"m": "1"})
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="private/mp")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key="private/mp", UploadId=upload, PartNumber=1, Body=b"p")
    seen = 0
    for directory, subdirectories, files in os.walk(objects_root):
        for name in subdirectories:
            assert stat.S_IMODE(os.stat(Path(directory, name)).st_mode) == 0o700, name
        for name in files:
            assert stat.S_IMODE(os.stat(Path(directory, name)).st_mode) == 0o600, name
            seen += 1
    assert seen >= 4


# -- a bucket deleted behind the gateway's back ------------------------------------------

def test_bucket_deleted_by_the_cli_keeps_nothing_for_the_next_owner(srv, objects_root):
    owner = client(srv)
    owner.create_bucket(Bucket="recycled-name")
    owner.put_object(Bucket="recycled-name", Key="secret.txt", Body=b"A's secret")
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3SERVICE_")}
    store = objects_root.with_name(objects_root.name + "-store.db")
    subprocess.run([str(Path(sys.executable).with_name("s3service")), "--db",
                    f"sqlite:///{store}", "bucket", "delete", "recycled-name"],
                   check=True, capture_output=True, env=env, timeout=60)
    assert error_of(owner.head_bucket, Bucket="recycled-name")[0] == 404

    other = client(srv, seed.B_KEY, seed.B_SECRET)
    other.create_bucket(Bucket="recycled-name")
    assert other.list_objects_v2(Bucket="recycled-name")["KeyCount"] == 0
    assert "Versions" not in other.list_object_versions(Bucket="recycled-name")
    assert error_of(other.get_object, Bucket="recycled-name", Key="secret.txt") == \
        (404, "NoSuchKey")
    found = [p for p in objects_root.rglob("*") if p.is_file()
             and b"A's secret" in p.read_bytes()]
    assert found == []
    assert error_of(owner.get_object, Bucket="recycled-name", Key="secret.txt") == \
        (403, "AccessDenied")

    # The same account making the name again gets an empty bucket too.
    other.put_object(Bucket="recycled-name", Key="b.txt", Body=b"B's")
    subprocess.run([str(Path(sys.executable).with_name("s3service")), "--db",
                    f"sqlite:///{store}", "bucket", "delete", "recycled-name"],
                   check=True, capture_output=True, env=env, timeout=60)
    other.create_bucket(Bucket="recycled-name")
    assert other.list_objects_v2(Bucket="recycled-name")["KeyCount"] == 0


def test_bucket_with_objects_is_not_deleted(srv):
    s3 = client(srv)
    s3.create_bucket(Bucket="still-full")
    s3.put_object(Bucket="still-full", Key="k", Body=b"kept")
    assert error_of(s3.delete_bucket, Bucket="still-full") == (409, "BucketNotEmpty")
    assert s3.get_object(Bucket="still-full", Key="k")["Body"].read() == b"kept"



def test_delete_bucket_racing_puts_never_drops_an_acknowledged_object(srv):
    """Either the PUT lands and DeleteBucket is BucketNotEmpty, or the PUT is refused."""
    s3 = client(srv, max_pool_connections=8)
    lost = []
    for round_ in range(20):
        bucket = f"raced-{round_}"
        s3.create_bucket(Bucket=bucket)

        def put(n: int) -> bool:
            try:
                s3.put_object(Bucket=bucket, Key=f"k{n}", Body=b"x" * 20000)
                return True
            except ClientError:
                return False

        def delete() -> bool:
            try:
                s3.delete_bucket(Bucket=bucket)
                return True
            except ClientError:
                return False

        with ThreadPoolExecutor(4) as pool:
            puts = [pool.submit(put, n) for n in range(3)]
            deleted = pool.submit(delete)
            stored = [n for n, job in enumerate(puts) if job.result()]
            deleted = deleted.result()
        for n in stored:
            try:
                s3.head_object(Bucket=bucket, Key=f"k{n}")
            except ClientError:
                lost.append((bucket, n, deleted))
    assert lost == []
