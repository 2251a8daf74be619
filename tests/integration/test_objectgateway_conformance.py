"""examples/objectgateway.py answers as S3 does: listings (``encoding-type=url``, v1
``marker``, ListObjectVersions), multipart (a repeated Complete, ``EntityTooSmall``),
object headers and GetObject's ``response-*`` overrides, DeleteObjects.

gunicorn serves the example; the clients are boto3 and the AWS CLI.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from . import seed
from .conftest import boto3_client, start_server
from .test_clients import _clean_env, _run, _tool

BUCKET = "conformance"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    for server in start_server(tmp_path_factory.mktemp("conformance-server"), "conformance",
                               app="object_gateway_app:app",
                               S3SERVICE_TEST_OBJECTS=str(tmp_path_factory.mktemp("objects"))):
        boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET).create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture
def s3(srv):
    return boto3_client(srv, seed.ROOT_KEY, seed.ROOT_SECRET, read_timeout=30)


def error_of(call, **kwargs) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def fill(s3, bucket: str, keys: list[str]) -> None:
    s3.create_bucket(Bucket=bucket)
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())


# -- listings ---------------------------------------------------------------------------

ODD_KEYS = ["asdf+b", "bar", "baz%", "cab&", "foo+1/bar", "foo/bar/xyzzy", "quux ab/thud"]


@pytest.mark.parametrize("version", [1, 2])
def test_encoding_type_url(s3, version):
    fill(s3, f"encoded-{version}", ODD_KEYS)
    listing = s3.list_objects if version == 1 else s3.list_objects_v2
    # Asked for explicitly, botocore hands the answer over as it came: still encoded.
    raw = listing(Bucket=f"encoded-{version}", Delimiter="/", EncodingType="url")
    assert raw["EncodingType"] == "url"
    assert [o["Key"] for o in raw["Contents"]] == ["asdf%2Bb", "bar", "baz%25", "cab%26"]
    assert [p["Prefix"] for p in raw["CommonPrefixes"]] == ["foo%2B1/", "foo/", "quux%20ab/"]
    # Left to botocore (which asks for url encoding itself), the keys come back as they are.
    plain = listing(Bucket=f"encoded-{version}")
    assert [o["Key"] for o in plain["Contents"]] == sorted(ODD_KEYS)
    assert error_of(listing, Bucket=f"encoded-{version}", EncodingType="base64") == \
        (400, "InvalidArgument")


def test_list_objects_v1_pages_with_marker(s3):
    keys = [f"k{n:02d}" for n in range(7)]
    fill(s3, "marked", keys)
    first = s3.list_objects(Bucket="marked", MaxKeys=3)
    assert [o["Key"] for o in first["Contents"]] == keys[:3] and first["IsTruncated"]
    second = s3.list_objects(Bucket="marked", MaxKeys=3, Marker="k02")
    assert second["Marker"] == "k02"
    assert [o["Key"] for o in second["Contents"]] == keys[3:6]
    pages = s3.get_paginator("list_objects").paginate(Bucket="marked",
                                                      PaginationConfig={"PageSize": 2})
    assert [o["Key"] for page in pages for o in page["Contents"]] == keys
    with_delimiter = s3.list_objects(Bucket="marked", MaxKeys=2, Delimiter="/")
    assert with_delimiter["NextMarker"] == "k01"


def test_list_objects_v2_pages(s3):
    keys = [f"p/{n}" for n in range(5)] + ["q/x", "q/é ü"]       # (in UTF-8 byte order)
    fill(s3, "paged-v2", keys)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="paged-v2",
                                                         PaginationConfig={"PageSize": 2})
    assert [o["Key"] for page in pages for o in page.get("Contents", [])] == keys
    rolled = s3.list_objects_v2(Bucket="paged-v2", Delimiter="/", MaxKeys=1)
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["p/"]
    after = s3.list_objects_v2(Bucket="paged-v2", Delimiter="/",
                               ContinuationToken=rolled["NextContinuationToken"])
    assert [p["Prefix"] for p in after["CommonPrefixes"]] == ["q/"]
    assert error_of(s3.list_objects_v2, Bucket="paged-v2", ContinuationToken="%%%") == \
        (400, "InvalidArgument")


def test_list_object_versions_of_an_unversioned_bucket(s3):
    keys = ["a", "b/1", "b/2", "c"]
    fill(s3, "versionless", keys)
    listed = s3.list_object_versions(Bucket="versionless")
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == \
        [(key, "null", True) for key in keys]
    assert listed["Versions"][0]["ETag"] == f'"{hashlib.md5(b"a").hexdigest()}"'
    assert listed["Versions"][0]["Size"] == 1
    assert "DeleteMarkers" not in listed and not listed["IsTruncated"]
    rolled = s3.list_object_versions(Bucket="versionless", Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["b/"]
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket="versionless", PaginationConfig={"PageSize": 1})
    assert [v["Key"] for page in pages for v in page.get("Versions", [])] == keys


# -- multipart ------------------------------------------------------------------------------

def _upload(s3, key: str, sizes: list[int]) -> tuple[str, list[dict]]:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts = []
    for number, size in enumerate(sizes, 1):
        sent = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number,
                              Body=bytes([number]) * size)
        parts.append({"PartNumber": number, "ETag": sent["ETag"]})
    return upload, parts


def test_complete_again_answers_the_same(s3):
    upload, parts = _upload(s3, "mp/again", [5 * MiB, 100])
    first = s3.complete_multipart_upload(Bucket=BUCKET, Key="mp/again", UploadId=upload,
                                         MultipartUpload={"Parts": parts})
    again = s3.complete_multipart_upload(Bucket=BUCKET, Key="mp/again", UploadId=upload,
                                         MultipartUpload={"Parts": parts})
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert (again["ETag"], again["Key"]) == (first["ETag"], first["Key"])
    assert first["ETag"].endswith('-2"')
    body = s3.get_object(Bucket=BUCKET, Key="mp/again")["Body"].read()
    assert body == b"\x01" * (5 * MiB) + b"\x02" * 100
    # Completed, the upload takes no more parts and cannot be aborted.
    assert error_of(s3.upload_part, Bucket=BUCKET, Key="mp/again", UploadId=upload,
                    PartNumber=3, Body=b"late") == (404, "NoSuchUpload")
    assert error_of(s3.abort_multipart_upload, Bucket=BUCKET, Key="mp/again",
                    UploadId=upload) == (404, "NoSuchUpload")


def test_parts_under_5_mib_but_the_last_are_entity_too_small(s3):
    upload, parts = _upload(s3, "mp/small", [10 * 1024, 10 * 1024])
    assert error_of(s3.complete_multipart_upload, Bucket=BUCKET, Key="mp/small",
                    UploadId=upload, MultipartUpload={"Parts": parts}) == \
        (400, "EntityTooSmall")
    assert error_of(s3.head_object, Bucket=BUCKET, Key="mp/small")[0] == 404
    # One small part is the last one: fine.
    done = s3.complete_multipart_upload(Bucket=BUCKET, Key="mp/small", UploadId=upload,
                                        MultipartUpload={"Parts": parts[:1]})
    assert done["ETag"].endswith('-1"')
    assert s3.head_object(Bucket=BUCKET, Key="mp/small")["ContentLength"] == 10 * 1024


def test_complete_with_parts_out_of_order_or_unknown(s3):
    upload, parts = _upload(s3, "mp/order", [5 * MiB, 10])
    assert error_of(s3.complete_multipart_upload, Bucket=BUCKET, Key="mp/order",
                    UploadId=upload, MultipartUpload={"Parts": parts[::-1]}) == \
        (400, "InvalidPartOrder")
    wrong = [parts[0], {"PartNumber": 2, "ETag": '"' + "0" * 32 + '"'}]
    assert error_of(s3.complete_multipart_upload, Bucket=BUCKET, Key="mp/order",
                    UploadId=upload, MultipartUpload={"Parts": wrong}) == (400, "InvalidPart")
    s3.abort_multipart_upload(Bucket=BUCKET, Key="mp/order", UploadId=upload)
    assert error_of(s3.complete_multipart_upload, Bucket=BUCKET, Key="mp/order",
                    UploadId=upload, MultipartUpload={"Parts": parts}) == (404, "NoSuchUpload")


# -- object headers ---------------------------------------------------------------------------

HEADERS = {"CacheControl": "max-age=60", "ContentDisposition": 'attachment; filename="a.txt"',
           "ContentEncoding": "identity", "ContentLanguage": "de-CH",
           "Expires": datetime(2031, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
           "ContentType": "text/plain"}


def test_object_headers_are_stored_and_returned(s3):
    s3.put_object(Bucket=BUCKET, Key="headers/put", Body=b"with headers", **HEADERS)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="headers/mp", **HEADERS)
    part = s3.upload_part(Bucket=BUCKET, Key="headers/mp", UploadId=upload["UploadId"],
                          PartNumber=1, Body=b"multipart with headers")
    s3.complete_multipart_upload(Bucket=BUCKET, Key="headers/mp", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1,
                                                             "ETag": part["ETag"]}]})
    for key in ("headers/put", "headers/mp"):
        for got in (s3.head_object(Bucket=BUCKET, Key=key),
                    s3.get_object(Bucket=BUCKET, Key=key)):
            assert {name: got.get(name) for name in HEADERS} == HEADERS, key


def test_get_object_response_overrides(s3):
    s3.put_object(Bucket=BUCKET, Key="headers/override", Body=b"x", **HEADERS)
    expires = datetime(2040, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    got = s3.get_object(Bucket=BUCKET, Key="headers/override",
                        ResponseContentType="application/json",
                        ResponseCacheControl="no-cache",
                        ResponseContentDisposition="inline",
                        ResponseContentEncoding="gzip",
                        ResponseContentLanguage="fr",
                        ResponseExpires=expires)
    assert (got["ContentType"], got["CacheControl"], got["ContentDisposition"],
            got["ContentEncoding"], got["ContentLanguage"], got["Expires"]) == \
        ("application/json", "no-cache", "inline", "gzip", "fr", expires)
    plain = s3.head_object(Bucket=BUCKET, Key="headers/override")
    assert plain["ContentType"] == "text/plain"          # (overrides are for one answer)


# -- DeleteObjects -----------------------------------------------------------------------------

def test_delete_objects(s3):
    keys = ["del/a", "del/b", "del/c & <d>"]
    fill(s3, "deleting", keys + ["del/kept"])
    answer = s3.delete_objects(Bucket="deleting", Delete={"Objects": [
        {"Key": "del/a"}, {"Key": "del/b", "VersionId": "null"}, {"Key": "del/c & <d>"},
        {"Key": "del/never-was"}, {"Key": "del/kept", "VersionId": "3HL4kqtJlcpXroDTDmJ"}]})
    assert sorted(d["Key"] for d in answer["Deleted"]) == \
        ["del/a", "del/b", "del/c & <d>", "del/never-was"]
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("del/kept", "NoSuchVersion")]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="deleting")["Contents"]] == ["del/kept"]

    fill(s3, "deleting", ["del/quiet"])
    quiet = s3.delete_objects(Bucket="deleting", Delete={"Quiet": True, "Objects": [
        {"Key": "del/quiet"}]})
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert error_of(s3.head_object, Bucket="deleting", Key="del/quiet")[0] == 404

    too_many = [{"Key": f"k{n}"} for n in range(1001)]
    assert error_of(s3.delete_objects, Bucket="deleting",
                    Delete={"Objects": too_many}) == (400, "MalformedXML")
    assert s3.head_object(Bucket="deleting", Key="del/kept")


def test_aws_s3_rm_recursive(srv, s3, tmp_path: Path):
    keys = [f"tree/{n // 10}/{n}.txt" for n in range(25)] + ["other/stays.txt"]
    fill(s3, "removing", keys)
    env = _clean_env(tmp_path)
    env.update(AWS_ACCESS_KEY_ID=seed.ROOT_KEY, AWS_SECRET_ACCESS_KEY=seed.ROOT_SECRET)
    aws = [_tool("aws"), "--endpoint-url", srv.url, "s3"]
    proc = _run(aws + ["rm", "--recursive", "s3://removing/tree/"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("delete: ") == 25
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="removing")["Contents"]] == \
        ["other/stays.txt"]
    # DeleteObjects and ListObjectVersions, as the CLI sends them.
    proc = _run([*aws[:-1], "s3api", "list-object-versions", "--bucket", "removing",
                 "--query", "Versions[].[Key,VersionId]", "--output", "text"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["other/stays.txt", "null"]
    proc = _run([*aws[:-1], "s3api", "delete-objects", "--bucket", "removing", "--delete",
                 '{"Objects": [{"Key": "other/stays.txt", "VersionId": "null"}]}'], env)
    assert proc.returncode == 0, proc.stderr
    assert '"Key": "other/stays.txt"' in proc.stdout
    assert "Contents" not in s3.list_objects_v2(Bucket="removing")
    proc = _run(aws + ["rb", "--force", "s3://removing"], env)
    assert proc.returncode == 0, proc.stderr
    assert error_of(s3.head_bucket, Bucket="removing")[0] == 404


# -- requests S3 refuses ---------------------------------------------------------------------

def test_key_longer_than_1024_bytes(s3):
    assert error_of(s3.put_object, Bucket=BUCKET, Key="é" * 513, Body=b"x") == \
        (400, "KeyTooLongError")
    s3.put_object(Bucket=BUCKET, Key="é" * 512, Body=b"x")            # 1,024 bytes: fine
    assert s3.get_object(Bucket=BUCKET, Key="é" * 512)["Body"].read() == b"x"


def test_expected_bucket_owner(s3):
    s3.put_object(Bucket=BUCKET, Key="owned", Body=b"x", ExpectedBucketOwner=seed.ACCOUNT_A)
    assert error_of(s3.get_object, Bucket=BUCKET, Key="owned",
                    ExpectedBucketOwner=seed.ACCOUNT_B) == (403, "AccessDenied")
    assert error_of(s3.put_object, Bucket=BUCKET, Key="owned", Body=b"overwritten",
                    ExpectedBucketOwner=seed.ACCOUNT_B) == (403, "AccessDenied")
    assert s3.get_object(Bucket=BUCKET, Key="owned")["Body"].read() == b"x"



def test_range_not_satisfiable(srv, s3):
    from .rawhttp import send, sign_v4

    s3.put_object(Bucket=BUCKET, Key="ranged", Body=b"0123456789")
    assert s3.get_object(Bucket=BUCKET, Key="ranged", Range="bytes=2-4")["Body"].read() == \
        b"234"
    url = f"{srv.url}/{BUCKET}/ranged"
    resp = send(srv.url, "GET", f"/{BUCKET}/ranged",
                sign_v4("GET", url, seed.ROOT_KEY, seed.ROOT_SECRET,
                        headers={"Range": "bytes=20-"}))
    assert (resp.status, resp.reason) == (416, "Requested Range Not Satisfiable")
    assert resp.error()["Code"] == "InvalidRange"


def test_response_override_with_line_break_or_non_ascii(s3):
    s3.put_object(Bucket=BUCKET, Key="headers/odd", Body=b"x")
    assert error_of(s3.get_object, Bucket=BUCKET, Key="headers/odd",
                    ResponseContentDisposition="inline\r\nSet-Cookie: a=b") == \
        (400, "InvalidArgument")
    got = s3.get_object(Bucket=BUCKET, Key="headers/odd",
                        ResponseContentDisposition="attachment; filename=\"é.txt\"")
    raw = got["ResponseMetadata"]["HTTPHeaders"]["content-disposition"]
    assert raw.encode("latin-1").decode("utf-8") == 'attachment; filename="é.txt"'


def test_list_with_max_keys_zero_is_not_truncated(s3):
    fill(s3, "zero-keys", ["a", "b"])
    listed = s3.list_objects_v2(Bucket="zero-keys", MaxKeys=0)
    assert (listed["KeyCount"], listed["IsTruncated"]) == (0, False)


def test_get_object_conditions(s3):
    etag = s3.put_object(Bucket=BUCKET, Key="conditional", Body=b"v1")["ETag"]
    head = s3.head_object(Bucket=BUCKET, Key="conditional")
    modified = head["LastModified"]
    earlier, later = datetime(2001, 1, 1, tzinfo=timezone.utc), datetime(2099, 1, 1,
                                                                          tzinfo=timezone.utc)
    assert s3.get_object(Bucket=BUCKET, Key="conditional", IfMatch=etag)["Body"].read() == b"v1"
    assert error_of(s3.get_object, Bucket=BUCKET, Key="conditional",
                    IfMatch='"' + "0" * 32 + '"') == (412, "PreconditionFailed")
    assert error_of(s3.get_object, Bucket=BUCKET, Key="conditional",
                    IfUnmodifiedSince=earlier) == (412, "PreconditionFailed")
    assert error_of(s3.get_object, Bucket=BUCKET, Key="conditional", IfNoneMatch=etag) == \
        (304, "304")
    assert error_of(s3.get_object, Bucket=BUCKET, Key="conditional",
                    IfModifiedSince=later) == (304, "304")
    assert error_of(s3.head_object, Bucket=BUCKET, Key="conditional", IfMatch='"nope"') == \
        (412, "412")
    # If-Match holding wins over If-Unmodified-Since failing; If-None-Match over
    # If-Modified-Since.
    assert s3.get_object(Bucket=BUCKET, Key="conditional", IfMatch=etag,
                         IfUnmodifiedSince=earlier)["Body"].read() == b"v1"
    assert s3.get_object(Bucket=BUCKET, Key="conditional", IfNoneMatch='"other"',
                         IfModifiedSince=later)["Body"].read() == b"v1"
    assert s3.get_object(Bucket=BUCKET, Key="conditional",
                         IfModifiedSince=modified.replace(year=2000))["Body"].read() == b"v1"


def test_ranged_download_of_an_object_replaced_meanwhile_is_refused(s3, tmp_path):
    """s3transfer downloads a large object in ranges, each with If-Match: a PUT in between
    must make the download fail, never leave a file stitched from two versions."""
    from boto3.s3.transfer import TransferConfig
    from s3transfer.exceptions import S3DownloadFailedError

    first = bytes(range(256)) * (4 * 4096)                          # 4 MiB
    s3.put_object(Bucket=BUCKET, Key="replaced", Body=first)
    replaced = []

    def replace_once(chunk: int) -> None:
        if not replaced:
            replaced.append(True)
            s3.put_object(Bucket=BUCKET, Key="replaced", Body=b"\xff" * len(first))

    config = TransferConfig(multipart_threshold=1024 * 1024, multipart_chunksize=1024 * 1024,
                            max_concurrency=1)
    target = tmp_path / "download.bin"
    with pytest.raises(S3DownloadFailedError, match="did not match expected ETag"):
        s3.download_file(BUCKET, "replaced", str(target), Config=config, Callback=replace_once)
    assert replaced and not target.exists()
