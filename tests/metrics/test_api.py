"""ListMetrics end to end through webtest: traffic metered by the middleware, then queried
by a client signing the way UTAPI clients do (botocore's SigV4Auth, service "s3")."""
from __future__ import annotations

import io
import logging
import re
import json
import time

import pytest
import webtest

from s3service import S3ServiceMiddleware
from s3service.metrics import INTERVAL_MS, OPERATIONS, interval_start
from tests.helpers.signing import signed_headers
from tests.helpers.wsgi import call

ACCOUNT = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
KEY, SECRET = "AKIDMETRICS", "metrics-secret"
USER_KEY, USER_SECRET = "AKIDIAMUSER", "user-secret"
HOST = "localhost"

OBJECTS = {"/photos/a.jpg": b"a" * 1000, "/photos/b.jpg": b"b" * 2500}


def gateway(environ, start_response):
    """A storage gateway: stores PUT bodies, serves them back on GET."""
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    meter = environ.get("s3service.metrics")
    data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    if method == "PUT":
        if path.count("/") > 1 and not environ.get("QUERY_STRING") and meter is not None:
            meter.record_storage(len(data), 1)
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]
    if method == "GET" and path in OBJECTS:
        body = OBJECTS[path]
        start_response("200 OK", [("Content-Type", "image/jpeg"),
                                  ("Content-Length", str(len(body)))])
        # in two chunks, as a streaming gateway would
        return [body[:100], body[100:]]
    body = json.dumps({"gateway": method, "path": path}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [] if method == "HEAD" else [body]


SEED = {   # of the `store` fixture (conftest.py)
    "accounts": {ACCOUNT: "metrics"},
    "keys": [(ACCOUNT, KEY, SECRET), (ACCOUNT, USER_KEY, USER_SECRET, {"user": "alice"})],
    "buckets": [(ACCOUNT, "photos")],
}


@pytest.fixture
def middleware(store):
    return S3ServiceMiddleware(gateway, credentials=store, buckets=store, metrics=store,
                               metrics_flush_interval=None, metrics_admins=[ACCOUNT])


@pytest.fixture
def app(middleware):
    return webtest.TestApp(middleware)


def signed(method: str, path: str, body: bytes = b"", *, key: str = KEY, secret: str = SECRET,
           version: str = "v4-generic") -> tuple[str, dict[str, str]]:
    """Sign like a UTAPI client (or as ``version``); returns the path and the headers to send."""
    headers = dict(signed_headers(method, f"http://{HOST}{path}", key, secret, version=version,
                                  body=body,
                                  headers={"Content-Type": "application/json"} if body else {}))
    headers["Host"] = HOST
    return path, headers


def list_metrics(app, payload, *, action="ListMetrics", status=200, tamper=None, **sign):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    path, headers = signed("POST", f"/?Action={action}&Version=20160815", body, **sign)
    if tamper is not None:
        body = tamper
    response = app.request(path, method="POST", headers=headers, body=body, status=status)
    assert response.content_type == "application/json"
    assert response.headers["x-amz-request-id"]
    assert response.headers["x-amz-id-2"]
    return response


def current_range(pad: int = 4) -> list[int]:
    start = interval_start(int(time.time() * 1000)) - pad * INTERVAL_MS
    return [start, start + (2 * pad + 1) * INTERVAL_MS - 1]


def test_counts_and_bytes_of_a_known_mix(app):
    sent = 0
    responses = [
        app.put("/photos2", status=200),                                          # CreateBucket
        app.put("/photos/a.jpg", OBJECTS["/photos/a.jpg"], status=200),           # PutObject
        app.put("/photos/b.jpg", OBJECTS["/photos/b.jpg"], status=200),           # PutObject
        app.put("/photos/c.jpg?partNumber=1&uploadId=u1", b"p" * 500, status=200),  # UploadPart
        app.put("/photos/d.jpg", headers={"x-amz-copy-source": "/photos/a.jpg"}),  # CopyObject
        app.get("/photos/a.jpg", status=200),                                     # GetObject
        app.get("/photos/b.jpg", status=200),                                     # GetObject
        app.get("/photos/a.jpg", status=200),                                     # GetObject
        app.head("/photos/a.jpg", status=200),                                    # HeadObject
        app.get("/photos?list-type=2", status=200),                               # ListBucket
        app.get("/photos?location", status=200),                                  # GetBucketLocation
        app.delete("/photos/b.jpg", status=200),                                  # DeleteObject
        app.request("/photos?delete", method="POST", body=b"<Delete/>"),          # MultiObjectDelete
    ]
    path, headers = signed("GET", "/", version="v4")
    responses.append(app.get(path, headers=headers, status=200))                 # ListAllMyBuckets
    assert b"<Name>photos</Name>" in responses[-1].body
    sent = sum(len(r.body) for r in responses)
    assert responses[5].body == OBJECTS["/photos/a.jpg"]

    time_range = current_range()
    answer = list_metrics(app, {"timeRange": time_range, "service": ["s3"]}).json
    assert isinstance(answer, list) and len(answer) == 1
    s3 = answer[0]
    assert s3["serviceName"] == "s3"
    assert s3["timeRange"] == time_range
    assert s3["incomingBytes"] == 1000 + 2500 + 500 + len(b"<Delete/>")
    assert s3["outgoingBytes"] == sent
    assert s3["storageUtilized"] == [0, 3500]
    assert s3["numberOfObjects"] == [0, 3]                  # a.jpg, b.jpg and the copy d.jpg
    ops = s3["operations"]
    assert set(ops) == set(OPERATIONS)
    expected = {"s3:CreateBucket": 1, "s3:PutObject": 2, "s3:UploadPart": 1, "s3:CopyObject": 1,
                "s3:GetObject": 3, "s3:HeadObject": 1, "s3:ListBucket": 1,
                "s3:GetBucketLocation": 1, "s3:DeleteObject": 1, "s3:MultiObjectDelete": 1,
                "s3:ListAllMyBuckets": 1}
    assert {k: v for k, v in ops.items() if v} == expected

    # the ListMetrics requests themselves are not metered
    again = list_metrics(app, {"timeRange": time_range, "service": ["s3"]}).json[0]
    assert again["operations"] == ops and again["outgoingBytes"] == sent

    # a range before all that shows zeros, with every operation listed
    old = [time_range[0] - 8 * INTERVAL_MS, time_range[0] - 1]
    empty = list_metrics(app, {"timeRange": old, "service": ["s3"]}).json[0]
    assert empty["incomingBytes"] == empty["outgoingBytes"] == 0
    assert set(empty["operations"].values()) == {0}
    assert empty["storageUtilized"] == [0, 0]


def test_missing_end_and_recent_metrics(app):
    app.get("/photos/a.jpg")
    start = current_range()[0]
    before = int(time.time() * 1000)
    s3 = list_metrics(app, {"timeRange": [start], "service": ["s3"]}).json[0]
    assert s3["timeRange"][0] == start and s3["timeRange"][1] >= before
    assert s3["operations"]["s3:GetObject"] == 1
    assert s3["outgoingBytes"] == 1000
    recent = list_metrics(app, {"service": ["s3"]}, action="ListRecentMetrics").json[0]
    assert recent["operations"]["s3:GetObject"] == 1
    assert recent["timeRange"][1] - recent["timeRange"][0] == INTERVAL_MS


def test_future_end_is_fine(app):
    app.get("/photos/a.jpg")
    start = interval_start(int(time.time() * 1000))
    s3 = list_metrics(app, {"timeRange": [start - INTERVAL_MS, start + 2 * INTERVAL_MS - 1],
                            "service": ["s3"]}).json[0]
    assert s3["operations"]["s3:GetObject"] == 1


def assert_error(response, status: int, code: str) -> None:
    assert response.status_int == status
    assert response.json["code"] == code
    assert isinstance(response.json["message"], str) and response.json["message"]


@pytest.mark.parametrize("payload,code", [
    ({"timeRange": [current_range()[0] + 60_000, current_range()[1]], "service": ["s3"]},
     "InvalidParameterValue"),                                    # misaligned start
    ({"timeRange": [current_range()[0], current_range()[1] - 1], "service": ["s3"]},
     "InvalidParameterValue"),                                    # misaligned end
    ({"timeRange": [current_range()[0] + INTERVAL_MS, current_range()[0] + INTERVAL_MS - 1],
      "service": ["s3"]}, "InvalidParameterValue"),               # inverted
    (b'{"timeRange": [0, ', "InvalidParameterValue"),             # bad JSON
    ({"service": ["s3"]}, "WrongFormat"),                         # no timeRange
    ({"timeRange": current_range()}, "WrongFormat"),              # no service
    ({"timeRange": current_range(), "service": ["iam"]}, "InvalidParameterValue"),
    ({"timeRange": current_range(), "service": ["s3"], "buckets": ["photos"]},
     "InvalidParameterValue"),                                    # two levels
])
def test_bad_requests(app, payload, code):
    assert_error(list_metrics(app, payload, status=400), 400, code)


def test_unknown_action(app):
    assert_error(list_metrics(app, {"service": ["s3"]}, action="GetStorage", status=400),
                 400, "InvalidAction")


def test_sigv2_refused(app):
    response = list_metrics(app, {"timeRange": current_range(), "service": ["s3"]}, status=400,
                            version="v2")
    assert_error(response, 400, "InvalidRequest")
    assert response.json["message"] == "Must use Auth V4 for this request."


def test_anonymous_denied(app):
    body = json.dumps({"timeRange": current_range(), "service": ["s3"]}).encode()
    response = app.post("/?Action=ListMetrics", body, status=403)
    assert response.content_type == "application/json"
    assert_error(response, 403, "AccessDenied")


def test_unknown_key_and_bad_signature(app):
    payload = {"timeRange": current_range(), "service": ["s3"]}
    assert_error(list_metrics(app, payload, key="AKIDNOSUCHKEY", status=403), 403,
                 "InvalidAccessKeyId")
    assert_error(list_metrics(app, payload, secret="wrong", status=403), 403,
                 "SignatureDoesNotMatch")


def test_iam_user_denied_by_authorizer(app, middleware):
    asked = []

    class OnlyRoot:
        def is_allowed(self, identity, action, resource):
            asked.append((identity.user, action, resource))
            return identity.user is None

    middleware.authorizer = OnlyRoot()
    payload = {"timeRange": current_range(), "service": ["s3"]}
    response = list_metrics(app, payload, key=USER_KEY, secret=USER_SECRET, status=403)
    assert_error(response, 403, "AccessDenied")
    assert asked == [("alice", "utapi:ListMetrics", "arn:scality:utapi:::service/s3")]
    list_metrics(app, payload)                                   # the account itself may


def test_tampered_body_with_content_sha256(app):
    payload = json.dumps({"timeRange": current_range(), "service": ["s3"]}).encode()
    tampered = payload.replace(b'"s3"', b'"S3"')
    response = list_metrics(app, payload, tamper=tampered, status=400,
                            version="v4")   # sends x-amz-content-sha256
    assert_error(response, 400, "XAmzContentSHA256Mismatch")
    list_metrics(app, payload, version="v4")


def test_tampered_body_without_content_sha256(app):
    payload = json.dumps({"timeRange": current_range(), "service": ["s3"]}).encode()
    tampered = payload.replace(b'"s3"', b'"S3"')
    response = list_metrics(app, payload, tamper=tampered, status=403)
    assert_error(response, 403, "SignatureDoesNotMatch")


def test_oversized_and_unsized_bodies(middleware):
    class Endless:
        reads = 0

        def read(self, n=-1):
            self.reads += 1
            return b"{" * (n if n and n > 0 else 65536)

    stream = Endless()
    _, headers = signed("POST", "/?Action=ListMetrics", b"{}")
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "Action=ListMetrics",
               "HTTP_HOST": HOST, "SERVER_NAME": HOST, "SERVER_PORT": "80",
               "CONTENT_LENGTH": str(10 * 1024 * 1024), "wsgi.input": stream,
               "HTTP_AUTHORIZATION": headers["Authorization"],
               "HTTP_X_AMZ_DATE": headers["X-Amz-Date"]}
    status, headers_out, body = call(middleware, dict(environ))
    assert status.startswith("400") and json.loads(body)["code"] == "MaxMessageLengthExceeded"
    assert headers_out["Content-Type"] == "application/json"
    assert stream.reads == 0
    chunked = dict(environ, HTTP_TRANSFER_ENCODING="chunked")
    del chunked["CONTENT_LENGTH"]
    status, _, body = call(middleware, chunked)
    assert status.startswith("411") and json.loads(body)["code"] == "MissingContentLength"
    assert stream.reads == 0


