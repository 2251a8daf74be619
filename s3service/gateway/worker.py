"""The gunicorn worker ``s3service serve`` runs: slow clients cost it no thread.

gunicorn's threaded worker hands a connection to a thread as soon as its first
byte arrives, and that thread then blocks until the request head is complete:
a client trickling header bytes (slowloris) holds it for as long as it likes,
and a few such clients hold them all.  A sync worker is worse off still: it
has one thread, and it lingers up to 2 s after every response for the client
to close its socket.

This worker reads request heads in its event loop instead, without blocking,
and gives a connection to a thread only once the head is complete; a client
that has not sent its whole head within :data:`HEAD_TIMEOUT` seconds is cut
off.  Closing a connection (sending FIN, then draining what the client still
sends for at most :data:`LINGER` seconds) happens in the event loop too.
Threads are only ever busy running the application and writing its answer,
and the event loop keeps telling gunicorn the worker is alive, so a slow
reader of a long listing gets all of it.

It also accepts any ``Expect`` value: S3 ignores values it does not know
(``Expect: 200``, an empty one), where gunicorn answers them ``417`` in HTML
before the application sees the request.  ``Expect: 100-continue`` works as
before.

With a plain gunicorn command::

    gunicorn -k s3service.gateway.worker.Worker --threads 16 \\
        's3service.gateway.server:create_app()'
"""
from __future__ import annotations

import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.http import message
from gunicorn.http2 import negotiation
from gunicorn.workers import gthread

#: Seconds a client has to send a request's head (request line and headers).
HEAD_TIMEOUT = 10.0
#: Seconds a closed connection waits for the client to close its end.
LINGER = 2.0
#: Bytes of a request head read in the event loop at most; the parser judges the rest.
MAX_HEAD = 64 * 1024
#: Bytes drained from a closing connection at most.
MAX_DRAIN = 64 * 1024
#: Seconds a worker waits before accepting another connection, for each request it is
#: reading or running (at most :data:`MAX_ACCEPT_PAUSE`): an idler worker takes it meanwhile.
ACCEPT_PAUSE = 0.0002
MAX_ACCEPT_PAUSE = 0.002

_END_OF_HEAD = b"\r\n\r\n"


