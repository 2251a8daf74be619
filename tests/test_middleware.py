"""The middleware through webtest: routing, ListBuckets, errors, logging, paging."""
from __future__ import annotations

import logging
import re
import os
from datetime import datetime, timezone
from urllib.parse import quote

import pytest
import webtest
from defusedxml import ElementTree

from s3service import S3ServiceMiddleware
from s3service.backends.base import BackendUnavailable
from s3service.envelope import new_ids
from s3service.backends.memory import MemoryBackend
from s3service.paste import filter_factory
from tests.helpers.signing import signed_environ

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
ROOT = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
OTHER = "0" * 64
URL = "http://s3.example.com/"
CREATED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


class Gateway:
    """The wrapped app: records what reached it."""

    def __init__(self):
        self.seen = []

    def __call__(self, environ, start_response):
        self.seen.append(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"gateway"]


SEED = {   # of the `store` fixture (conftest.py)
    "accounts": {ROOT: "Zoë & <Co>", OTHER: "Other"},
    "keys": [
        (ROOT, "AKIDROOT", "rootsecret"),
        (ROOT, "AKIDUSER", "usersecret", {"user": "bob"}),
        (ROOT, "AKIDOFF", "offsecret", {"active": False}),
        (OTHER, "AKIDOTHER", "othersecret"),
    ],
    "buckets": [
        (ROOT, "photos", {"created": CREATED}),
        (ROOT, "archive", {"created": CREATED, "region": "eu-west-1"}),
        (OTHER, "secret-plans", {"created": CREATED}),
    ],
}


@pytest.fixture
def gateway():
    return Gateway()


def make(store, gateway, **kw):
    kw.setdefault("service_hosts", ["s3.example.com"])
    return webtest.TestApp(S3ServiceMiddleware(gateway, credentials=store, buckets=store, **kw))


@pytest.fixture
def app(store, gateway):
    return make(store, gateway)


def send(app, environ, status="*"):
    request = webtest.TestRequest.blank("/")  # the WSGI keys a server adds
    request.environ.update(environ)
    return app.do_request(request, status=status, expect_errors=True)


def signed(url=URL, key="AKIDROOT", secret="rootsecret", **kw):
    return signed_environ(kw.pop("method", "GET"), url, key, secret, **kw)


def names(resp):
    root = ElementTree.fromstring(resp.body)
    return [b.findtext(NS + "Name") for b in root.iter(NS + "Bucket")]


def error(resp, code, status):
    assert resp.status_int == status, resp.body
    root = ElementTree.fromstring(resp.body)
    assert root.tag == "Error"
    assert root.findtext("Code") == code
    assert root.findtext("RequestId") == resp.headers["x-amz-request-id"]
    assert root.findtext("HostId") == resp.headers["x-amz-id-2"]
    assert resp.content_type == "application/xml"
    return root


# -- ListBuckets ---------------------------------------------------------------------

@pytest.mark.parametrize("version", ["v4", "v2"])
@pytest.mark.parametrize("presign", [False, True])
def test_list_buckets(app, version, presign):
    resp = send(app, signed(version=version, presign=presign))
    assert resp.status_int == 200
    assert resp.content_type == "application/xml"
    assert resp.headers["Content-Length"] == str(len(resp.body))
    for header in ("x-amz-request-id", "x-amz-id-2", "Date", "Server"):
        assert resp.headers[header]
    root = ElementTree.fromstring(resp.body)
    assert root.findtext(f"{NS}Owner/{NS}ID") == ROOT
    assert root.findtext(f"{NS}Owner/{NS}DisplayName") == "Zoë & <Co>"
    assert names(resp) == ["archive", "photos"]
    assert [d.text for d in root.iter(NS + "CreationDate")] == ["2024-01-02T03:04:05.000Z"] * 2


LIST_ALL = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
            '"Action": "s3:ListAllMyBuckets", "Resource": "*"}]}')


def test_iam_user_lists_parent_account(store, app):
    store.put_user_policy(ROOT, "bob", "list", LIST_ALL)
    resp = send(app, signed(key="AKIDUSER", secret="usersecret"))
    assert names(resp) == ["archive", "photos"]
    assert ElementTree.fromstring(resp.body).findtext(f"{NS}Owner/{NS}ID") == ROOT