def test_without_metrics_post_passes_through(store):
    plain = webtest.TestApp(S3ServiceMiddleware(gateway, credentials=store, buckets=store))
    response = plain.post("/?Action=ListMetrics", b'{"service": ["s3"]}', status=200)
    assert response.json == {"gateway": "POST", "path": "/"}


def test_with_metrics_post_to_a_bucket_passes_through(app):
    assert app.post("/photos?delete", b"<Delete/>").json == {"gateway": "POST",
                                                             "path": "/photos"}


def test_authenticate_all_errors_are_metered_too(store):
    mw = S3ServiceMiddleware(gateway, credentials=store, buckets=store, metrics=store,
                             metrics_flush_interval=None, metrics_admins=[ACCOUNT], authenticate_all=True)
    app = webtest.TestApp(mw)
    path, headers = signed("GET", "/photos/a.jpg", secret="wrong",
                           version="v4")
    response = app.get(path, headers=headers, status=403)
    s3 = list_metrics(app, {"timeRange": current_range(), "service": ["s3"]}).json[0]
    assert s3["operations"]["s3:GetObject"] == 1
    assert s3["outgoingBytes"] == len(response.body)


def test_virtual_hosted_requests_are_classified(store):
    mw = S3ServiceMiddleware(gateway, credentials=store, buckets=store, metrics=store,
                             metrics_flush_interval=None, metrics_admins=[ACCOUNT], service_hosts=["s3.example.com"])
    app = webtest.TestApp(mw)
    app.get("/a.jpg", headers={"Host": "photos.s3.example.com"})
    app.get("/", headers={"Host": "photos.s3.example.com"})
    app.put("/", headers={"Host": "newbucket.s3.example.com"})
    s3 = list_metrics(app, {"timeRange": current_range(), "service": ["s3"]}).json[0]
    assert {k: v for k, v in s3["operations"].items() if v} == {
        "s3:GetObject": 1, "s3:ListBucket": 1, "s3:CreateBucket": 1}


