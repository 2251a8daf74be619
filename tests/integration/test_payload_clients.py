"""Payload integrity over HTTP: real clients upload to examples/objectgateway.py under gunicorn.

Each upload is read back byte-identical; a loopback proxy that flips one
byte of a body, a chunk signature or a trailer gets S3's error and leaves
no object behind.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.helpers.awschunked import ChunkSigner, crc32_b64, encode, sign_streaming

from . import seed
from .checks import assert_error
from .conftest import boto3_client, start_server
from .rawhttp import send
from .tamper import TamperProxy
from .test_clients import _clean_env, _run, _tool

BUCKET = "payload-bucket"


@pytest.fixture(scope="module")
def objects_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("objects")


@pytest.fixture(scope="module")
def object_server(tmp_path_factory, objects_root):
    for srv in start_server(tmp_path_factory.mktemp("object-server"), "objects",
                            app="object_gateway_app:app",
                            S3SERVICE_TEST_OBJECTS=str(objects_root)):
        boto3_client(srv, seed.ROOT_KEY, seed.ROOT_SECRET).create_bucket(Bucket=BUCKET)
        yield srv


def client(srv, signature_version="s3v4", **config):
    config.setdefault("read_timeout", 60)
    return boto3_client(srv, seed.ROOT_KEY, seed.ROOT_SECRET,
                        signature_version=signature_version, **config)


def data_of(size: int, salt: str) -> bytes:
    block = hashlib.sha256(salt.encode()).digest() * 2048  # 64 KiB, different per salt
    return (block * (size // len(block) + 1))[:size]


def read_back(srv, key: str) -> bytes:
    return client(srv).get_object(Bucket=BUCKET, Key=key)["Body"].read()


def assert_absent(srv, objects_root: Path, key: str) -> None:
    with pytest.raises(ClientError) as info:
        client(srv).head_object(Bucket=BUCKET, Key=key)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert list((objects_root / BUCKET / "tmp").iterdir()) == []


# -- boto3 ----------------------------------------------------------------------------

@pytest.mark.parametrize("calculation", ["when_supported", "when_required"])
@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_boto3_put_object(object_server, signature_version, calculation):
    key = f"put/{signature_version}/{calculation}/ünï code.bin"
    body = data_of(300_000, key)
    s3 = client(object_server, signature_version, request_checksum_calculation=calculation)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    assert read_back(object_server, key) == body
    head = client(object_server).head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(body)
    if calculation == "when_supported":  # the SDK sent a CRC32 the middleware verified
        assert head.get("ChecksumCRC32") == crc32_b64(body)


@pytest.mark.parametrize("algorithm", ["CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_boto3_put_object_with_each_checksum(object_server, algorithm):
    """botocore computes the checksum, the middleware computes it again: they must agree
    (a tampered body with each is in test_payload.py)."""
    key = f"checksum/{algorithm}"
    body = data_of(200_000, key)
    sent = client(object_server).put_object(Bucket=BUCKET, Key=key, Body=body,
                                            ChecksumAlgorithm=algorithm)
    head = client(object_server).head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == sent[f"Checksum{algorithm}"]
    assert read_back(object_server, key) == body


@pytest.mark.parametrize("calculation", ["when_supported", "when_required"])
@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_boto3_upload_file_multipart(object_server, tmp_path, signature_version, calculation):
    key = f"upload/{signature_version}/{calculation}"
    body = data_of(9 * 1024 * 1024 + 123, key)  # > the 8 MiB threshold: two parts
    path = tmp_path / "file.bin"
    path.write_bytes(body)
    s3 = client(object_server, signature_version, request_checksum_calculation=calculation)
    s3.upload_file(str(path), BUCKET, key)
    head = client(object_server).head_object(Bucket=BUCKET, Key=key)
    assert head["ETag"].endswith('-2"')
    assert read_back(object_server, key) == body


# -- AWS CLI, s3cmd, MinIO ----------------------------------------------------------------

def test_aws_s3_cp_50_mb_multipart(object_server, tmp_path):
    source, back = tmp_path / "big.bin", tmp_path / "back.bin"
    source.write_bytes(data_of(50 * 1024 * 1024, "aws-cli"))
    env = _clean_env(tmp_path)
    env.update(AWS_ACCESS_KEY_ID=seed.ROOT_KEY, AWS_SECRET_ACCESS_KEY=seed.ROOT_SECRET)
    aws = [_tool("aws"), "--endpoint-url", object_server.url, "s3", "cp", "--no-progress"]
    proc = _run(aws + [str(source), f"s3://{BUCKET}/cli/big.bin"], env)
    assert proc.returncode == 0, proc.stderr
    head = client(object_server).head_object(Bucket=BUCKET, Key="cli/big.bin")
    assert head["ContentLength"] == 50 * 1024 * 1024 and head["ETag"].endswith('-7"')
    proc = _run(aws + [f"s3://{BUCKET}/cli/big.bin", str(back)], env)
    assert proc.returncode == 0, proc.stderr
    assert back.read_bytes() == source.read_bytes()


@pytest.mark.parametrize("v2,size", [(False, 17 * 1024 * 1024), (True, 1_000_000)],
                         ids=["v4-multipart", "v2"])
def test_s3cmd_put(object_server, tmp_path, v2, size):
    key = f"s3cmd/{'v2' if v2 else 'v4'}.bin"
    source = tmp_path / "file.bin"
    source.write_bytes(data_of(size, key))
    cfg = tmp_path / "s3cmd.cfg"
    cfg.write_text("\n".join([
        "[default]", f"access_key = {seed.ROOT_KEY}", f"secret_key = {seed.ROOT_SECRET}",
        f"host_base = {object_server.netloc}", f"host_bucket = {object_server.netloc}",
        "use_https = False", "proxy_host = ", f"bucket_location = {seed.REGION}",
        f"signature_v2 = {v2}", "max_retries = 1", "socket_timeout = 30"]) + "\n")
    args = [_tool("s3cmd"), "-c", str(cfg), "--no-progress"] + (["--signature-v2"] if v2 else [])
    proc = _run(args + ["put", str(source), f"s3://{BUCKET}/{key}"], _clean_env(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert read_back(object_server, key) == source.read_bytes()


def test_minio_fput_object(object_server, tmp_path):
    from .test_clients import _minio

    source = tmp_path / "minio.bin"
    source.write_bytes(data_of(6 * 1024 * 1024 + 7, "minio"))
    minio = _minio(object_server, seed.ROOT_KEY, seed.ROOT_SECRET)
    minio.fput_object(BUCKET, "minio/file.bin", str(source), part_size=5 * 1024 * 1024)
    assert read_back(object_server, "minio/file.bin") == source.read_bytes()


# -- signed chunks, sent as an SDK streaming them would -----------------------------------

def chunked_request(srv_url: str, key: str, data: bytes, *, mode: str, chunk: int = 16384,
                    trailer: bool = False, declared: str = "x-amz-checksum-crc32"
                    ) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and aws-chunked body of a PUT of ``data`` (signed unless ``mode`` says not)."""
    signed = mode.startswith("STREAMING-AWS4")
    trailer_pair = ("x-amz-checksum-crc32", crc32_b64(data)) if trailer else None
    placeholder = ChunkSigner(b"k", "d", "s", "0" * 64) if signed else None
    length = len(encode(data, chunk, placeholder, trailer_pair))
    headers = {"Host": srv_url.split("//")[1], "Content-Encoding": "aws-chunked",
               "Content-Length": str(length), "x-amz-decoded-content-length": str(len(data))}
    if trailer:
        headers["x-amz-trailer"] = declared
    signed_headers, signer = sign_streaming("PUT", f"{srv_url}/{BUCKET}/{key}", seed.ROOT_KEY,
                                            seed.ROOT_SECRET, seed.REGION, headers, mode)
    body = encode(data, chunk, signer if signed else None, trailer_pair)
    assert len(body) == length
    return list(signed_headers.items()), body


