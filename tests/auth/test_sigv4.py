"""The SigV4 building blocks against what real botocore computes and sends."""
from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import quote

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import event, given, settings
from hypothesis import strategies as st

from s3service.auth import sigv4
from s3service.auth.common import auth_params, parse_expires
from s3service.backends.memory import MemoryBackend
from s3service.wsgi import parse_query, request_path, wire_text

from tests.helpers.signing import environ_from_request, frozen_time

AK, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AT = 1_369_353_600.0  # 2013-05-24T00:00:00Z, the date of AWS's published examples
_STORE = MemoryBackend()
_STORE.add_account("a" * 64, display_name="Owner")
_STORE.add_key("a" * 64, AK, SECRET)


class _Recording:
    """Mixed into botocore's signers: remember the canonical request and string to sign."""

    def canonical_request(self, request):
        self.recorded_creq = super().canonical_request(request)
        return self.recorded_creq

    def string_to_sign(self, request, canonical_request):
        self.recorded_sts = super().string_to_sign(request, canonical_request)
        return self.recorded_sts


class RecordingSigV4(_Recording, botocore.auth.S3SigV4Auth):
    """botocore's header signer, recording."""


class RecordingSigV4Query(_Recording, botocore.auth.S3SigV4QueryAuth):
    """botocore's presigned-URL signer, recording."""


def sign(method, url, *, headers=None, body=b"", token=None, presign=False, region="us-east-1"):
    creds = Credentials(AK, SECRET, token)
    signer = (RecordingSigV4Query(creds, "s3", region, expires=3600) if presign
              else RecordingSigV4(creds, "s3", region))
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=body)
    with frozen_time(AT):
        signer.add_auth(request)
    return signer, environ_from_request(method, request.url, request.headers, body)


def ours(environ, signed_headers, payload_hash, *, presigned=False):
    """Our canonical request for a WSGI environ, as the verifier builds it."""
    pairs = parse_query(environ["QUERY_STRING"])
    if presigned:
        pairs = [p for p in pairs if p[0] != "X-Amz-Signature"]
    headers = {}
    for name in signed_headers:
        if name == "host":
            headers[name] = wire_text(environ["HTTP_HOST"])
        else:
            key = ("CONTENT_TYPE" if name == "content-type" else
                   "HTTP_" + name.upper().replace("-", "_"))
            headers[name] = wire_text(environ[key])
    return sigv4.canonical_request(environ["REQUEST_METHOD"], request_path(environ), pairs,
                                   headers, signed_headers, payload_hash)


def header_parts(environ):
    auth = environ["HTTP_AUTHORIZATION"]
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    return fields["SignedHeaders"].split(";"), fields["Signature"]


URLS = [
    "http://s3.example.com/bucket/key",
    "http://s3.example.com/",
    "http://s3.example.com/bucket/with%20space/and~tilde",
    "http://s3.example.com/bucket/caf%C3%A9/%E2%82%AC%F0%9F%98%80",
    "http://s3.example.com/bucket/%21%27%28%29%2A%2B%2C%3A%3B%3D%40%24%26",
    "http://s3.example.com/bucket/a//b/./c/../d",
    "http://s3.example.com/bucket?list-type=2&prefix=a%20b%2Fc&delimiter=%2F",
    "http://s3.example.com/bucket/key?versionId=3%2B4&acl=&tagging",
    "http://s3.example.com/bucket?z=1&a=2&a=1&A=0&a=",
    "http://s3.example.com/bucket?prefix=%E2%82%AC~%2A&encoding-type=url",
    "http://s3.example.com:8080/bucket/key",
    "http://bucket.s3.example.com/key%20with%20space",
]


@pytest.mark.parametrize("url", URLS)
def test_canonical_request_matches_botocore(url):
    signer, environ = sign("GET", url)
    signed, provided = header_parts(environ)
    creq = ours(environ, signed, environ["HTTP_X_AMZ_CONTENT_SHA256"])
    assert creq == signer.recorded_creq
    scope = "20130524/us-east-1/s3/aws4_request"
    sts = sigv4.string_to_sign(environ["HTTP_X_AMZ_DATE"], scope, creq)
    assert sts == signer.recorded_sts
    key = sigv4.signing_key(SECRET, "20130524", "us-east-1", "s3")
    assert sigv4.signature(key, sts) == provided


@pytest.mark.parametrize("url", URLS)
def test_presigned_canonical_request_matches_botocore(url):
    signer, environ = sign("GET", url, presign=True, token="session/token+=")
    pairs = dict(parse_query(environ["QUERY_STRING"]))
    signed = pairs["X-Amz-SignedHeaders"].split(";")
    creq = ours(environ, signed, sigv4.UNSIGNED_PAYLOAD, presigned=True)
    assert creq == signer.recorded_creq
    sts = sigv4.string_to_sign(pairs["X-Amz-Date"], pairs["X-Amz-Credential"].split("/", 1)[1],
                               creq)
    assert sts == signer.recorded_sts
    key = sigv4.signing_key(SECRET, "20130524", "us-east-1", "s3")
    assert sigv4.signature(key, sts) == pairs["X-Amz-Signature"]


