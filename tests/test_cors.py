"""CORS rules and their XML (:mod:`s3service.cors`): S3's validation, matching, headers."""
from __future__ import annotations

import pytest

from s3service.cors import CORSConfiguration, CORSRule, parse_cors, render_cors, require_integrity
from s3service.cors.rules import actual_headers, preflight_headers, wildcard_match
from s3service.errors import S3Error

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def doc(*rules: str) -> bytes:
    return (f"<CORSConfiguration {NS}>" + "".join(f"<CORSRule>{r}</CORSRule>" for r in rules)
            + "</CORSConfiguration>").encode()


GOOD = ("<ID>web</ID><AllowedHeader>*</AllowedHeader><AllowedMethod>PUT</AllowedMethod>"
        "<AllowedMethod>GET</AllowedMethod><AllowedOrigin>https://*.example.com</AllowedOrigin>"
        "<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds>")


def refused(body: bytes) -> S3Error:
    with pytest.raises(S3Error) as info:
        parse_cors(body)
    return info.value


def test_parse_and_render_round_trip():
    parsed = parse_cors(doc(GOOD, "<AllowedMethod>HEAD</AllowedMethod>"
                                  "<AllowedOrigin>*</AllowedOrigin>"))
    assert parsed.rules[0] == CORSRule(
        allowed_methods=("PUT", "GET"), allowed_origins=("https://*.example.com",),
        allowed_headers=("*",), expose_headers=("ETag",), max_age_seconds=3000, id="web")
    assert parsed.rules[1] == CORSRule(allowed_methods=("HEAD",), allowed_origins=("*",))
    assert parse_cors(render_cors(parsed)) == parsed
    assert CORSConfiguration.from_json(parsed.to_json()) == parsed


@pytest.mark.parametrize("body", [
    b"", b"not xml", b"<CORSConfiguration/>",                      # no rule
    doc("<AllowedOrigin>*</AllowedOrigin>"),                        # no method
    doc("<AllowedMethod>GET</AllowedMethod>"),                      # no origin
    doc(GOOD + "<Unknown>x</Unknown>"),
    doc(GOOD + "<MaxAgeSeconds>1</MaxAgeSeconds>"),                 # twice
    doc(GOOD.replace("3000", "soon")),
    b"<Other><CORSRule/></Other>",
    b'<!DOCTYPE x [<!ENTITY a "b">]><CORSConfiguration/>',
    doc(*[GOOD] * 101),
])
def test_malformed_xml(body):
    error = refused(body)
    assert (error.status, error.code) == (400, "MalformedXML")


@pytest.mark.parametrize("rule, message", [
    ("<AllowedMethod>PATCH</AllowedMethod><AllowedOrigin>*</AllowedOrigin>",
     "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
    ("<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*.*.com</AllowedOrigin>",
     'AllowedOrigin "*.*.com" can not have more than one wildcard.'),
    ("<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>"
     "<AllowedHeader>x-*-*</AllowedHeader>",
     'AllowedHeader "x-*-*" can not have more than one wildcard.'),
    ("<ID>" + "i" * 256 + "</ID><AllowedMethod>GET</AllowedMethod>"
     "<AllowedOrigin>*</AllowedOrigin>",
     "ID length should not exceed allowed limit of 255"),
])
def test_invalid_request(rule, message):
    error = refused(doc(rule))
    assert (error.status, error.code, error.text) == (400, "InvalidRequest", message)


def test_a_digest_is_required():
    for environ in ({"HTTP_CONTENT_MD5": "x"}, {"HTTP_X_AMZ_CHECKSUM_CRC32": "x"},
                    {"HTTP_X_AMZ_TRAILER": "x-amz-checksum-crc32"}):
        require_integrity(environ)
    with pytest.raises(S3Error) as info:
        require_integrity({"HTTP_X_AMZ_CONTENT_SHA256": "UNSIGNED-PAYLOAD"})
    assert info.value.code == "InvalidRequest"


@pytest.mark.parametrize("pattern, text, expected", [
    ("*", "anything", True), ("https://*.example.com", "https://a.example.com", True),
    ("https://*.example.com", "https://example.com", False), ("a*a", "a", False),
    ("exact", "exact", True), ("exact", "Exact", False), ("x-amz-*", "x-amz-date", True),
])
def test_wildcard(pattern, text, expected):
    assert wildcard_match(pattern, text) is expected


def test_first_matching_rule_wins_and_headers_must_all_match():
    config = parse_cors(doc(
        "<AllowedMethod>PUT</AllowedMethod><AllowedOrigin>https://app.example</AllowedOrigin>"
        "<AllowedHeader>Content-*</AllowedHeader><AllowedHeader>x-amz-*</AllowedHeader>"
        "<MaxAgeSeconds>60</MaxAgeSeconds>",
        "<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>"
        "<AllowedOrigin>*</AllowedOrigin>"))
    first, second = config.rules
    assert config.match("https://app.example", "PUT", ["content-type", "X-Amz-Date"]) == (
        first, "https://app.example")
    assert config.match("https://app.example", "PUT", ["authorization"]) is None
    assert config.match("https://other", "PUT") == (second, "*")
    assert config.match("https://other", "DELETE") is None
    assert dict(preflight_headers(first, "https://app.example", "https://app.example",
                                  ["content-type"])) == {
        "Access-Control-Allow-Origin": "https://app.example",
        "Access-Control-Allow-Methods": "PUT", "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Headers": "content-type", "Access-Control-Max-Age": "60",
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"}
    assert dict(actual_headers(second, "https://other", "*"))[
        "Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in dict(actual_headers(second, "o", "*"))
