"""The idle bound on a request's body, on a real socket: S3's ``400 RequestTimeout``."""
from __future__ import annotations

import io
import socket

import pytest

from s3service.errors import RequestTimeout, ServiceUnavailable
from s3service.payload.idle import IdleBoundedInput, bound_body
from s3service.timeouts import BoundedPool


@pytest.fixture
def wire():
    server, client = socket.socketpair()
    with server, client:
        yield server.makefile("rb"), client


def test_a_body_that_stops_arriving_is_request_timeout(wire):
    raw, client = wire
    body = IdleBoundedInput(raw, 0.2, pool=BoundedPool(2))
    client.sendall(b"abc")
    assert body.read(3) == b"abc"
    with pytest.raises(RequestTimeout) as info:
        body.read(10)                 # 10 asked, none coming
    assert info.value.status == 400
    client.sendall(b"late")
    with pytest.raises(RequestTimeout):
        body.read(4)                  # never read on after a timeout


def test_stalled_reads_past_the_pool_are_refused_at_once(wire):
    raw, client = wire
    pool = BoundedPool(1)
    with pytest.raises(RequestTimeout):
        IdleBoundedInput(raw, 0.1, pool=pool).read(1)
    with pytest.raises(ServiceUnavailable):
        IdleBoundedInput(io.BytesIO(b"x"), 5.0, pool=pool).read(1)
    client.sendall(b"!")              # the stalled read ends; its thread is free again


def test_only_declared_bodies_are_bounded():
    environ = {"REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO(b"")}
    bound_body(environ, 1.0)
    assert isinstance(environ["wsgi.input"], io.BytesIO)
    environ = {"REQUEST_METHOD": "PUT", "CONTENT_LENGTH": "5", "wsgi.input": io.BytesIO(b"hello")}
    bound_body(environ, 1.0)
    assert isinstance(environ["wsgi.input"], IdleBoundedInput)
    assert environ["wsgi.input"].read() == b"hello"
    environ = {"REQUEST_METHOD": "PUT", "CONTENT_LENGTH": "5", "wsgi.input": io.BytesIO(b"hello")}
    bound_body(environ, None)
    assert isinstance(environ["wsgi.input"], io.BytesIO)
