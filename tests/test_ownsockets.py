"""Finding this process's own TCP sockets (s3service.ownsockets)."""
from __future__ import annotations

import os
import socket

import pytest

from s3service.ownsockets import available, tcp_sockets

pytestmark = pytest.mark.skipif(not available(), reason="Linux only (/proc/self/fd)")


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_the_sockets_on_a_port_listening_and_connected_and_no_others():
    with socket.socket() as listener, socket.socket() as other, \
            socket.socket(type=socket.SOCK_DGRAM) as datagram:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        other.bind(("127.0.0.1", 0))
        datagram.bind(("127.0.0.1", port))              # (the same number, not TCP)
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            with accepted:
                found = list(tcp_sockets(port))         # (kept open: found once each)
                try:
                    kinds = sorted((s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN),
                                    s.getpeername() if not s.getsockopt(
                                        socket.SOL_SOCKET, socket.SO_ACCEPTCONN) else None)
                                   for s in found)
                    again = list(tcp_sockets(port))     # (the duplicates open meanwhile)
                    assert len(again) == 2
                    for sock in again:
                        sock.close()
                finally:
                    for sock in found:
                        sock.close()
                assert kinds == [(0, client.getsockname()), (1, None)]


def test_files_that_are_not_sockets_are_skipped_and_nothing_is_left_open():
    read, write = os.pipe()
    try:
        with open(__file__, "rb"), socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            before = open_files()
            for _ in range(3):
                for sock in tcp_sockets(listener.getsockname()[1]):
                    sock.close()
                assert list(tcp_sockets(1)) == []
            assert open_files() == before
    finally:
        os.close(read)
        os.close(write)