def test_signed_headers_with_unicode_spaces_and_tokens():
    headers = {"x-amz-meta-name": "  caf\u00e9   au  lait ", "Content-Type": "text/plain",
               "x-amz-meta-empty": ""}
    signer, environ = sign("PUT", "http://s3.example.com/bucket/k", headers=headers,
                           body=b"hello", token="tok")
    signed, provided = header_parts(environ)
    assert "x-amz-security-token" in signed and "content-type" in signed
    creq = ours(environ, signed, environ["HTTP_X_AMZ_CONTENT_SHA256"])
    assert creq == signer.recorded_creq
    assert "x-amz-meta-name:caf\u00e9 au lait\n" in creq
    assert environ["HTTP_X_AMZ_CONTENT_SHA256"] == hashlib.sha256(b"hello").hexdigest()


def test_aws_documented_example():
    # GET Object example from the S3 SigV4 documentation (header form).
    headers = {"host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9",
               "x-amz-content-sha256": hashlib.sha256(b"").hexdigest(),
               "x-amz-date": "20130524T000000Z"}
    signed = sorted(headers)
    creq = sigv4.canonical_request("GET", "/test.txt", [], headers, signed,
                                   headers["x-amz-content-sha256"])
    sts = sigv4.string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", creq)
    key = sigv4.signing_key(SECRET, "20130524", "us-east-1", "s3")
    assert sigv4.signature(key, sts) == (
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


def test_signing_key_derivation_and_cache():
    def h(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()
    expected = h(h(h(h(b"AWS4secret", "20240102"), "eu-west-1"), "s3"), "aws4_request")
    sigv4.signing_key.cache_clear()
    assert sigv4.signing_key("secret", "20240102", "eu-west-1", "s3") == expected
    assert sigv4.signing_key("secret", "20240102", "eu-west-1", "s3") == expected
    assert sigv4.signing_key.cache_info().hits == 1
    assert sigv4.signing_key("secret", "20240103", "eu-west-1", "s3") != expected


def test_canonical_query_encoding_and_order():
    pairs = [("b", "2"), ("a", "z"), ("a", "y"), ("sp ace", "x/y+z~"), ("e", ""), ("\u20ac", "=")]
    assert sigv4.canonical_query(pairs) == (
        "%E2%82%AC=%3D&a=y&a=z&b=2&e=&sp%20ace=x%2Fy%2Bz~")
    assert sigv4.canonical_query([]) == ""


def test_canonical_request_trims_headers_and_keeps_path_slashes():
    creq = sigv4.canonical_request("GET", "/b/a b//c", [("acl", "")],
                                   {"host": "h", "x-amz-date": "  1   2  "},
                                   ["host", "x-amz-date", "x-amz-missing"], "UNSIGNED-PAYLOAD")
    assert creq == ("GET\n/b/a%20b//c\nacl=\nhost:h\nx-amz-date:1 2\nx-amz-missing:\n\n"
                    "host;x-amz-date;x-amz-missing\nUNSIGNED-PAYLOAD")


_VALUE = st.text(alphabet=st.sampled_from(" \t\n\x0b\x1fa%s{},\u00a0\u2003\u00e9\u20ac"),
                 max_size=8)
_SEGMENT = st.text(alphabet=st.sampled_from("aZ9 %+=~*/\u00e9\u20ac"), max_size=6)


@settings(max_examples=300, deadline=None)
@given(headers=st.dictionaries(st.sampled_from(["host", "x-amz-meta-a", "x-amz-meta-%s", "a%sb",
                                                "x{0}", "%", "range", "content-type"]),
                               _VALUE, max_size=5),
       path=st.lists(_SEGMENT, max_size=3).map("/".join),
       query=st.lists(st.tuples(_SEGMENT, _SEGMENT), max_size=4),
       method=st.sampled_from(["GET", "PUT"]))
def test_canonical_request_is_botocores(headers, path, query, method):
    """Any request botocore signs: our canonical request is the one it signed, and the
    verifier, which builds its own from the environ, accepts the signature."""
    url = "http://s3.example.com/" + quote(path, safe="/")
    if query:
        url += "?" + "&".join(f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in query)
    signer, environ = sign(method, url, headers=headers)
    signed, _ = header_parts(environ)
    event(f"signed headers: {len(signed)}")
    assert ours(environ, signed, environ["HTTP_X_AMZ_CONTENT_SHA256"]) == signer.recorded_creq
    identity, _ = sigv4.verify_header(environ, environ["HTTP_AUTHORIZATION"],
                                   parse_query(environ["QUERY_STRING"]), _STORE,
                                   region="us-east-1", now=AT, max_skew=900)
    assert identity.access_key == AK


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(st.text(alphabet=st.sampled_from("0aF9gG \u00e9\u0660x"), min_size=62,
                              max_size=66),
                      st.text(alphabet=st.sampled_from("0123456789abcdefABCDEF"), min_size=63,
                              max_size=65),
                      st.text()))
def test_hex64_check_is_the_regex(text):
    assert sigv4._is_hex64(text) == bool(re.fullmatch(r"[0-9a-fA-F]{64}", text, re.ASCII))


def test_raw_non_utf8_path_bytes_survive():
    environ = {"PATH_INFO": "/b/\xff\xfe", "SCRIPT_NAME": ""}
    creq = sigv4.canonical_request("GET", request_path(environ), [], {}, [], "x")
    assert creq.split("\n")[1] == "/b/%FF%FE"


def test_without_token_blanks_only_the_token():
    from s3service.auth.common import without_token

    creq = ("GET\n/\nX-Amz-Date=1&X-Amz-Security-Token=abc%2Fdef&x=X-Amz-Security-Token\n"
            "host:h\nx-amz-security-token:abc/def\n\nhost;x-amz-security-token\nUNSIGNED-PAYLOAD")
    shown = without_token(creq)
    assert "abc" not in shown
    assert shown == ("GET\n/\nX-Amz-Date=1&X-Amz-Security-Token=<redacted>&x=X-Amz-Security-Token\n"
                     "host:h\nx-amz-security-token:<redacted>\n\nhost;x-amz-security-token\n"
                     "UNSIGNED-PAYLOAD")


@pytest.mark.parametrize("secret", [SECRET, "", "x" * 200, "s\u00e9cret"])
@pytest.mark.parametrize("text", ["", "AWS4-HMAC-SHA256\n20130524T000000Z\nscope\n" + "a" * 64,
                                  "\u00e9\udcff" * 100])
def test_signature_is_hmac_sha256(secret, text):
    """The signature is HMAC-SHA256 under the derived key."""
    key = sigv4.signing_key(secret, "20130524", "us-east-1", "s3")
    expected = hmac.new(key, text.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()
    assert sigv4.signature(key, text) == expected


_PART = st.text(alphabet=st.sampled_from("aZ09/=,; -_.\t\u00e9"), min_size=0, max_size=12)


def _mostly(*usual):
    """One of the usual values nine times in ten, else any short text."""
    return st.integers(0, 9).flatmap(lambda i: _PART if i == 0 else st.sampled_from(usual))


# How every SDK writes the header: what the parser must read, spelled as a regular expression.
_SDK_FORM = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([!-+\--.0-~]+)/([0-9]{8})/us-east-1/s3/aws4_request, ?"
    r"SignedHeaders=([!-+\--~]+), ?Signature=([0-9a-fA-F]{64})", re.ASCII)


@settings(max_examples=1000, deadline=None)
@given(key=_mostly("AKID", "AK=ID", "a.b-c"), date=_mostly("20130524"),
       region=_mostly("us-east-1"), service=_mostly("s3"), terminal=_mostly("aws4_request"),
       signed=_mostly("host;x-amz-date", "host", "host;x-amz-date=1"),
       signature=_mostly("a" * 64, "0123456789abcdef" * 4, "A" * 64, "a" * 63 + "Signature="),
       separators=st.tuples(*[st.sampled_from([", ", ",", ", ", ",", " ,", ",  "])] * 2),
       order=st.permutations(range(3)))
def test_authorization_header_fields(key, date, region, service, terminal, signed, signature,
                                     separators, order):
    """The header is read as the fields it holds, in any order; the SDK form always is."""
    fields = [f"Credential={key}/{date}/{region}/{service}/{terminal}",
              f"SignedHeaders={signed}", f"Signature={signature}"]
    fields = [fields[i] for i in order]
    header = (f"AWS4-HMAC-SHA256 {fields[0]}{separators[0]}{fields[1]}{separators[1]}"
              f"{fields[2]}")
    try:
        got = sigv4._parse_authorization(header, "us-east-1")
    except sigv4.AuthorizationHeaderMalformed:
        got = None
    sdk = _SDK_FORM.fullmatch(header)
    event(f"SDK form: {sdk is not None}; accepted: {got is not None}")
    if sdk is not None:
        assert got == (sdk[1], sdk[2], sdk[3].split(";"), sdk[4])
    if got is not None:  # (whitespace around a comma-separated part is no value's)
        assert got == (key, date, signed.rstrip().split(";"), signature.rstrip())
        assert (region, service, terminal.rstrip()) == ("us-east-1", "s3", "aws4_request")


def test_expires_and_auth_params_helpers():
    assert [parse_expires(t) for t in ["3600", "-1", "0", "9" * 18, "9" * 19, "", "-", "+1",
                                       " 1", "1.5", "\u0663"]] == [
        3600, -1, 0, int("9" * 18), None, None, None, None, None, None, None]

    def duplicate(name):
        return sigv4.InvalidArgument(f"two {name}")

    pairs = [("a", "1"), ("x", "2"), ("b", ""), ("x", "3")]
    assert auth_params(pairs, {"a", "b"}, duplicate) == {"a": "1", "b": ""}
    with pytest.raises(sigv4.InvalidArgument, match="two x"):
        auth_params(pairs, {"a", "x"}, duplicate)