MODES = {"signed": ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", False),
         "signed-trailer": ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", True),
         "unsigned-trailer": ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", True)}


@pytest.mark.parametrize("name", sorted(MODES))
def test_streaming_upload_reads_back(object_server, name):
    mode, trailer = MODES[name]
    data = data_of(100_000, name)
    headers, body = chunked_request(object_server.url, f"stream/{name}", data, mode=mode,
                                    trailer=trailer)
    resp = send(object_server.url, "PUT", f"/{BUCKET}/stream/{name}", headers, body)
    assert resp.status == 200, resp.body
    if trailer:
        assert resp.header("x-amz-checksum-crc32") == crc32_b64(data)
    assert read_back(object_server, f"stream/{name}") == data


# -- tampering ------------------------------------------------------------------------

def test_flipped_body_byte_boto3(object_server, objects_root):
    key = "tamper/boto3"
    with TamperProxy(object_server.port, offset=1000) as proxy:
        s3 = boto3_client(proxy, seed.ROOT_KEY, seed.ROOT_SECRET)
        with pytest.raises(ClientError) as info:
            s3.put_object(Bucket=BUCKET, Key=key, Body=data_of(200_000, key))
        assert proxy.flipped == 1
    error = info.value.response["Error"]
    assert error["Code"] == "XAmzContentSHA256Mismatch"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert_absent(object_server, objects_root, key)


def test_flipped_body_byte_with_only_a_checksum(object_server, objects_root):
    # SigV2 signs no body: the CRC32 the SDK sent is what catches it.
    key = "tamper/boto3-v2"
    with TamperProxy(object_server.port, offset=5) as proxy:
        s3 = boto3_client(proxy, seed.ROOT_KEY, seed.ROOT_SECRET, signature_version="s3")
        with pytest.raises(ClientError) as info:
            s3.put_object(Bucket=BUCKET, Key=key, Body=data_of(50_000, key))
    assert info.value.response["Error"]["Code"] == "BadDigest"
    assert "CRC32 you specified did not match" in info.value.response["Error"]["Message"]
    assert_absent(object_server, objects_root, key)


def _tampered(object_server, objects_root, name: str, key: str, where, status: int, code: str):
    mode, trailer = MODES[name]
    data = data_of(40_000, key)
    headers, body = chunked_request(object_server.url, key, data, mode=mode, chunk=16384,
                                    trailer=trailer)
    with TamperProxy(object_server.port, offset=where(body)) as proxy:
        resp = send(proxy.url, "PUT", f"/{BUCKET}/{key}", headers, body)
        assert proxy.flipped == 1
    assert_error(resp, status, code)
    assert_absent(object_server, objects_root, key)
    return resp


def test_flipped_chunk_signature(object_server, objects_root):
    resp = _tampered(object_server, objects_root, "signed", "tamper/chunk-signature",
                     lambda body: body.index(b"chunk-signature=") + 20, 403,
                     "SignatureDoesNotMatch")
    assert b"AWS4-HMAC-SHA256-PAYLOAD" in resp.body  # the chunk's string to sign


def test_flipped_byte_of_a_signed_chunk(object_server, objects_root):
    _tampered(object_server, objects_root, "signed", "tamper/chunk-data",
              lambda body: body.index(b"\r\n") + 20_000, 403, "SignatureDoesNotMatch")


def test_flipped_signed_trailer(object_server, objects_root):
    _tampered(object_server, objects_root, "signed-trailer", "tamper/signed-trailer",
              _within_value, 403, "SignatureDoesNotMatch")


def test_flipped_trailer_signature(object_server, objects_root):
    _tampered(object_server, objects_root, "signed-trailer", "tamper/trailer-signature",
              lambda body: body.index(b"x-amz-trailer-signature:") + 30, 403,
              "SignatureDoesNotMatch")


def _within_value(body: bytes) -> int:
    """The offset of a character of the trailer's checksum that, flipped, is still base64."""
    start = body.index(b"x-amz-checksum-crc32:") + len(b"x-amz-checksum-crc32:")
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return next(start + i for i in range(5) if body[start + i] ^ 1 in alphabet)


def test_flipped_unsigned_trailer(object_server, objects_root):
    resp = _tampered(object_server, objects_root, "unsigned-trailer", "tamper/unsigned-trailer",
                     _within_value, 400, "BadDigest")
    assert b"The CRC32 you specified did not match the calculated checksum." in resp.body


def test_short_body_is_incomplete(object_server, objects_root):
    """The client declares more than it sends, then closes its side: ``IncompleteBody``."""
    import socket

    from .rawhttp import sign_v4

    key = "tamper/short"
    data = data_of(100_000, key)
    headers = sign_v4("PUT", f"{object_server.url}/{BUCKET}/{key}", seed.ROOT_KEY,
                      seed.ROOT_SECRET, body=data)
    head = "PUT /{}/{} HTTP/1.1\r\n{}\r\n\r\n".format(
        BUCKET, key, "\r\n".join(f"{n}: {v}" for n, v in headers))
    with socket.create_connection(("127.0.0.1", object_server.port), timeout=10) as sock:
        sock.sendall(head.encode() + data[:60_000])
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"400", answer[:500]
    assert b"<Code>IncompleteBody</Code>" in rest
    assert_absent(object_server, objects_root, key)


@pytest.mark.parametrize("signature_version", ["s3", "s3v4"])
def test_flipped_body_byte_with_content_md5(object_server, objects_root, signature_version):
    """No checksum, only the Content-MD5 the caller gave: a changed byte is ``BadDigest``."""
    import base64

    key = f"tamper/md5-{signature_version}"
    body = data_of(30_000, key)
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    with TamperProxy(object_server.port, offset=100) as proxy:
        s3 = boto3_client(proxy, seed.ROOT_KEY, seed.ROOT_SECRET,
                          signature_version=signature_version,
                          request_checksum_calculation="when_required")
        with pytest.raises(ClientError) as info:
            s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentMD5=md5)
    error = info.value.response["Error"]
    # SigV4 signs the body's SHA-256 too, which is reported first.
    expected = "BadDigest" if signature_version == "s3" else "XAmzContentSHA256Mismatch"
    assert error["Code"] == expected, error
    assert_absent(object_server, objects_root, key)
    # Unchanged, the same upload is stored.
    client(object_server, signature_version, request_checksum_calculation="when_required") \
        .put_object(Bucket=BUCKET, Key=key, Body=body, ContentMD5=md5)
    assert read_back(object_server, key) == body