def test_gateway_reading_part_of_the_body_counts_what_it_read(store):
    def lazy(environ, start_response):
        environ["wsgi.input"].read(10)
        start_response("200 OK", [])
        return [b"ok"]

    mw = S3ServiceMiddleware(lazy, credentials=store, buckets=store, metrics=store,
                             metrics_flush_interval=None, metrics_admins=[ACCOUNT])
    environ = {"REQUEST_METHOD": "PUT", "PATH_INFO": "/photos/x", "QUERY_STRING": "",
               "CONTENT_LENGTH": "1000", "wsgi.input": io.BytesIO(b"q" * 1000)}
    status, _, body = call(mw, environ)
    mw.meter.flush()
    totals = store.get_metrics(*current_range())
    assert totals.incoming_bytes == 10 and totals.outgoing_bytes == 2
    assert totals.operations == {"s3:PutObject": 1}


def test_the_log_line_names_the_callers_key(app, caplog):
    with caplog.at_level(logging.INFO, logger="s3service"):
        list_metrics(app, {"timeRange": current_range(), "service": ["s3"]})
        list_metrics(app, {"timeRange": [1], "service": ["s3"]}, status=400)
    lines = [r.getMessage().split() for r in caplog.records if r.name == "s3service"]
    target = "/?Action=ListMetrics&Version=20160815"
    assert [line[1:5] + line[6:] for line in lines] == [
        ["POST", target, "-", "200", "-", KEY],
        ["POST", target, "-", "400", "InvalidParameterValue", KEY]]
    assert all(re.fullmatch(r"\d+\.\d\dms", line[5]) for line in lines)


