"""ListMetrics per account, user and bucket, through the middleware: who is counted, who may read.

Two accounts (A with users alice and A's root key, B with bob), three buckets
(photos and docs of A, ledger of B), every request SigV4-signed by botocore and
``authenticate_all`` on, so each request is attributed to its account and user.
"""
from __future__ import annotations

import json
import time

import pytest
import webtest

from s3service import S3ServiceMiddleware
from s3service.authorization import AllowAuthenticated
from s3service.identity import Identity
from s3service.metrics import INTERVAL_MS, Entity, interval_start
from tests.helpers.signing import signed_headers

A = "a" * 64
B = "b" * 64
OPS = "0" * 64                      # the operator account
HOST = "localhost"
KEYS = {"A": ("AKIDAROOT", "a-root-secret"), "alice": ("AKIDALICE", "alice-secret"),
        "bob": ("AKIDBOB", "bob-secret"), "ops": ("AKIDOPS", "ops-secret")}

SEED = {
    "accounts": {A: "a", B: "b", OPS: "operator"},
    "keys": [(A, *KEYS["A"]), (A, *KEYS["alice"], {"user": "alice"}),
             (B, *KEYS["bob"], {"user": "bob"}), (OPS, *KEYS["ops"])],
    "buckets": [(A, "photos"), (A, "docs"), (B, "ledger")],
}
OWNERS = {"photos": A, "docs": A, "ledger": B}

# IAM users here may do everything: what is tested is not their policies.
EVERY_CALLER = AllowAuthenticated()


def gateway(environ, start_response):
    """Stores nothing; reads PUT bodies, reporting them as objects of their bucket's owner."""
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    bucket = path[1:].partition("/")[0]
    if method == "PUT" and path.count("/") > 1:
        environ["s3service.metrics"].record_storage(len(data), 1, bucket=bucket,
                                                    account=OWNERS[bucket])
    body = b"x" * int(environ.get("HTTP_X_WANT") or 0)
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def middleware(store):
    return S3ServiceMiddleware(gateway, credentials=store, buckets=store, metrics=store,
                             authorizer=EVERY_CALLER,
                               metrics_flush_interval=None, authenticate_all=True,
                               metrics_admins=[OPS])


@pytest.fixture
def app(middleware):
    return webtest.TestApp(middleware)


def send(app, who: str, method: str, path: str, body: bytes = b"", want: int = 0, status=200):
    key, secret = KEYS[who]
    headers = dict(signed_headers(method, f"http://{HOST}{path}", key, secret, version="v4",
                                  body=body))
    headers.update({"Host": HOST, "X-Want": str(want)})
    return app.request(path, method=method, headers=headers, body=body, status=status)


def time_range() -> list[int]:
    start = interval_start(int(time.time() * 1000)) - INTERVAL_MS
    return [start, start + 3 * INTERVAL_MS - 1]


def list_metrics(app, who: str, level: str, names: list[str], status: int = 200):
    body = json.dumps({"timeRange": time_range(), level: names}).encode()
    key, secret = KEYS[who]
    path = "/?Action=ListMetrics&Version=20160815"
    headers = dict(signed_headers("POST", f"http://{HOST}{path}", key, secret,
                                  version="v4-generic", body=body,
                                  headers={"Content-Type": "application/json"}))
    headers["Host"] = HOST
    response = app.request(path, method="POST", headers=headers, body=body, status=status)
    return response.json


def used(entry: dict) -> dict[str, int]:
    return {k: v for k, v in entry["operations"].items() if v}


def known_mix(app) -> None:
    send(app, "alice", "PUT", "/photos/1", b"p" * 100)
    send(app, "alice", "PUT", "/photos/2", b"p" * 200)
    send(app, "alice", "GET", "/photos/1", want=100)
    send(app, "A", "PUT", "/docs/1", b"d" * 50)
    send(app, "A", "GET", "/docs/1", want=50)
    send(app, "A", "GET", "/", )                        # ListBuckets (the middleware's own)
    send(app, "bob", "PUT", "/ledger/1", b"l" * 1000)
    send(app, "bob", "GET", "/ledger/1", want=1000)
    send(app, "bob", "GET", "/ledger/1", want=1000)


