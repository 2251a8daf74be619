"""The bundled gateway and its stores, driven by real boto3 in-process
(:mod:`tests.helpers.botoclient`: nothing goes over the network)."""
from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET

import pytest
from webtest import TestApp

from s3service.backends.base import AllowAuthenticated
from s3service.backends.memory import MemoryBackend
from s3service.gateway import app_factory, make_app
from s3service.policies import PolicyAuthorizer
from tests.helpers.botoclient import boto3_client, error_of, status_of

ACCOUNT, OTHER = "a" * 64, "b" * 64
ROOT_KEY = ("AKIAROOTROOTROOTROOT0", "root-secret-root-secret-root-secret-0000")
USER_KEY = ("AKIAUSERUSERUSERUSER0", "user-secret-user-secret-user-secret-0000")
OTHER_KEY = ("AKIAOTHEROTHEROTHER0", "other-secret-other-secret-other-secret-0")


@pytest.fixture
def store():
    store = MemoryBackend()
    store.add_account(ACCOUNT, display_name="alice")
    store.add_key(ACCOUNT, *ROOT_KEY)
    store.add_key(ACCOUNT, *USER_KEY, user="mallory")
    store.add_account(OTHER, display_name="bob")
    store.add_key(OTHER, *OTHER_KEY)
    return store


def bucket_names(store, account=ACCOUNT) -> list[str]:
    return [info.name for info in store.list_buckets(account)]


# -- 1. the gateway asks the authorizer --------------------------------------------------

class DenyUsers:
    """Allows an account's root everything, its IAM users nothing; remembers each question."""

    def __init__(self) -> None:
        self.asked: list[tuple[str | None, str, str]] = []

    def is_allowed(self, identity, action, resource):
        self.asked.append((identity.user, action, resource))
        return identity.user is None


def test_gateway_asks_the_authorizer_for_every_operation(store):
    authorizer = DenyUsers()
    app = make_app(store, authorizer=authorizer)
    root, user = boto3_client(app, ROOT_KEY), boto3_client(app, USER_KEY)
    root.create_bucket(Bucket="kept")
    kept = store.get_bucket("kept")
    authorizer.asked.clear()

    refused = [(user.create_bucket, "made-by-user"), (user.delete_bucket, "kept"),
               (user.head_bucket, "kept"), (user.list_objects, "kept"),
               (user.list_objects_v2, "kept"), (user.list_object_versions, "kept"),
               (user.get_bucket_location, "kept")]
    for operation, bucket in refused:
        code = "403" if operation == user.head_bucket else "AccessDenied"   # (HEAD: no body)
        assert error_of(operation, Bucket=bucket) == (403, code), operation
    assert error_of(user.list_buckets) == (403, "AccessDenied")       # (the middleware's)

    assert store.get_bucket("made-by-user") is None
    assert store.get_bucket("kept") == kept                           # nothing changed
    assert bucket_names(store) == ["kept"]
    arn = "arn:aws:s3:::kept"
    assert authorizer.asked == [
        ("mallory", "s3:CreateBucket", "arn:aws:s3:::made-by-user"),
        ("mallory", "s3:DeleteBucket", arn),
        ("mallory", "s3:ListBucket", arn),                            # HeadBucket
        ("mallory", "s3:ListBucket", arn),                            # ListObjects
        ("mallory", "s3:ListBucket", arn),                            # ListObjectsV2
        ("mallory", "s3:ListBucketVersions", arn),
        ("mallory", "s3:GetBucketLocation", arn),
        ("mallory", "s3:ListAllMyBuckets", "arn:aws:s3:::*"),
    ]

    # The root, allowed, still does everything.
    authorizer.asked.clear()
    assert status_of(root.head_bucket(Bucket="kept")) == 200
    assert root.list_objects(Bucket="kept")["Name"] == "kept"
    assert root.list_objects_v2(Bucket="kept")["KeyCount"] == 0
    assert root.list_object_versions(Bucket="kept")["Name"] == "kept"
    assert root.get_bucket_location(Bucket="kept")["LocationConstraint"] is None
    assert status_of(root.delete_bucket(Bucket="kept")) == 204
    assert status_of(root.create_bucket(Bucket="made-by-root")) == 200
    assert bucket_names(store) == ["made-by-root"]
    assert {user for user, _, _ in authorizer.asked} == {None}
    assert [action for _, action, _ in authorizer.asked] == [
        "s3:ListBucket", "s3:ListBucket", "s3:ListBucket", "s3:ListBucketVersions",
        "s3:GetBucketLocation", "s3:DeleteBucket", "s3:CreateBucket"]


