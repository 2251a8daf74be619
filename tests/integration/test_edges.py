"""Less common but legal requests from real clients: big listings, odd text, other signing forms."""
from __future__ import annotations

import urllib.request
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest
from botocore.exceptions import ClientError

from tests.helpers.signing import signed_headers

from . import rawhttp, seed
from .checks import assert_error
from .conftest import boto3_client
from .rawhttp import send, sign_v4
from .test_clients import _minio, _s3cmd, _s3cmd_lines


# -- a listing streamed in chunks -------------------------------------------------------------

def test_bulk_listing_is_streamed_and_complete(server):
    resp = send(server.url, "GET", "/", sign_v4("GET", server.url + "/", seed.BULK_KEY,
                                                seed.BULK_SECRET))
    assert resp.status == 200
    assert resp.header("Content-Length") is None  # streamed, chunked by the server
    names = [e.text for e in resp.xml.iter(rawhttp.S3_NS + "Name")]
    assert names == seed.NAMES_BULK
    dates = [e.text for e in resp.xml.iter(rawhttp.S3_NS + "CreationDate")]
    assert dates[-1] == "2020-01-01T20:33:00.000Z"


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_bulk_listing_boto3(server, version):
    client = boto3_client(server, seed.BULK_KEY, seed.BULK_SECRET, signature_version=version)
    resp = client.list_buckets()
    assert [b["Name"] for b in resp["Buckets"]] == seed.NAMES_BULK
    assert all(b["CreationDate"] == seed.created_utc(b["Name"]) for b in resp["Buckets"])
    assert resp["Owner"]["ID"] == seed.ACCOUNT_BULK


def test_bulk_listing_paged_boto3(server):
    client = boto3_client(server, seed.BULK_KEY, seed.BULK_SECRET)
    pages = list(client.get_paginator("list_buckets").paginate(
        PaginationConfig={"PageSize": 500}))
    assert [len(p["Buckets"]) for p in pages] == [500, 500, 234]
    assert [b["Name"] for p in pages for b in p["Buckets"]] == seed.NAMES_BULK


def test_bulk_listing_minio(server):
    buckets = _minio(server, seed.BULK_KEY, seed.BULK_SECRET).list_buckets()
    assert [b.name for b in buckets] == seed.NAMES_BULK


def test_bulk_listing_s3cmd(server, tmp_path):
    proc = _s3cmd(server, tmp_path, seed.BULK_KEY, seed.BULK_SECRET, v2=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == _s3cmd_lines(seed.NAMES_BULK)


# -- text that needs care ------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["s3v4", "s3"])
@pytest.mark.parametrize("prefix", ["日本 & <x>", "a+b c%20d/e=f&g", "zeta-"])
def test_prefix_with_special_characters(server, version, prefix):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET, signature_version=version)
    resp = client.list_buckets(Prefix=prefix)
    assert resp["Prefix"] == prefix
    assert [b["Name"] for b in resp["Buckets"]] == [n for n in seed.NAMES_A
                                                    if n.startswith(prefix)]


def test_signed_non_ascii_header_value(server):
    value = "Ünïcødé ✓"
    headers = sign_v4("GET", server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET,
                      headers={"x-amz-meta-name": value})
    wire = [(k, v.encode("utf-8") if k == "x-amz-meta-name" else v) for k, v in headers]
    resp = send(server.url, "GET", "/", wire)
    assert resp.status == 200, resp.body


def test_duplicate_parameter(server):
    target = "/?max-buckets=1&max-buckets=2"
    resp = send(server.url, "GET", target, sign_v4("GET", server.url + target, seed.ROOT_KEY,
                                                   seed.ROOT_SECRET))
    assert_error(resp, 400, "InvalidArgument", ArgumentName="max-buckets")


def test_unknown_parameters_are_ignored(server):
    target = "/?x-id=ListBuckets&foo=bar"
    resp = send(server.url, "GET", target, sign_v4("GET", server.url + target, seed.ROOT_KEY,
                                                   seed.ROOT_SECRET))
    assert resp.status == 200, resp.body
    assert [e.text for e in resp.xml.iter(rawhttp.S3_NS + "Name")] == seed.NAMES_A
    assert resp.xml.find(rawhttp.S3_NS + "Prefix") is None


