"""Shutting the read side of a stalled body's connection (s3service.payload.cutoff),
on sockets of this process."""
from __future__ import annotations

import os
import socket

import pytest

from s3service.payload.cutoff import _address, cut_off

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="Linux only")


@pytest.fixture
def connections():
    """A listening socket and, accepted on it, two connections from 127.0.0.40 and one from
    127.0.0.41: ``(port, {(source, n): (client, server side)})``."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        pairs = {}
        for source, n in (("127.0.0.40", 0), ("127.0.0.40", 1), ("127.0.0.41", 0)):
            client = socket.create_connection(("127.0.0.1", port), source_address=(source, 0))
            pairs[source, n] = client, listener.accept()[0]
        yield port, pairs
        for client, server in pairs.values():
            client.close()
            server.close()


def environ(port: int, address: str) -> dict:
    return {"SERVER_PORT": str(port), "REMOTE_ADDR": address}


def read_side_open(server: socket.socket) -> bool:
    server.settimeout(0.05)
    try:
        return server.recv(1) != b""
    except socket.timeout:
        return True


def test_the_one_connection_from_an_address_has_its_read_side_shut(connections):
    port, pairs = connections
    assert cut_off(environ(port, "127.0.0.41"), lambda: True)
    client, server = pairs["127.0.0.41", 0]
    assert not read_side_open(server)                       # the read ends at once
    server.sendall(b"still answered")                       # the answer still goes out
    assert client.recv(100) == b"still answered"
    assert all(read_side_open(pairs[key][1]) for key in pairs if key[0] == "127.0.0.40")


def test_an_address_with_several_connections_or_a_read_ended_is_left_alone(connections):
    port, pairs = connections
    assert not cut_off(environ(port, "127.0.0.40"), lambda: True)     # not told apart
    assert not cut_off(environ(port, "127.0.0.41"), lambda: False)    # ended meanwhile
    assert not cut_off(environ(port + 1 if port < 65535 else 1, "127.0.0.41"), lambda: True)
    for bad in ({}, {"SERVER_PORT": str(port)}, environ(port, "somewhere"),
                {"SERVER_PORT": "http", "REMOTE_ADDR": "127.0.0.41"}):
        assert not cut_off(bad, lambda: True)
    assert all(read_side_open(server) for _, server in pairs.values())


def test_addresses_compare_as_ip_addresses():
    assert _address("::ffff:127.0.0.1") == _address("127.0.0.1")
    assert _address("fe80::1%eth0") == _address("fe80::1")
    assert _address("") is None and _address("unknown") is None
