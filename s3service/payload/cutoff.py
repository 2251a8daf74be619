"""Ending a body read given up on under granian: shutting the read side of its connection.

granian 2.8's ``wsgi.input`` read, once :mod:`.idle` has given up on it,
ends only when the client sends on or leaves, and the request's thread must
wait for it (see :mod:`.idle`).  Shutting the read side of the client's
connection (``shutdown(SHUT_RD)``) ends it at once (measured, granian 2.8.9:
the read returns what it had, the ``400 RequestTimeout`` goes out, and
granian closes the connection), so the thread serves others again.

The connection is found among the process's open files: the TCP connection
on the server's port (``SERVER_PORT``) from the client's address
(``REMOTE_ADDR``).  granian gives no client port, so an address identifies a
connection only when it has no other in the process: when it has several
(clients behind one NAT or proxy, or one client's several connections), none
is touched and the thread waits for the client as before.  This runs only
when a body has stalled for ``idle_timeout``, and costs that request about
17 µs per socket the process holds (measured: 70 ms at 4,000).

One case is left: if the stalled client leaves at the very moment its bound
fires, and a new connection from the same address is accepted before granian
has ended the read, that new connection may be the one found.  The read is
checked to be still pending after the search, which leaves a window of the
time granian takes to end a read after its connection closed.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable
from typing import Any

from ..ownsockets import available, tcp_sockets

__all__ = ["cut_off"]

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address

log = logging.getLogger("s3service.payload")


def _address(text: str) -> _Address | None:
    """``text`` as an IP address, an IPv4-mapped IPv6 one as its IPv4 address."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _connections(port: int, peer: _Address) -> list[socket.socket]:
    """This process's TCP connections on local ``port`` from ``peer`` (duplicates to close)."""
    found = []
    for sock in tcp_sockets(port):
        try:
            if _address(sock.getpeername()[0]) == peer:
                found.append(sock)
                continue
        except OSError:                  # (not connected: a listening socket, say)
            pass
        sock.close()
    return found


def cut_off(environ: dict[str, Any], pending: Callable[[], bool]) -> bool:
    """Shut the read side of the request's connection if its address identifies it, and
    the read is still ``pending()`` once it is found; whether it was.

    Linux only (its ``/proc/self/fd``); elsewhere nothing is done.
    """
    peer = _address(str(environ.get("REMOTE_ADDR", "")))
    try:
        port = int(environ.get("SERVER_PORT", ""))
    except ValueError:
        return False
    if peer is None or not available():
        return False
    found = _connections(port, peer)
    try:
        if len(found) != 1 or not pending():
            if len(found) > 1:
                log.info("a stalled body's connection is not told apart from %d others from "
                         "%s: its thread waits for the client", len(found) - 1, peer)
            return False
        try:
            found[0].shutdown(socket.SHUT_RD)
        except OSError:                  # (closed meanwhile: the read is ending anyway)
            return False
        return True
    finally:
        for sock in found:
            sock.close()