# -- other ways of signing ------------------------------------------------------------------------

def test_sigv4_with_date_header_instead_of_x_amz_date(server):
    now = format_datetime(datetime.now(timezone.utc), usegmt=True)
    headers = sign_v4("GET", server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET,
                      headers={"Date": now})
    assert "X-Amz-Date" not in dict(headers)
    resp = send(server.url, "GET", "/", headers)
    assert resp.status == 200, resp.body


def test_sigv4_unsigned_payload(server):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET,
                          s3={"addressing_style": "path", "payload_signing_enabled": False})
    resp = client.list_buckets()
    assert [b["Name"] for b in resp["Buckets"]] == seed.NAMES_A


def test_sigv2_paging(server):
    client = boto3_client(server, seed.USER_KEY, seed.USER_SECRET, signature_version="s3")
    pages = list(client.get_paginator("list_buckets").paginate(
        PaginationConfig={"PageSize": 4}))
    assert [[b["Name"] for b in p["Buckets"]] for p in pages] == [seed.NAMES_A[:4],
                                                                  seed.NAMES_A[4:]]


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_presigned_with_parameters(server, version):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET, signature_version=version)
    url = client.generate_presigned_url("list_buckets", Params={"Prefix": "zeta",
                                                                "MaxBuckets": 1})
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = resp.read()
    root = rawhttp.SafeET.fromstring(body)
    assert [e.text for e in root.iter(rawhttp.S3_NS + "Name")] == ["zeta-1"]
    assert root.find(rawhttp.S3_NS + "ContinuationToken").text


def test_s3cmd_session_token(server, tmp_path):
    proc = _s3cmd(server, tmp_path, seed.SESSION_KEY, seed.SESSION_SECRET, v2=False,
                  token=seed.SESSION_TOKEN)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == _s3cmd_lines(seed.NAMES_A)


def test_minio_wrong_session_token(server):
    from minio.error import S3Error

    with pytest.raises(S3Error) as info:
        _minio(server, seed.SESSION_KEY, seed.SESSION_SECRET, token="nope").list_buckets()
    assert info.value.code == "InvalidToken"


def test_boto3_sigv2_session_expired(server):
    client = boto3_client(server, seed.EXPIRED_SESSION_KEY, seed.EXPIRED_SESSION_SECRET,
                          token=seed.EXPIRED_SESSION_TOKEN, signature_version="s3")
    with pytest.raises(ClientError) as info:
        client.list_buckets()
    assert info.value.response["Error"]["Code"] == "ExpiredToken"


def test_client_going_away_mid_listing_leaves_server_healthy(server):
    import socket

    headers = sign_v4("GET", server.url + "/", seed.BULK_KEY, seed.BULK_SECRET)
    request = "GET / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(request.encode("latin-1"))
            first = sock.recv(2048)
            assert first.startswith(b"HTTP/1.1 200")
    # Both workers still answer, and answer whole listings.
    for _ in range(4):
        resp = send(server.url, "GET", "/", sign_v4("GET", server.url + "/", seed.BULK_KEY,
                                                    seed.BULK_SECRET))
        assert resp.status == 200
        assert len(list(resp.xml.iter(rawhttp.S3_NS + "Name"))) == seed.BULK_COUNT


@pytest.mark.parametrize("version", ["v4", "v2"])
def test_signed_header_with_inner_whitespace(server, version):
    signer = sign_v4 if version == "v4" else rawhttp.sign_v2
    headers = signer("GET", server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET,
                     headers={"x-amz-meta-spaced": "  a   b  c "})
    resp = send(server.url, "GET", "/", headers)
    assert resp.status == 200, resp.body


def test_repeated_signed_header(server):
    headers = signed_headers("GET", server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET,
                             region=seed.REGION,
                             headers=[("Host", server.netloc), ("x-amz-meta-multi", "one"),
                                      ("x-amz-meta-multi", "two")])
    resp = send(server.url, "GET", "/", headers)
    assert sum(1 for k, _ in headers if k == "x-amz-meta-multi") == 2
    assert resp.status == 200, resp.body
