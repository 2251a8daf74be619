"""The sample gateway tested as a user tests theirs: s3service.testing, in-process.

Also the default authorizer, in-process: an IAM user with no policy may do
nothing, the account's root key everything.
"""
from __future__ import annotations

from defusedxml import ElementTree

import pytest

from s3service.testing import S3TestApp, Sandbox, error_code, sandbox
from tests.sample.gateway import SERVICE_HOST, make_app

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture
def world() -> Sandbox:
    return sandbox()


@pytest.fixture
def root(world: Sandbox) -> S3TestApp:
    app = S3TestApp(make_app(world.store), world.root, host=SERVICE_HOST)
    app.put("/photos")
    return app


def bucket_names(response: object) -> list[str]:
    root = ElementTree.fromstring(response.body)  # type: ignore[attr-defined]
    return [name.text for name in root.iter(f"{NS}Name")]


def test_the_root_key_may_do_everything(root: S3TestApp) -> None:
    assert root.put("/photos/cat.jpg", b"meow").status_int == 200
    assert root.get("/photos/cat.jpg").body == b"meow"
    assert bucket_names(root.get("/")) == ["photos"]
    assert root.delete("/photos/cat.jpg").status_int == 204
    answer = root.get("/photos/cat.jpg", expect_errors=True)
    assert (answer.status_int, error_code(answer)) == (404, "NoSuchKey")


def test_an_iam_user_without_a_policy_may_do_nothing(world: Sandbox, root: S3TestApp) -> None:
    root.put("/photos/cat.jpg", b"meow")
    user = S3TestApp(root.app, world.user, host=SERVICE_HOST)
    for answer in (user.put("/photos/dog.jpg", b"woof", expect_errors=True),
                   user.get("/photos/cat.jpg", expect_errors=True),
                   user.delete("/photos/cat.jpg", expect_errors=True),
                   user.put("/videos", expect_errors=True),
                   user.get("/", expect_errors=True)):
        assert (answer.status_int, error_code(answer)) == (403, "AccessDenied")
    assert root.get("/photos/cat.jpg").body == b"meow"
    answer = root.get("/photos/dog.jpg", expect_errors=True)
    assert error_code(answer) == "NoSuchKey"


def test_an_iam_user_may_do_what_its_policy_allows(world: Sandbox, root: S3TestApp) -> None:
    root.put("/photos/cat.jpg", b"meow")
    world.allow("s3:GetObject", "arn:aws:s3:::photos/*")
    user = S3TestApp(root.app, world.user, host=SERVICE_HOST)
    assert user.get("/photos/cat.jpg").body == b"meow"
    answer = user.put("/photos/cat.jpg", b"woof", expect_errors=True)
    assert (answer.status_int, error_code(answer)) == (403, "AccessDenied")


@pytest.mark.parametrize("signature", ["v2", "v4"])
def test_presigned_and_header_signatures_of_both_versions(root: S3TestApp,
                                                          signature: str) -> None:
    root.s3("PUT", "/photos/a b+c.txt", b"spaces", signature=signature)
    assert root.s3("GET", "/photos/a%20b%2Bc.txt", signature=signature).body == b"spaces"
    presigned = root.s3("GET", "/photos/a%20b%2Bc.txt", signature=signature, presign=True)
    assert presigned.body == b"spaces"
    assert "Authorization" not in presigned.request.headers


@pytest.mark.parametrize("payload", ["unsigned", "streaming", "streaming-trailer",
                                     "unsigned-trailer"])
def test_payload_hashes_and_aws_chunked_bodies(root: S3TestApp, payload: str) -> None:
    data = bytes(range(256)) * 300                        # 76,800 bytes: two chunks
    root.s3("PUT", "/photos/blob", data, payload=payload, chunk_size=65536)
    assert root.get("/photos/blob").body == data


def test_a_body_that_does_not_match_its_signature_is_refused(root: S3TestApp) -> None:
    request = root.RequestClass.blank("/photos/x", dict(root.extra_environ), method="PUT")
    request.body = b"original"
    root._sign(request, root.keys, signature="v4")
    request.body = b"tampered"
    answer = root.do_request(request, expect_errors=True)
    assert (answer.status_int, error_code(answer)) == (400, "XAmzContentSHA256Mismatch")
    assert error_code(root.get("/photos/x", expect_errors=True)) == "NoSuchKey"


def test_anonymous_and_wrong_keys_are_refused(world: Sandbox, root: S3TestApp) -> None:
    answer = root.s3("GET", "/photos/x", anonymous=True, expect_errors=True)
    assert (answer.status_int, error_code(answer)) == (403, "AccessDenied")
    forged = type(world.root)(world.root.access_key, "not-the-secret")
    answer = root.s3("GET", "/photos/x", keys=forged, expect_errors=True)
    assert (answer.status_int, error_code(answer)) == (403, "SignatureDoesNotMatch")


def test_the_host_signed_is_the_host_the_app_sees(world: Sandbox) -> None:
    seen: list[str] = []

    def gateway(environ: dict[str, str], start_response: object) -> list[bytes]:
        seen.append(environ["HTTP_HOST"])
        start_response("200 OK", [])  # type: ignore[operator]
        return [b""]

    from s3service import S3ServiceMiddleware
    app = S3TestApp(S3ServiceMiddleware(gateway, credentials=world.store, buckets=world.store,
                                        service_hosts="localhost:8000", authenticate_all=True),
                    world.root, host="localhost:8000")
    assert app.get("/photos/x").status_int == 200
    app.s3("GET", "/x", host="photos.localhost:8000", signature="v2")
    assert seen == ["localhost:8000", "photos.localhost:8000"]
