"""Over HTTPS, as SDKs send most uploads: boto3 streams the body aws-chunked with a trailing
checksum (``STREAMING-UNSIGNED-PAYLOAD-TRAILER``, inside HTTP chunked transfer encoding).

gunicorn serves examples/objectgateway.py with a certificate made for the test
(``openssl``); the clients trust exactly that certificate.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers.awschunked import crc32_b64

from . import seed
from .conftest import _boto3_session, start_server
from .test_clients import _clean_env, _run, _tool
from .test_payload_clients import BUCKET, data_of


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory, certificate):
    objects = tmp_path_factory.mktemp("tls-objects")
    for srv in start_server(tmp_path_factory.mktemp("tls-server"), "objects-tls",
                            app="object_gateway_app:app", tls=certificate,
                            S3SERVICE_TEST_OBJECTS=str(objects)):
        tls_client(srv, certificate).create_bucket(Bucket=BUCKET)
        yield srv


def tls_client(srv, certificate, **config):
    from botocore.config import Config

    cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                 retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                 read_timeout=60, **config)
    return _boto3_session().client("s3", endpoint_url=srv.url, region_name=seed.REGION,
                                   aws_access_key_id=seed.ROOT_KEY,
                                   aws_secret_access_key=seed.ROOT_SECRET,
                                   verify=str(certificate[0]), config=cfg)


def test_put_object_with_trailing_checksum(tls_server, certificate):
    key = "tls/put"
    body = data_of(500_000, key)
    s3 = tls_client(tls_server, certificate)
    sent = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    assert sent["ChecksumCRC32"] == crc32_b64(body)  # the trailer, verified and stored
    head = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32_b64(body)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body


@pytest.mark.parametrize("algorithm", ["CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_put_object_with_each_trailing_checksum(tls_server, certificate, algorithm):
    key = f"tls/{algorithm}"
    body = data_of(300_000, key)
    s3 = tls_client(tls_server, certificate)
    sent = s3.put_object(Bucket=BUCKET, Key=key, Body=body, ChecksumAlgorithm=algorithm)
    head = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == sent[f"Checksum{algorithm}"]
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body


def test_upload_file_multipart_with_trailing_checksums(tls_server, certificate, tmp_path):
    key = "tls/upload"
    body = data_of(9 * 1024 * 1024 + 5, key)
    path = tmp_path / "f.bin"
    path.write_bytes(body)
    s3 = tls_client(tls_server, certificate)
    s3.upload_file(str(path), BUCKET, key)
    assert s3.head_object(Bucket=BUCKET, Key=key)["ETag"].endswith('-2"')
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body


def test_aws_s3_cp_over_https(tls_server, certificate, tmp_path):
    source, back = tmp_path / "cli.bin", tmp_path / "back.bin"
    source.write_bytes(data_of(12 * 1024 * 1024, "tls-cli"))
    env = _clean_env(tmp_path)
    env.update(AWS_ACCESS_KEY_ID=seed.ROOT_KEY, AWS_SECRET_ACCESS_KEY=seed.ROOT_SECRET,
               AWS_CA_BUNDLE=str(certificate[0]))
    aws = [_tool("aws"), "--endpoint-url", tls_server.url, "s3", "cp", "--no-progress"]
    proc = _run(aws + [str(source), f"s3://{BUCKET}/tls/cli.bin"], env)
    assert proc.returncode == 0, proc.stderr
    proc = _run(aws + [f"s3://{BUCKET}/tls/cli.bin", str(back)], env)
    assert proc.returncode == 0, proc.stderr
    assert back.read_bytes() == source.read_bytes()