def test_denied_before_the_store_is_asked(store):
    # A denied caller learns nothing about the bucket: missing, another's or its own.
    store.add_bucket(OTHER, "bobs")
    store.add_bucket(ACCOUNT, "alices")
    user = boto3_client(make_app(store, authorizer=DenyUsers()), USER_KEY)
    for bucket in ("missing", "bobs", "alices"):
        assert error_of(user.get_bucket_location, Bucket=bucket) == (403, "AccessDenied")
        assert error_of(user.delete_bucket, Bucket=bucket) == (403, "AccessDenied")
    assert store.get_bucket("bobs")[0] == OTHER and store.get_bucket("alices")[0] == ACCOUNT


def test_the_gateway_follows_the_middlewares_authorizer(store):
    app = make_app(store, authorizer=AllowAuthenticated())
    user = boto3_client(app, USER_KEY)
    assert status_of(user.create_bucket(Bucket="first")) == 200
    app.authorizer = DenyUsers()                   # replaced later: the gateway asks it too
    assert error_of(user.create_bucket, Bucket="second") == (403, "AccessDenied")
    assert error_of(user.head_bucket, Bucket="first") == (403, "403")
    assert bucket_names(store) == ["first"]


def test_paste_app_factory_takes_an_authorizer():
    made = app_factory({}, db="memory", authorizer="s3service.backends.base:AllowAuthenticated")
    assert isinstance(made.authorizer, AllowAuthenticated)
    assert isinstance(app_factory({}, db="memory").authorizer, PolicyAuthorizer)
    denying = app_factory({"authorizer": "tests.gateway.test_app:DenyUsers"}, db="memory")
    assert type(denying.authorizer).__name__ == "DenyUsers"


# -- 2. DeleteBucket deletes only the caller's bucket --------------------------------------

class Meddling:
    """A store in which Bob deletes Alice's ``contested`` bucket and makes one of his own
    of that name, just after the gateway first looks at it (or just before it deletes)."""

    def __init__(self, store: MemoryBackend) -> None:
        self._store = store
        self._done = False

    def __getattr__(self, name):
        return getattr(self._store, name)

    def _meddle(self) -> None:
        if not self._done:
            self._done = True
            self._store.delete_bucket("contested")
            self._store.add_bucket(OTHER, "contested")

    def get_bucket(self, name):
        found = self._store.get_bucket(name)
        self._meddle()
        return found

    def delete_bucket(self, name, **options):
        self._meddle()
        return self._store.delete_bucket(name, **options)


def test_delete_bucket_never_deletes_another_accounts_new_bucket(store):
    store.add_bucket(ACCOUNT, "contested")
    alice = boto3_client(make_app(Meddling(store)), ROOT_KEY)
    assert error_of(alice.delete_bucket, Bucket="contested") == (403, "AccessDenied")
    assert store.get_bucket("contested")[0] == OTHER                 # Bob's bucket survives


def test_delete_bucket_answers(store):
    store.add_bucket(OTHER, "bobs")
    alice = boto3_client(make_app(store), ROOT_KEY)
    assert error_of(alice.delete_bucket, Bucket="missing") == (404, "NoSuchBucket")
    assert error_of(alice.delete_bucket, Bucket="bobs") == (403, "AccessDenied")
    assert store.get_bucket("bobs")[0] == OTHER
    alice.create_bucket(Bucket="alices")
    assert status_of(alice.delete_bucket(Bucket="alices")) == 204
    assert store.get_bucket("alices") is None


def test_an_account_creates_at_most_max_buckets(store):
    alice = boto3_client(make_app(store, max_buckets=2), ROOT_KEY)
    bob = boto3_client(make_app(store, max_buckets=2), OTHER_KEY)
    alice.create_bucket(Bucket="first")
    alice.create_bucket(Bucket="second")
    assert error_of(alice.create_bucket, Bucket="third") == (400, "TooManyBuckets")
    assert status_of(alice.create_bucket(Bucket="first")) == 200   # (S3's us-east-1 answer)
    assert status_of(bob.create_bucket(Bucket="bobs")) == 200       # a limit per account
    alice.delete_bucket(Bucket="second")
    alice.create_bucket(Bucket="third")
    assert bucket_names(store) == ["first", "third"]


def test_s3s_bucket_limit_by_default(store):
    for i in range(10_000):
        store.add_bucket(ACCOUNT, f"bucket-{i:05d}")
    alice = boto3_client(make_app(store), ROOT_KEY)
    assert error_of(alice.create_bucket, Bucket="one-more") == (400, "TooManyBuckets")
    unlimited = boto3_client(make_app(store, max_buckets=None), ROOT_KEY)
    assert status_of(unlimited.create_bucket(Bucket="one-more")) == 200


# -- 3. the SQLite file and its -wal/-shm are the owner's alone --------------------------

@pytest.fixture
def loose_umask():
    old = os.umask(0o022)               # the usual umask: new files 0644
    try:
        yield
    finally:
        os.umask(old)


def sqlite_files(path):
    return [p for p in (path, path.with_name(path.name + "-wal"),
                        path.with_name(path.name + "-shm")) if p.exists()]