class _NeverRead(io.RawIOBase):
    """A body the server must not read (a client that sends it slowly, or never)."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body was read before the signature was checked")


def _unread_request(middleware, headers: dict[str, str]):
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "SERVER_NAME": HOST,
               "SERVER_PORT": "80", "HTTP_HOST": HOST, "wsgi.url_scheme": "http",
               "QUERY_STRING": "Action=ListMetrics&Version=20160815",
               "CONTENT_LENGTH": "60000", "wsgi.input": _NeverRead()}
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    status, _, body = call(middleware, environ)
    return status, json.loads(body)["code"]


def test_an_anonymous_request_is_refused_unread(middleware):
    assert _unread_request(middleware, {}) == ("403 Forbidden", "AccessDenied")


def test_a_signature_over_a_claimed_hash_is_checked_before_the_body_is_read(middleware):
    path = "/?Action=ListMetrics&Version=20160815"
    headers = dict(signed_headers("POST", f"http://{HOST}{path}", KEY, "not-the-secret",
                                  version="v4", body=b"{}"))
    assert "x-amz-content-sha256" in {name.lower() for name in headers}
    headers.pop("Host", None)
    assert _unread_request(middleware, headers) == ("403 Forbidden", "SignatureDoesNotMatch")


def test_a_body_unlike_its_claimed_hash_is_refused_after_the_signature(app):
    body = json.dumps({"timeRange": current_range(), "service": ["s3"]}).encode()
    path, headers = signed("POST", "/?Action=ListMetrics&Version=20160815", body, version="v4")
    response = app.request(path, method="POST", headers=headers, body=body[:-1] + b" ",
                           status=400)
    assert_error(response, 400, "XAmzContentSHA256Mismatch")