def test_accounts_are_isolated(app):
    assert names(send(app, signed(key="AKIDOTHER", secret="othersecret"))) == ["secret-plans"]


def test_request_ids_are_unique(app):
    ids = {send(app, signed()).headers["x-amz-request-id"] for _ in range(20)}
    assert len(ids) == 20


def test_request_ids_differ_in_forked_workers():
    """Ids come from a generator seeded per process: a forked worker must not repeat its parent's."""
    new_ids()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        os.write(write, "".join(new_ids()).encode())
        os._exit(0)
    os.close(write)
    worker = os.read(read, 256).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(worker) == 16 + 32
    assert worker != "".join(new_ids())


def test_anonymous_is_denied(app):
    resp = send(app, {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_HOST": "s3.example.com"})
    error(resp, "AccessDenied", 403)


def test_disabled_key_is_refused(app):
    root = error(send(app, signed(key="AKIDOFF", secret="offsecret")), "InvalidAccessKeyId", 403)
    assert root.findtext("AWSAccessKeyId") == "AKIDOFF"


def test_bad_signature_never_shows_the_secret(app):
    resp = send(app, signed(secret="wrongsecret"))
    root = error(resp, "SignatureDoesNotMatch", 403)
    assert root.findtext("AWSAccessKeyId") == "AKIDROOT"
    assert root.findtext("StringToSign")
    assert b"rootsecret" not in resp.body and b"wrongsecret" not in resp.body


def test_authorizer_can_deny(store, gateway):
    class NoBob:
        def is_allowed(self, identity, action, resource):
            assert action == "s3:ListAllMyBuckets"
            return identity.user != "bob"

    app = make(store, gateway, authorizer=NoBob())
    assert send(app, signed()).status_int == 200
    error(send(app, signed(key="AKIDUSER", secret="usersecret")), "AccessDenied", 403)


# (webtest's lint rightly warns of an unknown method: sending one is the point)
@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")
@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "BREW"])
def test_other_methods_not_allowed(app, gateway, method):
    root = error(send(app, signed(method=method)), "MethodNotAllowed", 405)
    assert root.findtext("Method") == method
    assert root.findtext("ResourceType") == "SERVICE"
    assert gateway.seen == []


def test_head_not_allowed_without_body(app):
    resp = send(app, signed(method="HEAD"))
    assert resp.status_int == 405
    assert resp.body == b""


# -- pass-through ------------------------------------------------------------------

@pytest.mark.parametrize("url,method", [
    ("http://s3.example.com/photos", "GET"),
    ("http://s3.example.com/photos/key.jpg", "PUT"),
    ("http://photos.s3.example.com/", "GET"),       # virtual-hosted bucket
    ("http://s3.example.com/", "POST"),             # no metrics backend
])
def test_everything_else_passes_through_untouched(store, gateway, url, method):
    mw = S3ServiceMiddleware(gateway, credentials=store, buckets=store,
                             service_hosts=["s3.example.com"])
    environ = signed(url=url, method=method, body=b"payload")
    before = dict(environ)
    assert list(mw(environ, lambda status, headers: None)) == [b"gateway"]
    [seen] = gateway.seen
    assert seen is environ and seen == before
    assert environ["wsgi.input"].tell() == 0, "the middleware read the body"


def test_authenticate_all(store, gateway):
    app = make(store, gateway, authenticate_all=True)
    resp = send(app, signed(url="http://s3.example.com/photos", secret="wrong"))
    error(resp, "SignatureDoesNotMatch", 403)
    assert gateway.seen == []
    send(app, signed(url="http://s3.example.com/photos", key="AKIDUSER", secret="usersecret"))
    [seen] = gateway.seen
    identity = seen["s3service.identity"]
    assert (identity.account_id, identity.user, identity.access_key) == (ROOT, "bob", "AKIDUSER")
    assert seen["s3service.request_id"]
    send(app, {"REQUEST_METHOD": "GET", "PATH_INFO": "/photos", "HTTP_HOST": "s3.example.com"})
    assert gateway.seen[-1]["s3service.identity"] is None


# -- faults and logs --------------------------------------------------------------------

class Broken(MemoryBackend):
    def __init__(self, exc):
        super().__init__()
        self.exc = exc

    def list_buckets(self, account_id, **kw):
        raise self.exc


