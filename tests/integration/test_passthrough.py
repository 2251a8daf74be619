"""Requests that are not ListBuckets reach the gateway untouched, body and all."""
from __future__ import annotations

import hashlib
import os

import pytest

from . import seed
from .checks import echo_of
from .rawhttp import send, sign_v4


def test_path_style_bucket_reaches_gateway(server):
    resp = send(server.url, "GET", "/photos?list-type=2&prefix=a%2Fb",
                [("Host", server.netloc), ("Authorization", "AWS whatever:garbage")])
    doc = echo_of(resp)
    assert doc["method"] == "GET"
    assert doc["path"] == "/photos"
    assert doc["query"] == "list-type=2&prefix=a%2Fb"
    assert doc["host"] == server.netloc
    # Not authenticated by the middleware: nothing added, header left for the gateway.
    assert doc["has_identity"] is False
    assert doc["authorization"] == "AWS whatever:garbage"
    assert resp.header("x-amz-request-id") is None


def test_virtual_hosted_root_reaches_gateway(server):
    host = f"photos.{seed.SERVICE_HOST}:{server.port}"
    doc = echo_of(send(server.url, "GET", "/", [("Host", host)]))
    assert doc["method"] == "GET"
    assert doc["path"] == "/"
    assert doc["query"] == ""
    assert doc["host"] == host
    assert doc["has_identity"] is False


def test_virtual_hosted_root_with_query_reaches_gateway(server):
    host = f"photos.{seed.SERVICE_HOST.upper()}:{server.port}"
    doc = echo_of(send(server.url, "GET", "/?location", [("Host", host)]))
    assert (doc["path"], doc["query"], doc["host"]) == ("/", "location", host)


def test_virtual_hosted_signed_request_reaches_gateway(server):
    host = f"photos.{seed.SERVICE_HOST}:{server.port}"
    headers = sign_v4("GET", server.url + "/", seed.ROOT_KEY, seed.ROOT_SECRET, host=host)
    doc = echo_of(send(server.url, "GET", "/", headers))
    assert doc["path"] == "/" and doc["host"] == host
    assert doc["authorization"].startswith("AWS4-HMAC-SHA256 ")


@pytest.mark.parametrize("size", [0, 1, 300_000])
def test_post_body_is_left_for_the_gateway(server, size):
    body = os.urandom(size)
    headers = [("Host", server.netloc), ("Content-Type", "application/octet-stream"),
               ("Content-Length", str(size))]
    doc = echo_of(send(server.url, "POST", "/photos?delete", headers, body))
    assert doc["method"] == "POST"
    assert doc["path"] == "/photos"
    assert doc["body_bytes"] == size
    assert doc["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_post_to_service_root_passes_through_with_body(server):
    body = b"<Delete><Object><Key>k</Key></Object></Delete>"
    headers = [("Host", server.netloc), ("Content-Length", str(len(body)))]
    doc = echo_of(send(server.url, "POST", "/", headers, body))
    assert doc["method"] == "POST" and doc["path"] == "/"
    assert doc["body_bytes"] == len(body)
    assert doc["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_put_object_path_style_with_body(server):
    body = b"x" * 4096
    headers = sign_v4("PUT", server.url + "/photos/dir/a%20b.txt", seed.ROOT_KEY,
                      seed.ROOT_SECRET, body=body)
    doc = echo_of(send(server.url, "PUT", "/photos/dir/a%20b.txt", headers, body))
    assert doc["method"] == "PUT"
    assert doc["path"] == "/photos/dir/a b.txt"
    assert doc["body_bytes"] == 4096
    assert doc["has_identity"] is False


def test_head_bucket_passes_through(server):
    resp = send(server.url, "HEAD", "/photos", [("Host", server.netloc)])
    assert resp.status == 200
    assert resp.body == b""
    assert resp.header("Content-Type") == "application/json"
