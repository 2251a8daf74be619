"""serve's bound on stalled answers (s3service.gateway.sendtimeout), on sockets of this process."""
from __future__ import annotations

import socket

import pytest

from s3service.gateway.sendtimeout import bound_sends, supported, with_send_timeout

pytestmark = pytest.mark.skipif(not supported(), reason="Linux only (TCP_USER_TIMEOUT, /proc)")


def user_timeout(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)


@pytest.fixture
def listening():
    with socket.socket() as listener, socket.socket() as other:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield listener, other


def test_the_listener_its_connections_and_later_ones_get_it_and_no_other_socket(listening):
    listener, other = listening
    port = listener.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port)) as client:
        before, _ = listener.accept()
        with before:
            assert bound_sends(port, 2.5) == 1
            assert user_timeout(listener) == 2500 and user_timeout(before) == 2500
            assert user_timeout(client) == 0 and user_timeout(other) == 0   # (other ports)
        with socket.create_connection(("127.0.0.1", port)):
            after, _ = listener.accept()
            with after:
                assert user_timeout(after) == 2500          # inherited from the listener


def test_no_listener_on_the_port_is_nothing_set(listening):
    _, other = listening
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        assert bound_sends(unused.getsockname()[1], 1.0) == 0
    assert user_timeout(other) == 0


def test_the_app_sets_it_once_on_the_first_request(listening):
    listener, _ = listening
    port = listener.getsockname()[1]
    calls = []

    def app(environ, start_response):
        calls.append(user_timeout(listener))
        return [b""]

    bounded = with_send_timeout(app, port, 0.0004)       # (at least a millisecond: 0 is off)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 0)
    assert bounded({}, None) == [b""]
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 7)
    bounded({}, None)
    assert calls == [1, 7]                               # not set again
    assert with_send_timeout(app, port, None) is app
