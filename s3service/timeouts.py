"""Bounding the time a request may spend waiting for a backend.

``backend_timeout`` means one thing wherever it is set: the longest a request
waits for one answer of the store, in seconds, before it gets ``503
ServiceUnavailable`` (``None``: no bound).  Who enforces it depends on the
store:

* a store that talks to a server bounds its own waits -- the SQL store, at
  the driver, with no extra thread (``SQLBackend(url, backend_timeout=5)``;
  ``s3service serve --backend-timeout`` sets it, on any
  :class:`~s3service.backends.protocols.AdminStore`);
* for any other store (one of your own, which may block in ways nothing can
  interrupt) the middleware bounds the calls it makes, on a pool of threads:
  ``S3ServiceMiddleware(..., backend_timeout=2.0)``.

With the middleware's ``backend_timeout`` the calls that can
block on a store -- the credential look-up and fetching the first page of a
ListBuckets answer -- run on a small pool of threads shared by the process,
and the request thread waits for at most ``backend_timeout`` seconds:

* a call still running then is abandoned (its thread finishes it, or stays
  stuck, in the background) and the client gets ``503 ServiceUnavailable``;
* when every thread of the pool is stuck in a call, further requests get
  ``503`` at once instead of queueing behind them;
* exceptions raised by the call reach the request thread unchanged.

The threads are daemons and are never joined, so a backend that hangs for
good cannot keep a worker process from exiting.  Each process (e.g. each
gunicorn worker forked from a preloading master) gets its own pool.

Without a timeout (``backend_timeout=None``, the default) nothing here is
used: calls run inline on the request thread.

Example::

    from s3service.timeouts import call_with_timeout

    cred = call_with_timeout(2.0, store.get_credential, "AKIDEXAMPLE")
"""
from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from typing import Any, TypeVar

from .backends.base import BackendUnavailable, Credential
from .forking import in_each_child

__all__ = ["DEFAULT_THREADS", "BackendBusy", "BackendTimeout", "BoundedCredentials",
           "BoundedPool", "call_with_timeout", "shared_pool"]

T = TypeVar("T")

#: Threads of the shared pool: the most backend calls a process runs at once
#: under a timeout (stuck ones included).
DEFAULT_THREADS = 32


class BackendTimeout(BackendUnavailable):
    """A backend call did not finish in time (answered ``503 ServiceUnavailable``)."""


class BackendBusy(BackendUnavailable):
    """Every thread of the pool is busy with (stuck) backend calls (``503`` at once)."""


_pools: weakref.WeakSet[BoundedPool] = weakref.WeakSet()


class BoundedPool:
    """At most ``max_threads`` daemon threads running submitted calls; never a queue of waiters.

    :meth:`submit` refuses (:class:`BackendBusy`) rather than wait when
    ``max_threads`` calls are already running.  Threads are started on demand
    and then kept; none is ever joined.
    """

    def __init__(self, max_threads: int = DEFAULT_THREADS, name: str = "s3service-backend") -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be at least 1")
        self.max_threads = int(max_threads)
        self.name = name
        self._reset()
        _pools.add(self)

    def _reset(self) -> None:
        # Also run in a forked child: the parent's threads do not exist there.
        self._lock = threading.Lock()
        self._tasks: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple, dict]] = \
            queue.SimpleQueue()
        self._threads = 0
        self._running = 0      # calls submitted and not finished (stuck ones included)

    @property
    def running(self) -> int:
        """Calls submitted and not yet finished."""
        return self._running

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future:
        """Start ``fn(*args, **kwargs)`` on a pool thread; its :class:`~concurrent.futures.Future`.

        Raises :class:`BackendBusy` when every thread is taken.
        """
        future: Future = Future()
        with self._lock:
            if self._running >= self.max_threads:
                raise BackendBusy(f"all {self.max_threads} backend threads are busy")
            self._running += 1
            start = self._running > self._threads
            if start:
                self._threads += 1
        if start:
            try:
                threading.Thread(target=self._work, name=f"{self.name}-{self._threads}",
                                 daemon=True).start()
            except BaseException:
                with self._lock:
                    self._threads -= 1
                    self._running -= 1
                raise
        self._tasks.put((future, fn, args, kwargs))
        return future

    def _work(self) -> None:
        tasks = self._tasks
        while True:
            future, fn, args, kwargs = tasks.get()
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = fn(*args, **kwargs)
                    except BaseException as exc:
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
            finally:
                del future, fn, args, kwargs
                with self._lock:
                    self._running -= 1


def _after_fork_in_child() -> None:
    for pool in list(_pools):
        pool._reset()


in_each_child(_after_fork_in_child)

_shared: BoundedPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> BoundedPool:
    """The process-wide pool (:data:`DEFAULT_THREADS` threads, started on demand)."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = BoundedPool(DEFAULT_THREADS)
    return _shared


def call_with_timeout(timeout: float, fn: Callable[..., T], *args: Any,
                      pool: BoundedPool | None = None, what: str | None = None,
                      **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, waiting at most ``timeout`` seconds for it.

    Raises :class:`BackendTimeout` when it takes longer (it keeps running,
    abandoned), :class:`BackendBusy` when the pool has no free thread, and
    whatever ``fn`` raises otherwise.  ``what`` names the call in the message.
    """
    future = (pool or shared_pool()).submit(fn, *args, **kwargs)
    done, _ = wait_futures((future,), timeout)
    if not done:
        name = what or getattr(fn, "__qualname__", "backend call")
        raise BackendTimeout(f"{name} did not answer within {timeout:g} s")
    return future.result()


class BoundedCredentials:
    """A credential store whose :meth:`get_credential` is bounded by ``timeout`` seconds."""

    __slots__ = ("store", "timeout", "pool")

    def __init__(self, store: Any, timeout: float, pool: BoundedPool | None = None) -> None:
        self.store, self.timeout, self.pool = store, timeout, pool

    def get_credential(self, access_key: str) -> Credential | None:
        return call_with_timeout(self.timeout, self.store.get_credential, access_key,
                                 pool=self.pool, what="credential look-up")



class BoundedCORS:
    """A CORS source whose :meth:`bucket_cors` is bounded by ``timeout`` seconds."""

    __slots__ = ("store", "timeout", "pool")

    def __init__(self, store: Any, timeout: float, pool: BoundedPool | None = None) -> None:
        self.store, self.timeout, self.pool = store, timeout, pool

    def bucket_cors(self, bucket: str) -> Any:
        return call_with_timeout(self.timeout, self.store.bucket_cors, bucket,
                                 pool=self.pool, what="CORS rules look-up")
