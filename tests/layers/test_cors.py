"""The CORS layer alone: preflights from the bucket's rules, headers on cross-origin answers."""
from __future__ import annotations

import pytest
from defusedxml.ElementTree import fromstring

from s3service.backends.memory import MemoryBackend
from s3service.cors import CORSConfiguration, CORSRule
from s3service.hosts import ServiceHosts
from s3service.layers.cors import CORSLayer
from tests.helpers.wsgi import call

from .test_layers import ACCOUNT, Recorder, store

ORIGIN = "https://app.example"
RULES = CORSConfiguration((
    CORSRule(allowed_methods=("GET", "PUT"), allowed_origins=(ORIGIN,),
             allowed_headers=("content-type", "x-amz-*"), expose_headers=("ETag",),
             max_age_seconds=600),
))


def environ(method="OPTIONS", path="/photos/key", host="s3.example.com", **headers):
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "HTTP_HOST": host, "QUERY_STRING": "",
           "wsgi.url_scheme": "http"}
    env.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    return env


@pytest.fixture
def layer():
    made = store()
    made.put_bucket_cors("photos", RULES)
    made.add_bucket(ACCOUNT, "plain")
    app = Recorder()
    return CORSLayer(app, made, ServiceHosts(["s3.example.com"])), app


def error(body: bytes) -> tuple[str, str]:
    root = fromstring(body)
    return root.findtext("Code"), root.findtext("Message")


@pytest.mark.parametrize("host, path", [("s3.example.com", "/photos/a/b.txt"),
                                        ("photos.s3.example.com", "/a/b.txt"),
                                        ("photos.s3.example.com", "/")])
def test_preflight_allowed_in_both_addressing_styles(layer, host, path):
    cors, app = layer
    status, headers, body = call(cors, environ(
        path=path, host=host, origin=ORIGIN, access_control_request_method="PUT",
        access_control_request_headers="Content-Type, X-Amz-Date"))
    assert status == "200 OK" and body == b"" and app.seen == []
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert headers["Access-Control-Allow-Methods"] == "GET, PUT"
    assert headers["Access-Control-Allow-Headers"] == "Content-Type, X-Amz-Date"
    assert headers["Access-Control-Expose-Headers"] == "ETag"
    assert headers["Access-Control-Max-Age"] == "600"
    assert headers["Vary"].startswith("Origin")
    assert headers["x-amz-request-id"]


@pytest.mark.parametrize("headers, expected", [
    ({}, ("BadRequest", "Insufficient information. Origin request header needed.")),
    ({"origin": ORIGIN}, ("BadRequest", "Invalid Access-Control-Request-Method: null")),
])
def test_malformed_preflight_is_400(layer, headers, expected):
    cors, app = layer
    status, _, body = call(cors, environ(**headers))
    assert (status, error(body)) == ("400 Bad Request", expected) and app.seen == []


@pytest.mark.parametrize("path, headers, message", [
    ("/plain/k", {"origin": ORIGIN, "access_control_request_method": "GET"},
     "CORS is not enabled for this bucket."),
    ("/nosuch/k", {"origin": ORIGIN, "access_control_request_method": "GET"},
     "CORS is not enabled for this bucket."),
    ("/photos/k", {"origin": "https://evil.example", "access_control_request_method": "GET"},
     None),
    ("/photos/k", {"origin": ORIGIN, "access_control_request_method": "DELETE"}, None),
    ("/photos/k", {"origin": ORIGIN, "access_control_request_method": "PUT",
                   "access_control_request_headers": "authorization"}, None),
])
def test_refused_preflight_is_403_cors_response(layer, path, headers, message):
    cors, app = layer
    status, answered, body = call(cors, environ(path=path, **headers))
    code, text = error(body)
    assert (status, code) == ("403 Forbidden", "CORSResponse") and app.seen == []
    assert text == message or (message is None and text.startswith("This CORS request is not"))
    assert "Access-Control-Allow-Origin" not in answered


def test_cross_origin_answer_gets_the_headers(layer):
    cors, app = layer
    status, headers, body = call(cors, environ("GET", origin=ORIGIN))
    assert (status, body, len(app.seen)) == ("200 OK", b"app", 1)
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Access-Control-Expose-Headers"] == "ETag"
    assert headers["Content-Type"] == "text/plain"
    assert app.seen[0]["s3service.request_id"]


@pytest.mark.parametrize("method, origin", [("DELETE", ORIGIN), ("GET", "https://evil")])
def test_cross_origin_not_allowed_passes_without_headers(layer, method, origin):
    cors, app = layer
    status, headers, _ = call(cors, environ(method, origin=origin))
    assert status == "200 OK" and len(app.seen) == 1
    assert not any(name.startswith("Access-Control") for name in headers)


def test_requests_without_origin_never_ask_the_store():
    class Refusing(MemoryBackend):
        def bucket_cors(self, bucket):
            raise AssertionError("asked")

    app = Recorder()
    cors = CORSLayer(app, Refusing(), ServiceHosts(["s3.example.com"]))
    assert call(cors, environ("GET"))[0] == "200 OK"
    assert call(cors, environ("PUT", path="/photos"))[0] == "200 OK"


def test_a_request_naming_its_method_is_matched_by_it(layer):
    """As s3-tests expect: Access-Control-Request-Method on a request chooses the rule."""
    cors, _ = layer
    _, headers, _ = call(cors, environ("DELETE", origin=ORIGIN,
                                       access_control_request_method="GET"))
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