class Worker(gthread.ThreadWorker):
    """gunicorn's threaded worker with request heads and closes handled in the event loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Connections whose head is being read, and closed ones lingering, each with
        # its deadline; in the order they came, so by deadline too.
        self._heads: dict[gthread.TConn, float] = {}
        self._closing: dict[socket.socket, float] = {}
        self._running = 0                  # requests in threads
        self._accept_after = 0.0

    def init_process(self) -> None:
        accept_any_expectation()
        super().init_process()

    def _readable_by_loop(self, conn: gthread.TConn) -> bool:
        # TLS and HTTP/2 with prior knowledge need the parser's own handshakes.
        return not (self.cfg.is_ssl or negotiation.prior_knowledge_allowed(self.cfg, conn.client))

    # -- accepting ----------------------------------------------------------------
    #
    # Without a pause, a burst of new connections (a client opening its pool)
    # all go to whichever worker wakes first, and stay there while kept alive:
    # one process serves them all, in threads that fight over its GIL, while
    # another idles.  Measured with wrk's 8 connections on 2 workers, about
    # one round in three ran at 40% of the others' rate.

    def accept(self, listener: Any) -> None:
        super().accept(listener)
        busy = self._running + len(self._heads)
        if busy:
            self._accept_after = time.monotonic() + min(MAX_ACCEPT_PAUSE, ACCEPT_PAUSE * busy)
            self.set_accept_enabled(False)

    def set_accept_enabled(self, enabled: bool) -> None:
        if enabled and self._accept_after:
            if time.monotonic() < self._accept_after:
                return                      # (asked again by the next turn of the loop)
            self._accept_after = 0.0
        super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if not self._accepting and self._accept_after:
            timeout = min(timeout, max(0.0, self._accept_after - time.monotonic()))
        super().wait_for_and_dispatch_events(timeout)

    # -- request heads -------------------------------------------------------------

    def enqueue_req(self, conn: gthread.TConn) -> None:
        if conn.is_http2 or not self._readable_by_loop(conn) or _has_buffered(conn):
            self._submit(conn)
            return
        conn.sock.setblocking(False)
        conn.head = bytearray()
        self._heads[conn] = time.monotonic() + HEAD_TIMEOUT
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_head, conn))

    def _read_head(self, conn: gthread.TConn, _sock: Any = None) -> None:
        data = _receive(conn.sock, MAX_HEAD)
        if data is None:
            return
        if data:
            conn.head += data
            if _END_OF_HEAD not in conn.head and len(conn.head) < MAX_HEAD:
                return
        self._stop_reading_head(conn)
        head, conn.head = bytes(conn.head), None
        if not head:                        # closed before saying anything
            self._drop(conn)
            return
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(head)
        conn.data_ready = True
        conn.sock.setblocking(True)
        self._submit(conn)

    def _stop_reading_head(self, conn: gthread.TConn) -> None:
        self.poller.unregister(conn.sock)
        del self._heads[conn]

    def _submit(self, conn: gthread.TConn) -> None:
        self._running += 1
        super().enqueue_req(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        for conn in _expired(self._heads):
            self._stop_reading_head(conn)
            conn.head = None
            self._drop(conn)
        for sock in _expired(self._closing):
            self._close_now(sock)

    def _drop(self, conn: gthread.TConn) -> None:
        self.nr_conns -= 1
        conn.close()

    # -- closing -------------------------------------------------------------------

    def finish_request(self, conn: gthread.TConn, fs: Any) -> None:
        self._running -= 1
        keep = fs.result() if not fs.cancelled() else False
        if keep:            # kept alive (or deferred): gunicorn's own bookkeeping
            super().finish_request(conn, fs)
            return
        self.nr_conns -= 1
        self._linger(conn.sock)

    def _linger(self, sock: socket.socket) -> None:
        """Send FIN, then drain the client's leftovers in the event loop until it closes."""
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, partial(self._drain, sock, [0]))
        except (OSError, ValueError, KeyError):
            _close(sock)
            return
        self._closing[sock] = time.monotonic() + LINGER

    def _drain(self, sock: socket.socket, drained: list[int], _sock: Any = None) -> None:
        data = _receive(sock, MAX_DRAIN)
        if data is None:
            return
        drained[0] += len(data)
        if not data or drained[0] >= MAX_DRAIN:
            self._close_now(sock)

    def _close_now(self, sock: socket.socket) -> None:
        del self._closing[sock]
        try:
            self.poller.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass
        _close(sock)


def _expired(deadlines: dict[Any, float]) -> list[Any]:
    """The keys of ``deadlines`` (kept in deadline order) whose time has come."""
    now, due = time.monotonic(), []
    for key, deadline in deadlines.items():
        if deadline > now:
            break
        due.append(key)
    return due


def _receive(sock: socket.socket, size: int) -> bytes | None:
    """What a non-blocking socket has (``b""`` at its end or on error), ``None`` if nothing yet."""
    try:
        return sock.recv(size)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


def _has_buffered(conn: gthread.TConn) -> bool:
    """Whether the parser already holds bytes of the next request (read ahead)."""
    return conn.parser is not None and bool(conn.parser.unreader.buf.getvalue())


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


_policy = message.HeaderPolicy._apply_header_policy


def _apply_header_policy(self: Any, name: str, value: str, *args: Any, **kwargs: Any) -> Any:
    if name == "EXPECT" and value.strip().lower() != "100-continue":
        return (name, value)
    return _policy(self, name, value, *args, **kwargs)


def accept_any_expectation() -> None:
    """Let requests with an ``Expect`` value other than ``100-continue`` through (as S3 does)."""
    message.HeaderPolicy._apply_header_policy = _apply_header_policy
