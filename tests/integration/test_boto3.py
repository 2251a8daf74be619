"""boto3 against the middleware under gunicorn: SigV4, SigV2, presigned URLs, sessions, paging."""
from __future__ import annotations

import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from . import rawhttp, seed
from .conftest import boto3_client


def _check_listing(resp, names, account_id, display_name):
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = [b["Name"] for b in resp["Buckets"]]
    assert got == names
    for b in resp["Buckets"]:
        assert b["CreationDate"].tzinfo is not None
        assert b["CreationDate"] == seed.created_utc(b["Name"]), b["Name"]
        assert b["CreationDate"].utcoffset() == timedelta(0)
    assert resp["Owner"] == {"ID": account_id, "DisplayName": display_name}


def _error_of(exc: ClientError) -> tuple[int, str]:
    return exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Code"]


# -- SigV4 --------------------------------------------------------------------------

def test_sigv4_root_key_lists_own_buckets(server):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET)
    _check_listing(client.list_buckets(), seed.NAMES_A, seed.ACCOUNT_A, seed.DISPLAY_A)


def test_sigv4_iam_user_lists_parent_accounts_buckets(server):
    client = boto3_client(server, seed.USER_KEY, seed.USER_SECRET)
    _check_listing(client.list_buckets(), seed.NAMES_A, seed.ACCOUNT_A, seed.DISPLAY_A)


def test_sigv4_other_account_sees_only_its_buckets(server):
    client = boto3_client(server, seed.B_KEY, seed.B_SECRET)
    resp = client.list_buckets()
    _check_listing(resp, seed.NAMES_B, seed.ACCOUNT_B, seed.DISPLAY_B)
    assert not set(seed.NAMES_A) & {b["Name"] for b in resp["Buckets"]}


def test_creation_date_with_offset_is_listed_in_utc(server):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET)
    dates = {b["Name"]: b["CreationDate"] for b in client.list_buckets()["Buckets"]}
    assert dates["beta.backup"] == datetime(2020, 6, 30, 21, 59, 59, tzinfo=timezone.utc)
    assert dates["alpha-logs"] == datetime(2019, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)


def test_sigv4_wrong_secret_refused(server):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET + "x")
    with pytest.raises(ClientError) as info:
        client.list_buckets()
    assert _error_of(info.value) == (403, "SignatureDoesNotMatch")


def test_sigv4_unknown_key_refused(server):
    client = boto3_client(server, seed.UNKNOWN_KEY, "whatever")
    with pytest.raises(ClientError) as info:
        client.list_buckets()
    assert _error_of(info.value) == (403, "InvalidAccessKeyId")


# -- SigV2 --------------------------------------------------------------------------

def test_sigv2_root_key(server):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET, signature_version="s3")
    _check_listing(client.list_buckets(), seed.NAMES_A, seed.ACCOUNT_A, seed.DISPLAY_A)


def test_sigv2_other_account(server):
    client = boto3_client(server, seed.B_KEY, seed.B_SECRET, signature_version="s3")
    _check_listing(client.list_buckets(), seed.NAMES_B, seed.ACCOUNT_B, seed.DISPLAY_B)


def test_sigv2_wrong_secret_refused(server):
    client = boto3_client(server, seed.USER_KEY, "not-the-secret", signature_version="s3")
    with pytest.raises(ClientError) as info:
        client.list_buckets()
    assert _error_of(info.value) == (403, "SignatureDoesNotMatch")


# -- presigned URLs ---------------------------------------------------------------------

