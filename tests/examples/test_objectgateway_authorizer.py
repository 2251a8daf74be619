"""examples/objectgateway.py asks the middleware's authorizer key by key in DeleteObjects,
and the action of each operation in its table (in process: the authorizer is the test's)."""
from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path

import pytest

pytest.importorskip("webtest")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class KeysUnderPublic:
    """Allows everything but deleting objects outside ``public/``."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def is_allowed(self, identity, action, resource) -> bool:
        self.asked.append((action, resource))
        return action != "s3:DeleteObject" or resource.startswith("arn:aws:s3:::bkt/public/")


@pytest.fixture
def app(tmp_path):
    from s3service.testing import S3TestApp, sandbox

    sys.path.insert(0, str(EXAMPLES))
    try:
        from objectgateway import make_app
    finally:
        sys.path.remove(str(EXAMPLES))
    world, authorizer = sandbox(), KeysUnderPublic()
    gateway = make_app(tmp_path / "objects", world.store, authorizer=authorizer)
    return S3TestApp(gateway, world.root, host="localhost"), authorizer


def send(app, method: str, path: str, body: bytes = b"", headers=(), status: int | str = 200):
    return app.s3(method, path, body, headers=dict(headers), status=status)


def test_delete_objects_asks_for_each_key(app):
    app, authorizer = app
    send(app, "PUT", "/bkt")
    for key in ("public/a", "private/b"):
        send(app, "PUT", f"/bkt/{key}", b"data")
    authorizer.asked.clear()
    body = (b"<Delete><Object><Key>public/a</Key></Object>"
            b"<Object><Key>private/b</Key></Object></Delete>")
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    answer = send(app, "POST", "/bkt?delete", body, {"Content-MD5": md5}).body
    assert b"<Deleted><Key>public/a</Key></Deleted>" in answer
    assert b"<Error><Key>private/b</Key><Code>AccessDenied</Code>" in answer
    assert authorizer.asked == [("s3:DeleteObject", "arn:aws:s3:::bkt/public/a"),
                                ("s3:DeleteObject", "arn:aws:s3:::bkt/private/b")]
    send(app, "GET", "/bkt/public/a", status=404)
    assert send(app, "GET", "/bkt/private/b").body == b"data"

    # Without Content-MD5 (or a checksum) S3 refuses the request whole.
    refused = send(app, "POST", "/bkt?delete", body, status=400).body
    assert b"<Code>InvalidRequest</Code>" in refused
    assert send(app, "GET", "/bkt/private/b").body == b"data"


@pytest.mark.parametrize("method, path, action", [
    ("GET", "/bkt?versions", "s3:ListBucketVersions"),
    ("GET", "/bkt?location", "s3:GetBucketLocation"),
    ("GET", "/bkt?list-type=2", "s3:ListBucket"),
    ("HEAD", "/bkt/k", "s3:GetObject"),
    ("POST", "/bkt/k?uploads", "s3:PutObject"),
    ("DELETE", "/bkt/k?uploadId=" + "0" * 32, "s3:AbortMultipartUpload"),
])
def test_each_operation_asks_its_action(app, method, path, action):
    app, authorizer = app
    send(app, "PUT", "/bkt")
    send(app, "PUT", "/bkt/k", b"data")
    authorizer.asked.clear()
    send(app, method, path, status="*")
    resource = "arn:aws:s3:::bkt" + ("/k" if "/bkt/k" in path else "")
    assert authorizer.asked == [(action, resource)]