def test_each_level_reads_back_exactly_its_requests_and_bytes(app):
    known_mix(app)
    [a] = list_metrics(app, "A", "accounts", [A])
    assert a["accountId"] == A and a["timeRange"] == time_range()
    assert used(a) == {"s3:PutObject": 3, "s3:GetObject": 2, "s3:ListAllMyBuckets": 1}
    assert a["incomingBytes"] == 350
    assert a["storageUtilized"] == [0, 350] and a["numberOfObjects"] == [0, 3]
    listing = a["outgoingBytes"] - 150
    assert listing > 0                                    # the ListBuckets document
    alice, root, nobody = list_metrics(app, "alice", "users", ["alice", A, "nobody"])
    assert alice["userName"] == "alice" and used(alice) == {"s3:PutObject": 2,
                                                            "s3:GetObject": 1}
    assert (alice["incomingBytes"], alice["outgoingBytes"]) == (300, 100)
    assert root["userName"] == A and used(root) == {"s3:PutObject": 1, "s3:GetObject": 1,
                                                    "s3:ListAllMyBuckets": 1}
    assert (root["incomingBytes"], root["outgoingBytes"]) == (50, 50 + listing)
    assert used(nobody) == {} and nobody["incomingBytes"] == nobody["outgoingBytes"] == 0
    photos, docs = list_metrics(app, "A", "buckets", ["photos", "docs"])
    assert photos["bucketName"] == "photos"
    assert used(photos) == {"s3:PutObject": 2, "s3:GetObject": 1}
    assert (photos["incomingBytes"], photos["outgoingBytes"]) == (300, 100)
    assert photos["storageUtilized"] == [0, 300] and photos["numberOfObjects"] == [0, 2]
    assert (docs["incomingBytes"], docs["outgoingBytes"], docs["numberOfObjects"]) == \
        (50, 50, [0, 1])
    [b] = list_metrics(app, "bob", "accounts", [B])
    assert used(b) == {"s3:PutObject": 1, "s3:GetObject": 2}
    assert (b["incomingBytes"], b["outgoingBytes"], b["storageUtilized"]) == \
        (1000, 2000, [0, 1000])
    [ledger] = list_metrics(app, "bob", "buckets", ["ledger"])
    assert used(ledger) == used(b) and ledger["outgoingBytes"] == 2000
    [s3] = list_metrics(app, "ops", "service", ["s3"])
    assert used(s3) == {"s3:PutObject": 4, "s3:GetObject": 4, "s3:ListAllMyBuckets": 1}
    assert s3["incomingBytes"] == 1350 and s3["outgoingBytes"] == 2150 + listing
    assert s3["storageUtilized"] == [0, 1350] and s3["numberOfObjects"] == [0, 4]


@pytest.mark.parametrize("who,level,names", [
    ("A", "accounts", [B]),
    ("A", "accounts", [A, B]),                          # nothing answered if one is refused
    ("alice", "accounts", ["no-such-account"]),
    ("A", "buckets", ["ledger"]),
    ("bob", "buckets", ["photos", "ledger"]),
    ("A", "users", [f"arn:aws:iam::{B}:user/bob"]),       # another account's user
    ("bob", "users", [f"arn:aws:iam::{A}:root"]),
    ("A", "service", ["s3"]),                            # the fleet: operators only
    ("bob", "service", ["s3"]),
])
def test_another_tenants_metrics_are_refused(app, who, level, names):
    known_mix(app)
    answer = list_metrics(app, who, level, names, status=403)
    assert answer["code"] == "AccessDenied"


def test_unknown_names_answer_zeros(app):
    send(app, "A", "GET", "/ghost-bucket/x", want=10)        # traffic to no bucket at all
    ghost, user = (list_metrics(app, "A", "buckets", ["ghost-bucket"])[0],
                   list_metrics(app, "A", "users", ["nobody"])[0])
    for entry in (ghost, user):
        assert used(entry) == {} and entry["outgoingBytes"] == 0
        assert entry["storageUtilized"] == [0, 0]


