"""Bounding how long a request's body may stall: S3's ``400 RequestTimeout``.

A WSGI server's ``wsgi.input`` may block for as long as the client sends
nothing: granian's (measured, 2.8) and gunicorn's do, with no time limit, on
the thread running the app.  :class:`IdleBoundedInput` puts each read of the
server's input on a small pool of threads (:class:`~s3service.timeouts.BoundedPool`)
and waits at most ``idle_timeout`` seconds for it to bring at least a byte:

* a read that brings nothing in time raises
  :class:`~s3service.errors.RequestTimeout` (and every read after it does
  too); the request's thread answers at once, while the abandoned read stays
  on its pool thread until the client sends on or leaves;
* when every thread of the pool holds such a read, a new read is refused at
  once with ``503 ServiceUnavailable`` rather than wait: stalled clients
  fill the pool, never the server's own threads.

"Nothing" is per read: granian's and gunicorn's inputs return a read only
once all the bytes it asked for have come (measured), and the payload checks
ask for up to 64 KiB at a time (a gateway's larger reads, more), so a body
must also come faster than that per ``idle_timeout`` (3.2 KiB/s at the
default).

What the servers do meanwhile (measured): under gunicorn's threaded worker
(2 threads, 4 clients each stalling after one byte, a 1 s bound) the first
two were answered at 1 s, the other two by 7 s, and a ListBuckets after them
at once.

granian 2.8 needs one more step.  Its ``wsgi.input`` read, abandoned on a
pool thread, ends only when the client sends on or leaves; and if the
request's callable *returns* while that read is still pending, the whole
worker stops (measured: one client stalling after its ``400``, and no other
request answered, its Python threads waiting for the GIL, until that client
left).  So under granian an answer given after abandoning a read is handed
to the server, and then does not end until the read has
(:func:`settles_reads`): the client gets its ``400 RequestTimeout`` after
``idle_timeout`` and the worker goes on answering everyone else.  To free
the request's thread too, the read side of the client's connection is shut
(:mod:`.cutoff`), which ends the read at once; granian then closes the
connection after the answer.  That needs the connection told apart by its
client's address: when the address has other connections in the process
(granian gives no client port), the thread stays held until that client
sends on or leaves, as it would reading on its own thread.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, wait
from typing import Any

from ..errors import RequestTimeout, ServiceUnavailable
from ..forking import in_each_child
from ..timeouts import BackendBusy, BoundedPool
from .body import LineInput
from .cutoff import cut_off

__all__ = ["DEFAULT_IDLE_TIMEOUT", "READ_THREADS", "IdleBoundedInput", "bound_body",
           "with_idle_bound"]

#: Seconds a body may send nothing before ``400 RequestTimeout`` (S3 closes
#: idle connections after about 20 s).
DEFAULT_IDLE_TIMEOUT = 20.0
#: Reads of stalled bodies a process holds at once before it refuses more.
READ_THREADS = 64
#: How much a read of "all of it" asks the server for at a time.
PIECE = 64 * 1024

_pool: BoundedPool | None = None


def _read_pool() -> BoundedPool:
    global _pool
    if _pool is None:
        _pool = BoundedPool(READ_THREADS, name="s3service-body")
    return _pool


def _forget_pool() -> None:
    global _pool
    _pool = None


in_each_child(_forget_pool)


class IdleBoundedInput(LineInput):
    """A file-like ``wsgi.input`` whose every read waits at most ``idle_timeout`` seconds."""

    def __init__(self, raw: Any, idle_timeout: float, pool: BoundedPool | None = None) -> None:
        self.raw, self.idle_timeout = raw, idle_timeout
        self.pool = pool or _read_pool()
        self.failure: Exception | None = None
        self.abandoned: Future[bytes] | None = None    # a read given up on, perhaps still running

    def _wait(self, fn: Callable[..., bytes], *args: Any) -> bytes:
        if self.failure is not None:
            raise self.failure
        try:
            future = self.pool.submit(fn, *args)
        except BackendBusy:
            self.failure = ServiceUnavailable("Too many requests are sending their bodies slowly.")
            raise self.failure from None
        done, _ = wait((future,), self.idle_timeout)
        if not done:
            self.failure, self.abandoned = RequestTimeout(), future
            raise self.failure
        return future.result()

    def settle(self) -> None:
        """Wait for an abandoned read to end (when its client sends on or leaves)."""
        if self.abandoned is not None:
            wait((self.abandoned,))

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that is left if ``size`` is ``-1`` or ``None``)."""
        if size is not None and size >= 0:
            return self._wait(self.raw.read, size) if size else b""
        parts = []
        while True:
            data = self._wait(self.raw.read, PIECE)
            if not data:
                return b"".join(parts)
            parts.append(data)

    def readline(self, size: int | None = -1) -> bytes:
        """One line, of at most ``size`` bytes if given."""
        if size is None or size < 0:
            return self._wait(self.raw.readline)
        return self._wait(self.raw.readline, size)


def _declares_body(environ: dict) -> bool:
    if "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower():
        return True
    try:
        return int(environ.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return True


def bound_body(environ: dict, idle_timeout: float | None) -> IdleBoundedInput | None:
    """Put an :class:`IdleBoundedInput` in ``environ["wsgi.input"]`` if the request has a body."""
    raw = environ.get("wsgi.input")
    if idle_timeout is None or raw is None or not _declares_body(environ):
        return None
    body = environ["wsgi.input"] = IdleBoundedInput(raw, idle_timeout)
    return body


def settles_reads(environ: dict) -> bool:
    """Whether an answer must wait for a read it abandoned: under granian.

    (See the module's docstring; other servers' reads, gunicorn's among them,
    may be left running behind a finished request.)  Told by the server's
    name rather than by its input's type, which other layers may wrap.
    """
    return str(environ.get("SERVER_SOFTWARE", "")).startswith("Granian")


def _settled(answer: Iterable[bytes], body: IdleBoundedInput) -> Iterator[bytes]:
    """``answer``'s pieces, then :meth:`~IdleBoundedInput.settle` before it ends."""
    try:
        yield from answer
        body.settle()
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()


def with_idle_bound(app: Callable[[dict, Any], Iterable[bytes]], idle_timeout: float | None
                    ) -> Callable[[dict, Any], Iterable[bytes]]:
    """``app``, its requests' bodies bounded by ``idle_timeout`` (``app`` itself if ``None``)."""
    if idle_timeout is None:
        return app

    def bounded(environ: dict, start_response: Any) -> Iterable[bytes]:
        body = bound_body(environ, idle_timeout)
        answer = app(environ, start_response)
        if body is not None and body.abandoned is not None and settles_reads(environ):
            abandoned = body.abandoned
            cut_off(environ, lambda: not abandoned.done())
            return _settled(answer, body)
        return answer

    return bounded
