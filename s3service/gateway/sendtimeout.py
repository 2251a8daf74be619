"""Bounding how long an answer may stall: ``serve --send-timeout``.

A client that stops reading its answer leaves it in the server's socket
buffers; granian 2.8 then keeps the connection open for as long as the
client stays, and a streamed answer (one sent in several pieces) keeps the
thread that hands it the pieces blocked too.  granian has no setting that
bounds this, but Linux does, per socket: ``TCP_USER_TIMEOUT`` (tcp(7)) is the
longest that sent data may stay unacknowledged, or buffered data unsent
because the client's receive window is zero, before the kernel drops the
connection.  The server's write then fails, granian closes the connection
and the thread is free again.  (Measured on Linux 6.18: a client reading
nothing was dropped 2.3 s into a 2 s bound, its next read a reset.)

Sockets a listening socket accepts inherit the option from it (measured),
so one ``setsockopt`` per worker does it.  granian builds each worker's
listening socket itself, after the application is loaded, and offers no
hook: :func:`with_send_timeout` sets the option on the worker's first
request, on the listening socket found among the process's open files and
on the connections that socket has already accepted.  A connection whose
handshake completed just before that first request, and that granian has
not yet accepted, is the only one that may go without it.

The bound applies only while an answer is pending (data unsent or
unacknowledged): a connection idle between requests is bounded by the head
timeout, and a body that stops coming by the ``idle_timeout`` of
:mod:`s3service.payload.idle`.  Linux only: elsewhere nothing is set.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..ownsockets import available, tcp_sockets

__all__ = ["DEFAULT_SEND_TIMEOUT", "bound_sends", "with_send_timeout"]

#: Seconds an answer may stall (its client reading nothing) before its connection is dropped.
DEFAULT_SEND_TIMEOUT = 60.0

#: The largest value the option takes (milliseconds, a C int).
_MAX_MS = 2**31 - 1

log = logging.getLogger("s3service.gateway")


def supported() -> bool:
    """Whether this system can bound stalled answers (Linux: ``TCP_USER_TIMEOUT`` and /proc)."""
    return hasattr(socket, "TCP_USER_TIMEOUT") and available()


def bound_sends(port: int, seconds: float) -> int:
    """Set ``TCP_USER_TIMEOUT`` to ``seconds`` on this process's listening TCP sockets on
    ``port``, then on the connections they accepted; how many listening sockets had it set."""
    millis = min(_MAX_MS, max(1, round(seconds * 1000)))
    listeners = 0
    for accepting in (True, False):      # listeners first: what they accept later inherits it
        for sock in tcp_sockets(port):
            with sock:
                try:
                    if bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)) \
                            != accepting:
                        continue
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, millis)
                except OSError:          # (a connection closing meanwhile)
                    continue
            if accepting:
                listeners += 1
    return listeners


def with_send_timeout(app: Callable[[dict[str, Any], Any], Iterable[bytes]], port: int,
                      seconds: float | None) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    """``app``, its process's answers on ``port`` bounded to stall at most ``seconds``.

    Made in each server worker (the option is set on the worker's own
    listening socket, on its first request); ``app`` itself if ``seconds`` is
    ``None`` or the system cannot (:func:`supported`).
    """
    if seconds is None or not supported():
        return app
    lock = threading.Lock()
    done = False

    def bounded(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        nonlocal done
        if not done:
            with lock:
                if not done:
                    if not bound_sends(port, seconds):
                        log.warning("no listening socket on port %d found: answers that "
                                    "stall are not bounded in process %d", port, os.getpid())
                    done = True
        return app(environ, start_response)

    return bounded