def test_users_named_by_their_arn(app):
    known_mix(app)
    by_name, by_arn, root = list_metrics(
        app, "A", "users", ["alice", f"arn:aws:iam::{A}:user/alice", f"arn:aws:iam::{A}:root"])
    assert by_arn["userName"] == f"arn:aws:iam::{A}:user/alice"
    assert used(by_arn) == used(by_name) == {"s3:PutObject": 2, "s3:GetObject": 1}
    assert used(root)["s3:ListAllMyBuckets"] == 1
    [bob] = list_metrics(app, "ops", "users", [f"arn:aws:iam::{B}:user/bob"])
    assert used(bob) == {"s3:PutObject": 1, "s3:GetObject": 2}
    bad = list_metrics(app, "A", "users", ["arn:aws:iam::x:group/g"], status=400)
    assert bad["code"] == "InvalidParameterValue"


def test_operators_read_every_level_of_every_account(app):
    known_mix(app)
    [b] = list_metrics(app, "ops", "accounts", [B])
    assert used(b) == {"s3:PutObject": 1, "s3:GetObject": 2}
    [ledger] = list_metrics(app, "ops", "buckets", ["ledger"])
    assert ledger["incomingBytes"] == 1000


def test_the_authorizer_is_asked_about_each_entitys_resource(app, middleware):
    asked = []

    class NoUsers:
        def is_allowed(self, identity, action, resource):
            asked.append((identity.user, action, resource))
            return identity.user is None

    middleware.authorizer = NoUsers()
    list_metrics(app, "A", "accounts", [A])
    list_metrics(app, "A", "users", ["alice"])
    list_metrics(app, "A", "buckets", ["photos", "ghost"])
    list_metrics(app, "ops", "service", ["s3"])
    assert list_metrics(app, "alice", "buckets", ["photos"], status=403)["code"] == \
        "AccessDenied"
    assert [r for _, _, r in asked] == [
        f"arn:scality:utapi::{A}:accounts/{A}", f"arn:scality:utapi::{A}:users/alice",
        f"arn:scality:utapi::{A}:buckets/photos", f"arn:scality:utapi::{A}:buckets/ghost",
        "arn:scality:utapi:::service/s3", f"arn:scality:utapi::{A}:buckets/photos"]
    assert {action for _, action, _ in asked} == {"utapi:ListMetrics"}


def test_unchecked_requests_count_for_the_service_only(store):
    """Without authenticate_all a passed-on request's signature is never checked: no
    account, and no bucket (anyone could send anything to any name)."""
    mw = S3ServiceMiddleware(gateway, credentials=store, buckets=store, metrics=store,
                             authorizer=EVERY_CALLER,
                             metrics_flush_interval=None, metrics_admins=[OPS])
    app = webtest.TestApp(mw)
    send(app, "A", "GET", "/photos/1", want=70)
    app.get("/photos/2", headers={"X-Want": "30"})          # anonymous
    [photos] = list_metrics(app, "A", "buckets", ["photos"])
    assert used(photos) == {} and photos["outgoingBytes"] == 0
    [a] = list_metrics(app, "A", "accounts", [A])
    assert used(a) == {} and a["outgoingBytes"] == 0
    [s3] = list_metrics(app, "ops", "service", ["s3"])
    assert used(s3) == {"s3:GetObject": 2} and s3["outgoingBytes"] == 100


def test_virtual_hosted_requests_count_for_their_bucket(store):
    mw = S3ServiceMiddleware(gateway, credentials=store, buckets=store, metrics=store,
                             authorizer=EVERY_CALLER,
                             metrics_flush_interval=None, service_hosts=["s3.example.com"],
                             authenticate_all=True)
    app = webtest.TestApp(mw)
    key, secret = KEYS["A"]
    for host, path, want in (("docs.s3.example.com", "/key", 5),
                             ("s3.example.com", "/docs/key", 7)):
        headers = dict(signed_headers("GET", f"http://{host}{path}", key, secret,
                                      version="v4"))
        headers.update({"Host": host, "X-Want": str(want)})
        app.get(path, headers=headers)
    mw.meter.flush()

    totals = store.get_metrics(*time_range(), Entity.bucket("docs", A))
    assert totals.operations == {"s3:GetObject": 2} and totals.outgoing_bytes == 12


