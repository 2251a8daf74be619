"""Raw HTTP against the server: every error S3 would send, and the headers of every answer."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from . import rawhttp, seed
from .checks import assert_error, check_common_headers
from .rawhttp import send, sign_v2, sign_v4

def _get(server, headers, target="/", method="GET", body=b""):
    return send(server.url, method, target, headers, body)


def _v4(server, key=seed.ROOT_KEY, secret=seed.ROOT_SECRET, target="/", **kw):
    return sign_v4("GET", server.url + target, key, secret, **kw)


def _replace(headers, name, value):
    out = [(k, v) for k, v in headers if k.lower() != name.lower()]
    if value is not None:
        out.append((name, value))
    return out


# -- success ---------------------------------------------------------------------------------

def test_success_headers_and_document(server):
    resp = _get(server, _v4(server))
    assert resp.status == 200, resp.body
    assert resp.header("Content-Type") == "application/xml"
    check_common_headers(resp)
    assert int(resp.header("Content-Length")) == len(resp.body)
    root = resp.xml
    ns = rawhttp.S3_NS
    assert root.tag == ns + "ListAllMyBucketsResult"
    assert root.find(f"{ns}Owner/{ns}ID").text == seed.ACCOUNT_A
    assert root.find(f"{ns}Owner/{ns}DisplayName").text == seed.DISPLAY_A
    buckets = root.findall(f"{ns}Buckets/{ns}Bucket")
    assert [b.find(ns + "Name").text for b in buckets] == seed.NAMES_A
    dates = {b.find(ns + "Name").text: b.find(ns + "CreationDate").text for b in buckets}
    assert dates["beta.backup"] == "2020-06-30T21:59:59.000Z"
    assert dates["gamma-photos"] == "2021-12-31T00:00:00.001Z"
    assert dates["zz-last"] == "2024-02-29T06:30:00.999Z"
    for b in buckets:  # an unpaged listing has no regions, tokens or prefix
        assert b.find(ns + "BucketRegion") is None
    assert root.find(ns + "ContinuationToken") is None
    assert root.find(ns + "Prefix") is None
    # Escaping is done right in the raw bytes too.
    assert "<DisplayName>Ana &amp; &lt;Co&gt;".encode() in resp.body


def test_request_ids_differ(server):
    first = _get(server, _v4(server))
    second = _get(server, _v4(server))
    assert first.status == second.status == 200
    assert first.header("x-amz-request-id") != second.header("x-amz-request-id")
    assert first.header("x-amz-id-2") != second.header("x-amz-id-2")
    e1, e2 = _get(server, [("Host", server.netloc)]), _get(server, [("Host", server.netloc)])
    assert e1.error()["RequestId"] != e2.error()["RequestId"]


def test_paged_listing_over_raw_http(server):
    resp = _get(server, _v4(server, target="/?max-buckets=3&bucket-region=us-east-1"),
                target="/?max-buckets=3&bucket-region=us-east-1")
    assert resp.status == 200, resp.body
    ns = rawhttp.S3_NS
    names = [e.text for e in resp.xml.iter(ns + "Name")]
    assert names == [n for n in seed.NAMES_A if seed.BUCKETS_A[n][1] == "us-east-1"][:3]
    assert [e.text for e in resp.xml.iter(ns + "BucketRegion")] == ["us-east-1"] * 3
    assert resp.xml.find(ns + "ContinuationToken").text


def test_service_host_name_is_the_service(server):
    host = f"{seed.SERVICE_HOST}:{server.port}"
    resp = _get(server, sign_v4("GET", server.url + "/", seed.USER_KEY, seed.USER_SECRET,
                                host=host))
    assert resp.status == 200, resp.body
    assert [e.text for e in resp.xml.iter(rawhttp.S3_NS + "Name")] == seed.NAMES_A


def test_sigv2_header_over_raw_http(server):
    resp = _get(server, sign_v2("GET", server.url + "/", seed.B_KEY, seed.B_SECRET))
    assert resp.status == 200, resp.body
    assert [e.text for e in resp.xml.iter(rawhttp.S3_NS + "Name")] == seed.NAMES_B


# -- authentication errors ---------------------------------------------------------------------

def test_anonymous_is_denied(server):
    assert_error(_get(server, [("Host", server.netloc)]), 403, "AccessDenied")


def test_unknown_key(server):
    resp = _get(server, _v4(server, key=seed.UNKNOWN_KEY, secret="x"))
    assert_error(resp, 403, "InvalidAccessKeyId", AWSAccessKeyId=seed.UNKNOWN_KEY)


def test_unknown_key_v2(server):
    resp = _get(server, sign_v2("GET", server.url + "/", seed.UNKNOWN_KEY, "x"))
    assert_error(resp, 403, "InvalidAccessKeyId", AWSAccessKeyId=seed.UNKNOWN_KEY)


@pytest.mark.parametrize("version", ["v4", "v2"])
def test_inactive_key(server, version):
    signer = sign_v4 if version == "v4" else sign_v2
    resp = _get(server, signer("GET", server.url + "/", seed.INACTIVE_KEY, seed.INACTIVE_SECRET))
    assert_error(resp, 403, "InvalidAccessKeyId", AWSAccessKeyId=seed.INACTIVE_KEY)


def test_bad_signature_v4(server):
    headers = _v4(server, secret="definitely-not-the-secret")
    resp = _get(server, headers)
    err = assert_error(resp, 403, "SignatureDoesNotMatch", AWSAccessKeyId=seed.ROOT_KEY)
    provided = dict(headers)["Authorization"].rsplit("Signature=", 1)[1]
    assert err["SignatureProvided"] == provided
    amz_date = dict(headers)["X-Amz-Date"]
    sts = err["StringToSign"].split("\n")
    assert sts[:3] == ["AWS4-HMAC-SHA256", amz_date, f"{amz_date[:8]}/us-east-1/s3/aws4_request"]
    creq = err["CanonicalRequest"].split("\n")
    assert creq[0] == "GET" and creq[1] == "/" and creq[2] == ""
    assert f"host:{server.netloc}" in creq
    assert creq[-1] == rawhttp.EMPTY_SHA256
    import hashlib
    assert sts[3] == hashlib.sha256(err["CanonicalRequest"].encode()).hexdigest()
    if "StringToSignBytes" in err:
        assert bytes.fromhex(err["StringToSignBytes"].replace(" ", "")) == \
            err["StringToSign"].encode()
    assert seed.ROOT_SECRET.encode() not in resp.body


def test_bad_signature_v2(server):
    headers = sign_v2("GET", server.url + "/", seed.ROOT_KEY, "not-the-secret")
    resp = _get(server, headers)
    err = assert_error(resp, 403, "SignatureDoesNotMatch", AWSAccessKeyId=seed.ROOT_KEY)
    date = dict(headers)["Date"]
    assert err["StringToSign"] == f"GET\n\n\n{date}\n/"
    assert err.get("SignatureProvided") == dict(headers)["Authorization"].split(":", 1)[1]


def test_malformed_v4_header(server):
    headers = _v4(server)
    auth = dict(headers)["Authorization"]
    bad = auth.replace("/us-east-1/s3/aws4_request", "/us-east-1/s3")
    assert bad != auth
    assert_error(_get(server, _replace(headers, "Authorization", bad)), 400,
                 "AuthorizationHeaderMalformed")


def test_v4_header_missing_signature_component(server):
    headers = _v4(server)
    auth = dict(headers)["Authorization"].split(", Signature=")[0]
    assert_error(_get(server, _replace(headers, "Authorization", auth)), 400,
                 "AuthorizationHeaderMalformed")


def test_wrong_region(server):
    resp = _get(server, _v4(server, region="eu-west-1"))
    err = assert_error(resp, 400, "AuthorizationHeaderMalformed", Region="us-east-1")
    assert "eu-west-1" in err["Message"]


@pytest.mark.parametrize("expires", ["0", "604801"])
def test_presigned_v4_expires_out_of_range(server, expires):
    url = rawhttp.presign_v4(server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET, expires=300)
    url = url.replace("X-Amz-Expires=300", f"X-Amz-Expires={expires}")
    resp = _get(server, [("Host", server.netloc)], target=rawhttp.target_of(url))
    assert_error(resp, 400, "AuthorizationQueryParametersError")


def test_presigned_v4_max_expires_accepted(server):
    url = rawhttp.presign_v4(server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET, expires=604800)
    resp = _get(server, [("Host", server.netloc)], target=rawhttp.target_of(url))
    assert resp.status == 200, resp.body


def test_presigned_v4_over_raw_http_with_wrong_region(server):
    url = rawhttp.presign_v4(server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET,
                             region="ap-south-1")
    resp = _get(server, [("Host", server.netloc)], target=rawhttp.target_of(url))
    assert_error(resp, 400, "AuthorizationQueryParametersError", Region="us-east-1")


def test_header_and_query_auth_together(server):
    url = rawhttp.presign_v4(server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET)
    headers = _v4(server)
    resp = _get(server, headers, target=rawhttp.target_of(url))
    err = assert_error(resp, 400, "InvalidArgument")
    assert err.get("ArgumentName") == "Authorization", err


def test_header_v4_and_query_v2_together(server):
    url = rawhttp.presign_v2(server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET)
    resp = _get(server, _v4(server), target=rawhttp.target_of(url))
    assert_error(resp, 400, "InvalidArgument")


def test_unsupported_auth_scheme(server):
    resp = _get(server, [("Host", server.netloc), ("Authorization", "Bearer x")])
    err = assert_error(resp, 400, "InvalidArgument")
    assert err.get("ArgumentName") == "Authorization", err
    assert err.get("ArgumentValue") == "Bearer x", err


def test_missing_content_sha256(server):
    headers = _replace(_v4(server), "X-Amz-Content-SHA256", None)
    assert_error(_get(server, headers), 400, "InvalidRequest")


def test_bad_content_sha256_value(server):
    headers = _replace(_v4(server), "X-Amz-Content-SHA256", "not-a-hash")
    err = assert_error(_get(server, headers), 400, "InvalidArgument")
    assert err.get("ArgumentName") == "x-amz-content-sha256"


def test_unsigned_amz_header(server):
    headers = _v4(server) + [("x-amz-meta-sneaky", "1")]
    assert_error(_get(server, headers), 403, "AccessDenied", HeadersNotSigned="x-amz-meta-sneaky")


def test_signed_extra_amz_header_is_fine(server):
    resp = _get(server, _v4(server, headers=[("x-amz-meta-fine", "1")]))
    assert resp.status == 200, resp.body


@pytest.mark.parametrize("minutes", [-20, 20])
def test_request_time_too_skewed_v4(server, minutes):
    when = datetime.now(timezone.utc) + timedelta(minutes=minutes)
    headers = _v4(server, when=when)
    err = assert_error(_get(server, headers), 403, "RequestTimeTooSkewed",
                       MaxAllowedSkewMilliseconds=seed.EXPECTED_SKEW_MS)
    assert err["RequestTime"] == dict(headers)["X-Amz-Date"]
    server_time = datetime.strptime(err["ServerTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc)
    assert abs((server_time - datetime.now(timezone.utc)).total_seconds()) < 30


def test_request_time_too_skewed_v2(server):
    when = datetime.now(timezone.utc) - timedelta(minutes=20)
    headers = sign_v2("GET", server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET, when=when)
    err = assert_error(_get(server, headers), 403, "RequestTimeTooSkewed",
                       MaxAllowedSkewMilliseconds=seed.EXPECTED_SKEW_MS)
    assert err["RequestTime"] == dict(headers)["Date"]
    assert err["ServerTime"]


def test_skew_within_limit_accepted(server):
    when = datetime.now(timezone.utc) - timedelta(minutes=10)
    resp = _get(server, _v4(server, when=when))
    assert resp.status == 200, resp.body


def test_no_date_v2(server):
    headers = _replace(sign_v2("GET", server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET),
                       "Date", None)
    assert_error(_get(server, headers), 403, "AccessDenied")


# -- request errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "10001", "abc", "-1"])
def test_bad_max_buckets(server, value):
    target = f"/?max-buckets={quote(value)}"
    resp = _get(server, _v4(server, target=target), target=target)
    assert_error(resp, 400, "InvalidArgument", ArgumentName="max-buckets", ArgumentValue=value)


def test_bad_continuation_token(server):
    target = "/?continuation-token=bm90LWEtdG9rZW4"
    resp = _get(server, _v4(server, target=target), target=target)
    assert_error(resp, 400, "InvalidArgument", ArgumentName="continuation-token",
                 ArgumentValue="bm90LWEtdG9rZW4")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_method_not_allowed(server, method):
    headers = sign_v4(method, server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET)
    resp = _get(server, headers, method=method)
    assert_error(resp, 405, "MethodNotAllowed", Method=method, ResourceType="SERVICE")
    assert resp.header("Allow")


def test_method_not_allowed_anonymous(server):
    resp = _get(server, [("Host", server.netloc), ("Content-Length", "0")], method="PUT")
    assert_error(resp, 405, "MethodNotAllowed", Method="PUT", ResourceType="SERVICE")


def test_head_service_has_no_body(server):
    headers = sign_v4("HEAD", server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET)
    resp = _get(server, headers, method="HEAD")
    assert resp.status == 405
    assert resp.body == b""
    check_common_headers(resp)
    assert resp.header("Content-Type") == "application/xml"


def test_non_ascii_access_key_is_echoed_as_sent(server):
    # The header arrives as UTF-8 bytes; the error must name the key the
    # client sent ("AKIAü"), not its bytes re-read as latin-1 ("AKIAÃ¼").
    key = "AKIAü"
    headers = [(k, v.replace(seed.ROOT_KEY, key).encode("utf-8") if k == "Authorization" else v)
               for k, v in _v4(server)]
    resp = _get(server, headers)
    assert_error(resp, 403, "InvalidAccessKeyId", AWSAccessKeyId=key)


def test_non_ascii_unsupported_scheme_is_echoed_as_sent(server):
    value = "Bearer ünïcødé"
    resp = _get(server, [("Host", server.netloc), ("Authorization", value.encode("utf-8"))])
    assert_error(resp, 400, "InvalidArgument", ArgumentName="Authorization", ArgumentValue=value)