def test_unreachable_store_is_503(store, gateway):
    broken = Broken(BackendUnavailable("db down"))
    app = webtest.TestApp(S3ServiceMiddleware(gateway, credentials=store, buckets=broken))
    error(send(app, signed()), "ServiceUnavailable", 503)


def test_failing_store_is_500_without_details(store, gateway, caplog):
    broken = Broken(RuntimeError("password=hunter2"))
    app = webtest.TestApp(S3ServiceMiddleware(gateway, credentials=store, buckets=broken))
    with caplog.at_level(logging.INFO, logger="s3service"):
        resp = send(app, signed())
    error(resp, "InternalError", 500)
    assert b"hunter2" not in resp.body
    rid = resp.headers["x-amz-request-id"]
    assert any(rid in r.getMessage() and r.exc_info for r in caplog.records)


def test_failure_while_streaming_cuts_the_body(store, gateway, caplog):
    for i in range(1500):
        store.add_bucket(ROOT, f"b{i:05d}")

    class FailsLate(MemoryBackend):
        def list_buckets(self, account_id, **kw):
            for n, bucket in enumerate(store.list_buckets(account_id, **kw)):
                if n == 1200:
                    raise RuntimeError("disk on fire")
                yield bucket

    app = webtest.TestApp(S3ServiceMiddleware(gateway, credentials=store, buckets=FailsLate()))
    with pytest.raises(RuntimeError):
        send(app, signed())


def test_one_log_line_per_request_without_secrets(app, caplog):
    with caplog.at_level(logging.INFO, logger="s3service"):
        ok = send(app, signed())
        bad = send(app, signed(secret="wrongsecret"))
    lines = [r.getMessage() for r in caplog.records if r.name == "s3service"]
    assert len(lines) == 2
    fields = [line.split() for line in lines]
    assert [f[:5] + f[6:] for f in fields] == [
        [ok.headers["x-amz-request-id"], "GET", "/", "-", "200", "-", "AKIDROOT"],
        [bad.headers["x-amz-request-id"], "GET", "/", "-", "403", "SignatureDoesNotMatch",
         "AKIDROOT"]]
    assert all(re.fullmatch(r"\d+\.\d\dms", f[5]) for f in fields)
    text = "\n".join(lines)
    signature = bad.request.environ["HTTP_AUTHORIZATION"].rpartition("Signature=")[2]
    for secret in ("rootsecret", "wrongsecret", signature):
        assert secret not in text


# -- large listings and paging ------------------------------------------------------------

def test_large_listing_streams(store, app):
    for i in range(3000):
        store.add_bucket(ROOT, f"bulk-{i:05d}", created=CREATED)
    seen = {}
    body = app.app(signed(), lambda status, headers: seen.update(headers))
    assert "Content-Length" not in seen
    assert not isinstance(body, list)
    assert len(names(send(app, signed()))) == 3002


def test_client_disconnect_stops_the_store(store, gateway):
    pulled = []

    class Counting(MemoryBackend):
        def list_buckets(self, account_id, **kw):
            for i in range(10**9):
                pulled.append(i)
                yield store.list_buckets.__self__.get_bucket("photos")[1]

    mw = S3ServiceMiddleware(gateway, credentials=store, buckets=Counting())
    body = mw(signed(), lambda status, headers: None)
    iterator = iter(body)
    next(iterator)
    body.close()  # what a server does when the client goes away
    assert len(pulled) < 5000


def page(app, key="AKIDROOT", secret="rootsecret", **params):
    query = "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in params.items())
    return send(app, signed(url=f"{URL}?{query}", key=key, secret=secret))


def test_paging_walks_every_bucket_once(store, app):
    for i in range(25):
        store.add_bucket(ROOT, f"p-{i:02d}", created=CREATED)
    seen, token, pages = [], None, 0
    while True:
        params = {"max-buckets": "7", "prefix": "p-"}
        if token:
            params["continuation-token"] = token
        resp = page(app, **params)
        assert resp.status_int == 200, resp.body
        root = ElementTree.fromstring(resp.body)
        assert root.findtext(NS + "Prefix") == "p-"
        assert {b.findtext(NS + "BucketRegion") for b in root.iter(NS + "Bucket")} == {"us-east-1"}
        seen += names(resp)
        pages += 1
        token = root.findtext(NS + "ContinuationToken")
        if not token:
            break
    assert seen == [f"p-{i:02d}" for i in range(25)]
    assert pages == 4


