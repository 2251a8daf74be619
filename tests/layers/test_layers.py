"""Each layer of the request path alone, around a recording app (no middleware around it)."""
from __future__ import annotations

import io

from s3service.auth import Authenticator
from s3service.authorization import RequestAuthorizer
from s3service.backends.memory import MemoryBackend
from s3service.hosts import ServiceHosts
from s3service.layers.authentication import AuthenticationLayer
from s3service.layers.metering import MeteringLayer
from s3service.layers.service import ListBuckets, ServiceRoutes
from s3service.metrics import INTERVAL_MS, Entity, Meter
from s3service.errors import XAmzContentSHA256Mismatch
from tests.helpers.signing import signed_environ
from tests.helpers.wsgi import call

ACCOUNT = "1" * 12
URL = "http://s3.example.com/"


class Recorder:
    def __init__(self, read: bool = False):
        self.seen: list[dict] = []
        self.read = read

    def __call__(self, environ, start_response):
        self.seen.append(environ)
        if self.read:
            environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"app"]


def store():
    made = MemoryBackend()
    made.add_account(ACCOUNT, display_name="Acme")
    made.add_key(ACCOUNT, "AKIDLAYER", "layersecret")
    made.add_bucket(ACCOUNT, "photos")
    return made


def test_service_routes_answer_the_service_and_pass_the_rest():
    app, hosts = Recorder(), ServiceHosts(["s3.example.com"])
    routes = ServiceRoutes(app, hosts, list_buckets=lambda e, s: [b"listed"])
    assert b"".join(routes({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, None)) == b"listed"
    status, headers, body = call(routes, {"REQUEST_METHOD": "PUT", "PATH_INFO": "/"})
    assert status.startswith("405") and b"<Code>MethodNotAllowed</Code>" in body and not app.seen
    # POST / without a ListMetrics handler, a bucket by host, a path: all the app's
    for environ in ({"REQUEST_METHOD": "POST", "PATH_INFO": "/"},
                    {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_HOST": "b.s3.example.com"},
                    {"REQUEST_METHOD": "GET", "PATH_INFO": "/photos"}):
        assert call(routes, environ)[2] == b"app"
    assert len(app.seen) == 3


def test_authentication_layer_puts_the_caller_in_the_environ():
    app = Recorder(read=True)
    layer = AuthenticationLayer(app, Authenticator(store()))
    environ = signed_environ("PUT", URL + "photos/key", "AKIDLAYER", "layersecret", body=b"hi")
    environ["s3service.authorizer"] = "planted"
    status, _, body = call(layer, environ)
    assert status == "200 OK" and body == b"app"
    seen = app.seen[0]
    assert seen["s3service.identity"].account_id == ACCOUNT
    assert isinstance(seen["s3service.authorizer"], RequestAuthorizer)
    assert seen["s3service.authorizer"].is_allowed("s3:PutObject", "arn:aws:s3:::photos/key")
    assert seen["s3service.payload"].verified and seen["s3service.request_id"]


def test_authentication_layer_refuses_a_bad_signature_and_a_tampered_body():
    app = Recorder(read=True)
    layer = AuthenticationLayer(app, Authenticator(store()))
    environ = signed_environ("GET", URL + "photos", "AKIDLAYER", "wrong")
    status, _, body = call(layer, environ)
    assert status.startswith("403") and b"SignatureDoesNotMatch" in body and not app.seen
    environ = signed_environ("PUT", URL + "photos/key", "AKIDLAYER", "layersecret", body=b"hi")
    environ["wsgi.input"] = io.BytesIO(b"ho")
    status, _, body = call(layer, environ)
    assert status.startswith(str(XAmzContentSHA256Mismatch.status))
    assert b"XAmzContentSHA256Mismatch" in body


def test_metering_layer_counts_what_the_app_reads_and_sends():
    made = store()
    meter = Meter(made, flush_interval=None, clock=lambda: 0.0)
    app = Recorder(read=True)
    layer = MeteringLayer(app, meter, ServiceHosts(()))
    environ = {"REQUEST_METHOD": "PUT", "PATH_INFO": "/photos/key",
               "wsgi.input": io.BytesIO(b"12345"), "s3service.identity": "claimed"}
    assert call(layer, environ)[2] == b"app"
    assert app.seen[0]["s3service.metrics"] is meter
    assert "s3service.identity" not in app.seen[0]       # a planted caller is never billed
    meter.flush()
    totals = made.get_metrics(0, INTERVAL_MS - 1)
    assert totals.operations == {"s3:PutObject": 1}
    assert (totals.incoming_bytes, totals.outgoing_bytes) == (5, 3)
    # no checked caller: not for the bucket (which anyone could name)
    assert made.get_metrics(0, INTERVAL_MS - 1, Entity.bucket("photos")).operations == {}


def test_list_buckets_alone():
    made = store()
    listing = ListBuckets(Authenticator(made), made)
    status, headers, body = call(listing, signed_environ("GET", URL, "AKIDLAYER", "layersecret"))
    assert status == "200 OK" and b"<Name>photos</Name>" in body
    status, _, body = call(listing, {"REQUEST_METHOD": "GET", "PATH_INFO": "/"})
    assert status.startswith("403") and b"AccessDenied" in body


class IteratingStore:
    """A bucket store of a user's own, whose listings are iterators rather than lists."""

    def __init__(self, inner: MemoryBackend) -> None:
        self.inner = inner

    def list_buckets(self, account_id, **options):
        yield from self.inner.list_buckets(account_id, **options)


def test_list_buckets_leaves_how_many_buckets_a_whole_answer_lists():
    made = store()
    made.add_bucket(ACCOUNT, "videos")
    for buckets in (made, IteratingStore(made)):
        listing = ListBuckets(Authenticator(made), buckets)
        environ = signed_environ("GET", URL, "AKIDLAYER", "layersecret")
        status, _, body = call(listing, environ)
        assert status == "200 OK" and body.count(b"<Bucket>") == 2
        assert environ["s3service.listed"] == 2
        environ = signed_environ("GET", URL + "?max-buckets=1", "AKIDLAYER", "layersecret")
        status, _, body = call(listing, environ)
        assert status == "200 OK" and environ["s3service.listed"] == 1
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
    assert call(ListBuckets(Authenticator(made), made), environ)[0].startswith("403")
    assert "s3service.listed" not in environ