def _fetch(url: str) -> tuple[int, bytes, dict]:
    assert url.startswith("http://127.0.0.1:")
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def _listed_names(body: bytes) -> list[str]:
    root = rawhttp.SafeET.fromstring(body)
    ns = rawhttp.S3_NS
    assert root.tag == ns + "ListAllMyBucketsResult"
    return [e.text for e in root.iter(ns + "Name")]


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_presigned_url_from_boto3(server, version):
    client = boto3_client(server, seed.USER_KEY, seed.USER_SECRET, signature_version=version)
    url = client.generate_presigned_url("list_buckets", ExpiresIn=300)
    if version == "s3v4":
        assert "X-Amz-Signature=" in url
    else:
        assert "Signature=" in url and "AWSAccessKeyId=" in url
    status, body, _ = _fetch(url)
    assert status == 200, body
    assert _listed_names(body) == seed.NAMES_A


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_presigned_url_with_session_token(server, version):
    client = boto3_client(server, seed.SESSION_KEY, seed.SESSION_SECRET, token=seed.SESSION_TOKEN,
                          signature_version=version)
    url = client.generate_presigned_url("list_buckets", ExpiresIn=300)
    status, body, _ = _fetch(url)
    assert status == 200, body
    assert _listed_names(body) == seed.NAMES_A


def test_presigned_v4_tampered_refused(server):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET)
    url = client.generate_presigned_url("list_buckets", ExpiresIn=300)
    status, body, _ = _fetch(url.replace("X-Amz-Expires=300", "X-Amz-Expires=301"))
    assert status == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in body


def test_presigned_v4_expired_refused(server):
    signed_at = datetime.now(timezone.utc) - timedelta(hours=2)
    url = rawhttp.presign_v4(server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET, expires=60,
                             when=signed_at)
    resp = rawhttp.send(server.url, "GET", rawhttp.target_of(url), [("Host", server.netloc)])
    assert resp.status == 403
    err = resp.error()
    assert err["Code"] == "AccessDenied"
    assert err["X-Amz-Expires"] == "60"
    expires_at = (signed_at + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert err["Expires"] == expires_at
    server_time = datetime.strptime(err["ServerTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc)
    assert abs((server_time - datetime.now(timezone.utc)).total_seconds()) < 30
    assert err["RequestId"] == resp.header("x-amz-request-id")


def test_presigned_v2_expired_refused(server):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET, signature_version="s3")
    url = client.generate_presigned_url("list_buckets", ExpiresIn=-60)
    status, body, headers = _fetch(url)
    assert status == 403
    err = rawhttp.Response(status, "", list(headers.items()), body).error()
    assert err["Code"] == "AccessDenied"
    assert err["RequestId"] == headers.get("x-amz-request-id")


# -- session credentials -------------------------------------------------------------------

@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_session_credentials(server, version):
    client = boto3_client(server, seed.SESSION_KEY, seed.SESSION_SECRET, token=seed.SESSION_TOKEN,
                          signature_version=version)
    _check_listing(client.list_buckets(), seed.NAMES_A, seed.ACCOUNT_A, seed.DISPLAY_A)


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_session_wrong_token(server, version):
    client = boto3_client(server, seed.SESSION_KEY, seed.SESSION_SECRET,
                          token=seed.SESSION_TOKEN + "x", signature_version=version)
    with pytest.raises(ClientError) as info:
        client.list_buckets()
    assert _error_of(info.value) == (400, "InvalidToken")


def test_session_key_without_token(server):
    client = boto3_client(server, seed.SESSION_KEY, seed.SESSION_SECRET)
    with pytest.raises(ClientError) as info:
        client.list_buckets()
    assert _error_of(info.value) == (400, "InvalidToken")


def test_token_with_long_term_key(server):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET, token=seed.SESSION_TOKEN)
    with pytest.raises(ClientError) as info:
        client.list_buckets()
    assert _error_of(info.value) == (400, "InvalidToken")


def test_expired_session(server):
    client = boto3_client(server, seed.EXPIRED_SESSION_KEY, seed.EXPIRED_SESSION_SECRET,
                          token=seed.EXPIRED_SESSION_TOKEN)
    with pytest.raises(ClientError) as info:
        client.list_buckets()
    assert _error_of(info.value) == (400, "ExpiredToken")


# -- paging and filters --------------------------------------------------------------------

def _require_paging_model(client):
    members = client.meta.service_model.operation_model("ListBuckets").input_shape.members
    missing = {"MaxBuckets", "ContinuationToken", "Prefix", "BucketRegion"} - set(members)
    if missing:
        pytest.skip(f"installed botocore's ListBuckets lacks {sorted(missing)}")


def test_max_buckets_pages_with_continuation_tokens(server):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET)
    _require_paging_model(client)
    pages, token = [], None
    for _ in range(10):
        kwargs = {"MaxBuckets": 2}
        if token:
            kwargs["ContinuationToken"] = token
        resp = client.list_buckets(**kwargs)
        assert resp["Owner"]["ID"] == seed.ACCOUNT_A
        pages.append([b["Name"] for b in resp["Buckets"]])
        for b in resp["Buckets"]:
            assert b["BucketRegion"] == seed.BUCKETS_A[b["Name"]][1]
            assert b["CreationDate"] == seed.created_utc(b["Name"])
        token = resp.get("ContinuationToken")
        if not token:
            break
    expected = [seed.NAMES_A[i:i + 2] for i in range(0, len(seed.NAMES_A), 2)]
    assert pages == expected