def test_full_last_page_has_no_token(store, app):
    resp = page(app, **{"max-buckets": "2"})
    assert names(resp) == ["archive", "photos"]
    assert ElementTree.fromstring(resp.body).find(NS + "ContinuationToken") is None


def test_region_filter(app):
    resp = page(app, **{"bucket-region": "eu-west-1"})
    assert names(resp) == ["archive"]


def test_tokens_cannot_cross_accounts_or_filters(store, app):
    store.add_bucket(OTHER, "other-2", created=CREATED)
    first = page(app, key="AKIDOTHER", secret="othersecret", **{"max-buckets": "1"})
    token = ElementTree.fromstring(first.body).findtext(NS + "ContinuationToken")
    assert token
    for resp in (page(app, **{"continuation-token": token}),                    # other account
                 page(app, key="AKIDOTHER", secret="othersecret",
                      **{"continuation-token": token, "prefix": "s"}),         # other filter
                 page(app, key="AKIDOTHER", secret="othersecret",
                      **{"continuation-token": token[:-2] + "AA"}),           # modified
                 page(app, **{"continuation-token": ""})):                     # empty
        root = error(resp, "InvalidArgument", 400)
        assert root.findtext("ArgumentName") == "continuation-token"
    again = page(app, key="AKIDOTHER", secret="othersecret", **{"continuation-token": token})
    assert names(again) == ["secret-plans"]


@pytest.mark.parametrize("value", ["0", "10001", "x", ""])
def test_bad_max_buckets(app, value):
    root = error(page(app, **{"max-buckets": value}), "InvalidArgument", 400)
    assert root.findtext("ArgumentName") == "max-buckets"
    assert root.findtext("ArgumentValue") == value


# -- paste ----------------------------------------------------------------------------------

def test_paste_filter_factory(gateway):
    make_filter = filter_factory({}, db="memory", region="eu-west-1",
                                 service_hosts="s3.example.com, s3.internal", clock_skew="60",
                                 authenticate_all="true")
    mw = make_filter(gateway)
    assert isinstance(mw, S3ServiceMiddleware)
    assert mw.app is gateway
    assert (mw.region, mw.service_hosts, mw.clock_skew, mw.authenticate_all) == \
        ("eu-west-1", ("s3.example.com", "s3.internal"), 60.0, True)


def test_paste_filter_cors_option(gateway):
    """``cors = true`` answers preflights from the rules in the filter's own store."""
    from s3service.cors import CORSConfiguration, CORSRule

    mw = filter_factory({}, db="memory", cors="true")(gateway)
    store = mw.cors
    store.add_account("1" * 12)
    store.add_bucket("1" * 12, "photos")
    store.put_bucket_cors("photos", CORSConfiguration((
        CORSRule(allowed_methods=("GET",), allowed_origins=("https://a.example",)),)))
    resp = webtest.TestApp(mw).options("/photos/k", headers={
        "Origin": "https://a.example", "Access-Control-Request-Method": "GET"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert gateway.seen == []
    assert filter_factory({}, db="memory")(gateway).cors is None


@pytest.mark.parametrize("version", ["v2", "v4"])
def test_service_host_under_another_service_host(store, gateway, version):
    # s3.example.com is a service host even though it also ends in ".example.com".
    app = make(store, gateway, service_hosts=["example.com", "s3.example.com"])
    resp = send(app, signed(version=version))
    assert resp.status_int == 200, resp.body
    assert names(resp) == ["archive", "photos"]
    send(app, signed(url="http://photos.s3.example.com/", version=version))
    assert len(gateway.seen) == 1, "a virtual-hosted bucket request passes through"


@pytest.mark.parametrize("name", ["backend_timeout", "idle_timeout"])
def test_a_timeout_that_is_not_positive_is_refused_by_its_name(name):
    from s3service.backends.memory import MemoryBackend

    store = MemoryBackend()
    with pytest.raises(ValueError, match=f"^{name} must be a positive number"):
        S3ServiceMiddleware(lambda environ, start_response: [], credentials=store,
                            buckets=store, **{name: 0})