def test_sqlite_files_are_created_private(tmp_path, loose_umask):
    from s3service.backends.sql import SQLBackend

    path = tmp_path / "secrets.db"
    store = SQLBackend(f"sqlite:///{path}")
    try:
        store.add_account(ACCOUNT, display_name="alice")
        store.add_key(ACCOUNT, *ROOT_KEY)
        assert store.get_credential(ROOT_KEY[0]).secret_key == ROOT_KEY[1]
        files = sqlite_files(path)
        assert path in files and len(files) == 3, files               # WAL: all three
        assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == \
            {p.name: oct(0o600) for p in files}
    finally:
        store.close()


def test_sqlite_side_files_never_looser_than_the_database(tmp_path, loose_umask):
    from s3service.backends.sql import SQLBackend

    path = tmp_path / "secrets.db"
    first = SQLBackend(f"sqlite:///{path}")
    second = None
    try:
        first.add_account(ACCOUNT, display_name="alice")          # keeps -wal and -shm open
        sides = sqlite_files(path)[1:]
        assert len(sides) == 2
        for side in sides:                                        # e.g. left by an older version
            side.chmod(0o644)
        second = SQLBackend(f"sqlite:///{path}")
        second.add_key(ACCOUNT, *ROOT_KEY)
        assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in sqlite_files(path)} == \
            {p.name: oct(0o600) for p in sqlite_files(path)}
    finally:
        first.close()
        if second is not None:
            second.close()


def test_existing_sqlite_file_keeps_its_mode(tmp_path, loose_umask):
    from s3service.backends.sql import SQLBackend

    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    store = SQLBackend(f"sqlite:///{path}")
    try:
        store.add_account(ACCOUNT)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        store.close()


# -- 4. answers S3 gives -----------------------------------------------------------------

def code_of(response) -> str | None:
    return ET.fromstring(response.body).findtext("Code")


@pytest.mark.parametrize("header", ["", " ", "\t  "])
def test_empty_authorization_header_is_access_denied(store, header):
    app = TestApp(make_app(store, service_hosts=["s3.example.com"]))
    for method, path in [("GET", "/"), ("PUT", "/new-bucket"), ("GET", "/?list-type=2")]:
        response = app.request(path, method=method, expect_errors=True,
                               headers={"Host": "s3.example.com", "Authorization": header})
        assert (response.status_int, code_of(response)) == (403, "AccessDenied"), (method, path)
    assert store.get_bucket("new-bucket") is None


def test_no_authorization_header_is_still_anonymous(store):
    # Anonymous (no header at all) reaches the gateway, which refuses it, as before.
    seen = []

    def gateway(environ, start_response):
        seen.append(environ["s3service.identity"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    from s3service import S3ServiceMiddleware

    app = TestApp(S3ServiceMiddleware(gateway, credentials=store, buckets=store,
                                      authenticate_all=True))
    assert app.request("/bucket", method="GET", headers={"Host": "s3.example.com"}).body == b"ok"
    assert seen == [None]
    empty = app.request("/bucket", method="GET", expect_errors=True,
                        headers={"Host": "s3.example.com", "Authorization": ""})
    assert (empty.status_int, code_of(empty)) == (403, "AccessDenied")
    assert seen == [None]


def test_recreating_your_own_bucket_in_us_east_1_is_ok(store):
    alice = boto3_client(make_app(store, region="us-east-1"), ROOT_KEY)
    made = alice.create_bucket(Bucket="mine")
    info = store.get_bucket("mine")
    again = alice.create_bucket(Bucket="mine")
    assert status_of(again) == 200 and again["Location"] == made["Location"] == "/mine"
    assert store.get_bucket("mine") == info                   # the same bucket, untouched
    assert bucket_names(store) == ["mine"]
    # Another account's bucket is still BucketAlreadyExists.
    bob = boto3_client(make_app(store, region="us-east-1"), OTHER_KEY)
    assert error_of(bob.create_bucket, Bucket="mine") == (409, "BucketAlreadyExists")
    # Your bucket in another region (a store shared with another endpoint) is a conflict.
    store.add_bucket(ACCOUNT, "in-europe", region="eu-west-1")
    assert error_of(alice.create_bucket, Bucket="in-europe") == (409, "BucketAlreadyOwnedByYou")


def test_recreating_your_own_bucket_elsewhere_is_a_conflict(store):
    eu = {"LocationConstraint": "eu-west-1"}
    alice = boto3_client(make_app(store, region="eu-west-1"), ROOT_KEY, region="eu-west-1")
    alice.create_bucket(Bucket="mine", CreateBucketConfiguration=eu)
    assert error_of(alice.create_bucket, Bucket="mine", CreateBucketConfiguration=eu) == \
        (409, "BucketAlreadyOwnedByYou")