def test_paginator(server):
    client = boto3_client(server, seed.USER_KEY, seed.USER_SECRET)
    _require_paging_model(client)
    pages = list(client.get_paginator("list_buckets").paginate(
        PaginationConfig={"PageSize": 3}))
    assert [[b["Name"] for b in p["Buckets"]] for p in pages] == [
        seed.NAMES_A[0:3], seed.NAMES_A[3:6], seed.NAMES_A[6:]]
    assert all("ContinuationToken" in p for p in pages[:-1])
    assert "ContinuationToken" not in pages[-1]


def test_prefix(server):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET)
    _require_paging_model(client)
    resp = client.list_buckets(Prefix="zeta")
    assert [b["Name"] for b in resp["Buckets"]] == ["zeta-1", "zeta-2"]
    assert resp["Prefix"] == "zeta"
    assert "ContinuationToken" not in resp


def test_prefix_paged(server):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET)
    _require_paging_model(client)
    first = client.list_buckets(Prefix="zeta", MaxBuckets=1)
    assert [b["Name"] for b in first["Buckets"]] == ["zeta-1"]
    second = client.list_buckets(Prefix="zeta", MaxBuckets=1,
                                 ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in second["Buckets"]] == ["zeta-2"]
    assert "ContinuationToken" not in second


def test_bucket_region(server):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET)
    _require_paging_model(client)
    resp = client.list_buckets(BucketRegion="eu-west-1")
    expected = [n for n in seed.NAMES_A if seed.BUCKETS_A[n][1] == "eu-west-1"]
    assert expected == ["gamma-photos", "zeta-1"]
    assert [b["Name"] for b in resp["Buckets"]] == expected
    assert {b["BucketRegion"] for b in resp["Buckets"]} == {"eu-west-1"}


def test_continuation_token_bound_to_its_listing(server):
    client = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET)
    _require_paging_model(client)
    token = client.list_buckets(MaxBuckets=2)["ContinuationToken"]
    with pytest.raises(ClientError) as info:
        client.list_buckets(MaxBuckets=2, Prefix="zeta", ContinuationToken=token)
    assert _error_of(info.value) == (400, "InvalidArgument")
    with pytest.raises(ClientError) as info:
        client.list_buckets(MaxBuckets=2, ContinuationToken=token[:-2] + (
            "AA" if token[-2:] != "AA" else "BB"))
    assert _error_of(info.value) == (400, "InvalidArgument")


def test_continuation_token_of_another_account_refused(server):
    client_a = boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET)
    _require_paging_model(client_a)
    token = client_a.list_buckets(MaxBuckets=1)["ContinuationToken"]
    client_b = boto3_client(server, seed.B_KEY, seed.B_SECRET)
    with pytest.raises(ClientError) as info:
        client_b.list_buckets(MaxBuckets=1, ContinuationToken=token)
    assert _error_of(info.value) == (400, "InvalidArgument")