def test_malformed_content_md5_is_invalid_digest(object_server):
    from .rawhttp import sign_v2

    body = b"some body"
    url = f"{object_server.url}/{BUCKET}/md5/invalid"
    headers = sign_v2("PUT", url, seed.ROOT_KEY, seed.ROOT_SECRET, body=body,
                      headers={"Content-MD5": "not-an-md5"})
    assert_error(send(object_server.url, "PUT", f"/{BUCKET}/md5/invalid", headers, body),
                 400, "InvalidDigest")


def test_malformed_framing_and_unknown_algorithm_over_http(object_server, objects_root):
    mode = MODES["unsigned-trailer"][0]
    data = data_of(20_000, "framing")
    headers, body = chunked_request(object_server.url, "tamper/framing", data, mode=mode,
                                    trailer=True)
    assert body.startswith(b"4000\r\n")
    broken = b"zzzz" + body[4:]  # a chunk size that is not hexadecimal
    resp = send(object_server.url, "PUT", f"/{BUCKET}/tamper/framing", headers, broken)
    assert_error(resp, 400, "InvalidRequest")
    assert_absent(object_server, objects_root, "tamper/framing")
    headers, body = chunked_request(object_server.url, "tamper/md4", data, mode=mode,
                                    trailer=True, declared="x-amz-checksum-md4")
    resp = send(object_server.url, "PUT", f"/{BUCKET}/tamper/md4", headers, body)
    err = assert_error(resp, 400, "InvalidRequest")
    assert "x-amz-trailer" in err["Message"]
    assert_absent(object_server, objects_root, "tamper/md4")