def test_requests_to_buckets_that_do_not_exist_add_no_bucket_rows(store, app, middleware):
    for i in range(50):
        send(app, "A", "GET", f"/made-up-{i}/key", want=1)
        app.get(f"/anonymous-{i}/key", headers={"X-Want": "1"})
    middleware.meter.flush()
    period = time_range()
    for i in range(50):
        for name in (f"made-up-{i}", f"anonymous-{i}"):
            for owner in ("", A):
                assert store.get_metrics(*period, Entity.bucket(name, owner)).operations == {}
    [a] = list_metrics(app, "A", "accounts", [A])
    assert used(a) == {"s3:GetObject": 50}
    [s3] = list_metrics(app, "ops", "service", ["s3"])
    assert used(s3) == {"s3:GetObject": 100}


def test_a_script_name_sent_as_a_header_cannot_move_the_bucket_metered(store, app):
    """gunicorn takes ``SCRIPT_NAME`` from a header of a trusted proxy's address (by
    default loopback): the bucket is the first segment of the whole path, as signed."""
    key, secret = KEYS["A"]
    headers = dict(signed_headers("GET", f"http://{HOST}/photos/ledger/1", key, secret,
                                  version="v4"))
    headers.update({"Host": HOST, "X-Want": "4"})
    app.get("/ledger/1", headers=headers, extra_environ={"SCRIPT_NAME": "/photos"})
    [ledger] = list_metrics(app, "bob", "buckets", ["ledger"])
    assert used(ledger) == {} and ledger["outgoingBytes"] == 0
    [photos] = list_metrics(app, "A", "buckets", ["photos"])
    assert used(photos) == {"s3:GetObject": 1} and photos["outgoingBytes"] == 4


def test_a_name_re_created_by_another_account_starts_from_zero(store, app, middleware):
    send(app, "bob", "PUT", "/ledger/1", b"l" * 10)
    send(app, "bob", "GET", "/ledger/1", want=10)
    middleware.meter.flush()
    store.delete_bucket("ledger")
    store.add_bucket(A, "ledger")
    send(app, "A", "GET", "/ledger/1", want=3)
    [ledger] = list_metrics(app, "A", "buckets", ["ledger"])
    assert used(ledger) == {"s3:GetObject": 1} and ledger["outgoingBytes"] == 3
    assert ledger["incomingBytes"] == 0


def test_listbuckets_streamed_and_refused_are_counted_too(store, app, middleware):
    for i in range(1200):                       # more than one chunk: a streamed listing
        store.add_bucket(B, f"many-{i:04d}")
    streamed = send(app, "bob", "GET", "/")
    assert streamed.body.count(b"<Bucket>") == 1201
    key, _ = KEYS["A"]
    headers = dict(signed_headers("GET", f"http://{HOST}/", key, "wrong-secret", version="v4"))
    headers["Host"] = HOST
    refused = app.get("/", headers=headers, status=403)
    [b] = list_metrics(app, "bob", "accounts", [B])
    assert used(b) == {"s3:ListAllMyBuckets": 1} and b["outgoingBytes"] == len(streamed.body)
    [s3] = list_metrics(app, "ops", "service", ["s3"])
    assert used(s3) == {"s3:ListAllMyBuckets": 2}
    assert s3["outgoingBytes"] == len(streamed.body) + len(refused.body)
    [a] = list_metrics(app, "A", "accounts", [A])
    assert used(a) == {}                         # an unchecked signature counts for nobody


def test_an_identity_put_in_the_environ_beforehand_is_not_billed(app):
    forged = Identity(account_id=B, display_name="b", access_key="AKIDBOB", user="bob")
    key, _ = KEYS["bob"]
    headers = dict(signed_headers("GET", f"http://{HOST}/ledger/1", key, "wrong", version="v4"))
    headers["Host"] = HOST
    app.get("/ledger/1", headers=headers, extra_environ={"s3service.identity": forged},
            status=403)
    app.get("/", headers=headers, extra_environ={"s3service.identity": forged}, status=403)
    [b] = list_metrics(app, "bob", "accounts", [B])
    assert used(b) == {} and b["outgoingBytes"] == 0
    [ledger] = list_metrics(app, "bob", "buckets", ["ledger"])
    assert used(ledger) == {}  # the forged identity is dropped: nobody checked, no bucket
