"""The one envelope every answer goes through: ids, common headers, errors, the log line."""
from __future__ import annotations

import logging
import re

import webtest

from s3service.backends.base import BackendUnavailable
from s3service.envelope import IDENTITY_KEY, REQUEST_ID_KEY, Exchange, Reply, answer
from s3service.errors import MethodNotAllowed, NoSuchBucket
from s3service.identity import Identity

COMMON = ("x-amz-request-id", "x-amz-id-2", "Date", "Server")


def app_of(handler, **options):
    return webtest.TestApp(lambda environ, start_response:
                           answer(environ, start_response, handler, **options))


def test_a_response_gets_the_common_headers_and_its_length():
    app = app_of(lambda exchange: Reply("200 OK", [("Content-Type", "application/xml")], b"<x/>"))
    resp = app.get("/")
    assert [name for name, _ in resp.headerlist] == [*COMMON, "Content-Type", "Content-Length"]
    assert resp.headers["Content-Length"] == "4" and resp.body == b"<x/>"
    assert len(resp.headers["x-amz-request-id"]) == 16


def test_head_sends_the_headers_without_the_body():
    closed = []

    class Body(list):
        def close(self):
            closed.append(True)

    app = app_of(lambda exchange: Reply("200 OK", [("Content-Type", "text/plain"),
                                                   ("Content-Length", "3")], Body([b"abc"])))
    resp = app.head("/")
    assert resp.body == b"" and resp.headers["Content-Length"] == "3"
    assert closed == [True]


def test_a_location_is_sent_as_it_is():
    app = app_of(lambda exchange: Reply("200 OK", [("Location", "/bucket"),
                                                   ("Content-Type", "text/plain")], b""))
    assert app.put("/bucket").headers["Location"] == "/bucket"


def test_errors_are_s3_xml_with_the_request_id():
    def handler(exchange):
        raise NoSuchBucket(BucketName="photos")

    resp = app_of(handler).get("/photos", status=404)
    assert resp.content_type == "application/xml"
    assert b"<Code>NoSuchBucket</Code><Message>" in resp.body
    assert b"<BucketName>photos</BucketName>" in resp.body
    assert f"<RequestId>{resp.headers['x-amz-request-id']}</RequestId>".encode() in resp.body


def test_405_says_what_is_allowed():
    def handler(exchange):
        raise MethodNotAllowed(method="BREW", resource_type="SERVICE")

    assert app_of(handler).delete("/", status=405).headers["Allow"] == "GET, POST"


def test_store_faults_are_503_and_500_without_their_text(caplog):
    def unavailable(exchange):
        raise BackendUnavailable("database at secret-host unavailable")

    def broken(exchange):
        raise RuntimeError("password=hunter2")

    with caplog.at_level(logging.WARNING, logger="s3service"):
        first = app_of(unavailable).get("/", status=503)
        second = app_of(broken).get("/", status=500)
    assert b"secret-host" not in first.body and b"hunter2" not in second.body
    assert b"<Code>ServiceUnavailable</Code>" in first.body
    assert b"<Code>InternalError</Code>" in second.body
    assert any(second.headers["x-amz-request-id"] in r.getMessage() and r.exc_info
               for r in caplog.records)


def test_a_request_id_given_in_front_is_kept_and_the_identity_logged(caplog):
    identity = Identity(account_id="a" * 64, display_name="t", access_key="AKIDFRONT")
    app = app_of(lambda exchange: Reply("204 No Content", [], b""))
    with caplog.at_level(logging.INFO, logger="s3service"):
        resp = app.delete("/b", extra_environ={REQUEST_ID_KEY: "0123456789ABCDEF",
                                               IDENTITY_KEY: identity}, status=204)
    assert resp.headers["x-amz-request-id"] == "0123456789ABCDEF"
    lines = [r.getMessage() for r in caplog.records if r.name == "s3service"]
    assert len(lines) == 1
    assert re.fullmatch(r"0123456789ABCDEF DELETE /b - 204 \d+\.\d\dms - AKIDFRONT", lines[0])


def test_the_key_of_a_failed_signature_is_logged(caplog):
    from s3service.errors import SignatureDoesNotMatch

    def handler(exchange):
        raise SignatureDoesNotMatch(access_key="AKIDWRONG", string_to_sign="", provided="")

    with caplog.at_level(logging.INFO, logger="s3service"):
        app_of(handler).get("/", status=403)
    line = [r.getMessage() for r in caplog.records if r.name == "s3service"][0]
    assert re.search(r" GET / - 403 \d+\.\d\dms SignatureDoesNotMatch AKIDWRONG$", line), line


def test_another_app_answers_for_itself():
    seen = {}

    def inner(environ, start_response):
        seen["id"] = environ.get(REQUEST_ID_KEY)
        start_response("202 Accepted", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    def handler(exchange: Exchange):
        exchange.environ[REQUEST_ID_KEY] = exchange.request_id
        return inner

    resp = app_of(handler).get("/", status=202)
    assert resp.body == b"ok" and "x-amz-request-id" not in resp.headers
    assert len(seen["id"]) == 16