def test_list_objects_v2_and_delete(object_server):
    s3 = client(object_server)
    keys = ["list/a.txt", "list/b/1.txt", "list/b/2.txt", "list/c.txt"]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="list/", Delimiter="/")
    assert [o["Key"] for o in listed["Contents"]] == ["list/a.txt", "list/c.txt"]
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["list/b/"]
    assert listed["Contents"][0]["Size"] == len("list/a.txt")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="list/",
                                                         PaginationConfig={"PageSize": 1})
    assert [o["Key"] for page in pages for o in page.get("Contents", [])] == keys
    s3.delete_object(Bucket=BUCKET, Key="list/a.txt")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="list/")["Contents"]] \
        == keys[1:]


def test_buckets_belong_to_their_account_and_show_in_its_listing(object_server):
    owner = client(object_server)
    other = boto3_client(object_server, seed.B_KEY, seed.B_SECRET)
    owner.create_bucket(Bucket="owned-by-a")
    owner.put_object(Bucket="owned-by-a", Key="private.txt", Body=b"for A only")
    assert "owned-by-a" in [b["Name"] for b in owner.list_buckets()["Buckets"]]
    assert "owned-by-a" not in [b["Name"] for b in other.list_buckets()["Buckets"]]

    refused = [
        lambda: other.get_object(Bucket="owned-by-a", Key="private.txt"),
        lambda: other.put_object(Bucket="owned-by-a", Key="planted.txt", Body=b"x"),
        lambda: other.delete_object(Bucket="owned-by-a", Key="private.txt"),
        lambda: other.list_objects_v2(Bucket="owned-by-a"),
        lambda: other.delete_bucket(Bucket="owned-by-a"),
    ]
    for call in refused:
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] in ("AccessDenied", "403")
    with pytest.raises(ClientError) as caught:
        other.create_bucket(Bucket="owned-by-a")
    assert caught.value.response["Error"]["Code"] == "BucketAlreadyExists"
    owner.create_bucket(Bucket="owned-by-a")           # one's own again: 200 in us-east-1

    assert owner.get_object(Bucket="owned-by-a", Key="private.txt")["Body"].read() == \
        b"for A only"
    owner.delete_object(Bucket="owned-by-a", Key="private.txt")
    owner.delete_bucket(Bucket="owned-by-a")
    assert "owned-by-a" not in [b["Name"] for b in owner.list_buckets()["Buckets"]]
