"""The gateway behind the middleware decides by the middleware's policies, with the request's keys.

Real boto3 clients, in-process through WebTest: the bundled gateway
(``make_app`` with a PolicyAuthorizer), and a gateway of our own that asks
``environ["s3service.authorizer"]`` about object operations.
"""
from __future__ import annotations

import json

import pytest

from s3service import S3ServiceMiddleware
from s3service.backends.memory import MemoryBackend
from s3service.envelope import AUTHORIZER_KEY, IDENTITY_KEY
from s3service.gateway import make_app
from s3service.policies import PolicyAuthorizer
from s3service.authorization import RequestAuthorizer
from tests.helpers.botoclient import boto3_client, error_of, status_of

ACCOUNT = "a" * 64
ROOT = ("AKIAROOTROOTROOTROOT0", "root-secret-root-secret-root-secret-0000")
ALICE = ("AKIAALICEALICEALICE0", "alice-secret-alice-secret-alice-secret-0")

HOME = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "OwnHome", "Effect": "Allow", "Action": "s3:ListBucket",
     "Resource": "arn:aws:s3:::shared",
     "Condition": {"StringLike": {"s3:prefix": "home/${aws:username}/*"}}},
    {"Sid": "Small", "Effect": "Deny", "Action": "s3:ListBucket", "Resource": "*",
     "Condition": {"NumericGreaterThan": {"s3:max-keys": "100"}}},
    {"Sid": "OwnObjects", "Effect": "Allow", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::shared/home/${aws:username}/*"}]})


@pytest.fixture
def store():
    store = MemoryBackend()
    store.add_account(ACCOUNT, "acct")
    store.add_key(ACCOUNT, *ROOT)
    store.add_key(ACCOUNT, *ALICE, user="alice")
    store.add_bucket(ACCOUNT, "shared")
    store.put_user_policy(ACCOUNT, "alice", "home", HOME)
    return store


def test_the_bundled_gateway_sees_prefix_and_max_keys(store):
    app = make_app(store, authorizer=PolicyAuthorizer(store))
    alice, root = boto3_client(app, ALICE), boto3_client(app, ROOT)
    assert alice.list_objects_v2(Bucket="shared", Prefix="home/alice/")["KeyCount"] == 0
    assert alice.list_objects(Bucket="shared", Prefix="home/alice/docs/")["Name"] == "shared"
    assert error_of(alice.list_objects_v2, Bucket="shared", Prefix="home/bob/") == \
        (403, "AccessDenied")
    assert error_of(alice.list_objects_v2, Bucket="shared") == (403, "AccessDenied")
    assert error_of(alice.list_objects_v2, Bucket="shared", Prefix="home/alice/",
                    MaxKeys=500) == (403, "AccessDenied")
    assert error_of(alice.get_bucket_location, Bucket="shared") == (403, "AccessDenied")
    assert error_of(alice.list_buckets) == (403, "AccessDenied")
    assert root.list_objects_v2(Bucket="shared")["KeyCount"] == 0     # the account's own key
    assert status_of(root.delete_bucket(Bucket="shared")) == 204


def objects_gateway(environ, start_response):
    """A gateway of our own: GetObject answered if the middleware's authorizer allows it."""
    ask = environ.get(AUTHORIZER_KEY)
    if environ.get(IDENTITY_KEY) is None or not isinstance(ask, RequestAuthorizer):
        start_response("403 Forbidden", [("Content-Type", "application/xml")])
        return [b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>"]
    bucket, _, key = environ["PATH_INFO"][1:].partition("/")
    if not ask.is_allowed("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"):
        start_response("403 Forbidden", [("Content-Type", "application/xml")])
        return [b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0"),
                              ("x-amz-meta-caller", str(ask.identity.user))])
    return [b""]


def test_any_gateway_asks_the_same_policies(store):
    app = S3ServiceMiddleware(objects_gateway, credentials=store, buckets=store,
                              authenticate_all=True, authorizer=PolicyAuthorizer(store))
    alice = boto3_client(app, ALICE)
    got = alice.get_object(Bucket="shared", Key="home/alice/notes.txt")
    assert got["Metadata"] == {"caller": "alice"}
    assert error_of(alice.get_object, Bucket="shared", Key="home/bob/notes.txt") == \
        (403, "AccessDenied")
    root = boto3_client(app, ROOT)
    assert root.get_object(Bucket="shared", Key="home/bob/x")["Metadata"] == {"caller": "None"}
    # Replaced on the middleware: the gateway asks the new one.
    app.authorizer = PolicyAuthorizer(MemoryBackend())           # no policies there
    assert error_of(alice.get_object, Bucket="shared", Key="home/alice/notes.txt") == \
        (403, "AccessDenied")


def test_a_gateway_may_add_keys_of_its_own(store):
    store.put_user_policy(ACCOUNT, "alice", "tagged", json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Sid": "Tagged", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
             "Condition": {"StringEquals": {"s3:x-amz-storage-class": "STANDARD"}}}]}))
    from s3service.identity import Identity
    from s3service.authorization import RequestContext

    ask = RequestAuthorizer(PolicyAuthorizer(store),
                            RequestContext({}, Identity(ACCOUNT, "acct", ALICE[0], user="alice")))
    assert ask.is_allowed("s3:PutObject", "arn:aws:s3:::shared/x",
                          **{"s3:x-amz-storage-class": "STANDARD"})
    assert not ask.is_allowed("s3:PutObject", "arn:aws:s3:::shared/x",
                              **{"s3:x-amz-storage-class": "GLACIER"})
    assert not ask.is_allowed("s3:PutObject", "arn:aws:s3:::shared/x")


def test_the_environs_authorizer_does_not_hold_the_environ(store):
    # (it lives in the environ: holding it would make a reference cycle per request)
    seen = []

    def gateway(environ, start_response):
        seen.append(environ)
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    app = S3ServiceMiddleware(gateway, credentials=store, buckets=store, authenticate_all=True,
                              authorizer=PolicyAuthorizer(store))
    boto3_client(app, ALICE).head_object(Bucket="shared", Key="k")
    ask = seen[0][AUTHORIZER_KEY]
    assert ask.context.environ is not seen[0]
    assert ask.context.values("s3:x-amz-content-sha256") == \
        (seen[0]["HTTP_X_AMZ_CONTENT_SHA256"],)
    assert ask.context.values("s3:authtype") == ("REST-HEADER",)
    assert ask.identity.user == "alice"


def seeded_store() -> MemoryBackend:
    """A ``backend`` factory for the PasteDeploy filter."""
    store = MemoryBackend()
    store.add_account(ACCOUNT, "acct")
    store.add_key(ACCOUNT, *ALICE, user="alice")
    store.add_bucket(ACCOUNT, "shared")
    store.put_user_policy(ACCOUNT, "alice", "home", HOME)
    return store


def test_paste_filter_authorizer_policies():
    from s3service.paste import filter_factory

    app = filter_factory({}, backend="tests.gateway.test_app_policies:seeded_store", authorizer="policies",
                         authenticate_all="true")(objects_gateway)
    assert isinstance(app.authorizer, PolicyAuthorizer)
    alice = boto3_client(app, ALICE)
    assert alice.get_object(Bucket="shared", Key="home/alice/a")["Metadata"] == {"caller": "alice"}
    assert error_of(alice.get_object, Bucket="shared", Key="home/bob/a") == (403, "AccessDenied")
    assert error_of(alice.list_buckets) == (403, "AccessDenied")
