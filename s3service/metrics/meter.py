"""Counting traffic in-process and handing it to the metrics store in batches.

A :class:`Meter` appends each request to a queue (a ``deque.append`` of one
tuple: no lock on the request path).  When it flushes it adds the queue up
into one counter per ``(interval, operation, account, user, bucket)`` (with a
``Counter`` first, so that identical requests -- the same caller listing the
same buckets -- are added up in C), rolls those up into one counter per level
(:class:`~s3service.backends.metrics_base.Entity`: the service, the account,
the user, the bucket) and writes them to its :class:`~.store.MetricsStore` in
one call:

* every ``flush_interval`` seconds (default 10), from a daemon thread started
  on the first request counted in a process (so a meter created before a
  fork, e.g. in a preloading gunicorn master, counts and flushes in each
  worker; counts pending at the fork are dropped in the child, the parent
  keeps them);
* as soon as ``flush_requests`` requests (default 10000) are pending;
* when :meth:`Meter.flush` or :meth:`Meter.close` is called, and at
  interpreter exit (``atexit``; gunicorn workers exit through ``sys.exit``,
  so a worker's counts survive a graceful stop or restart -- not a SIGKILL).

If the store fails, the batch is kept and merged into the next one.

The meter only counts; :mod:`s3service.layers.metering` is the WSGI layer
that measures each request and tells it.  What a request is attributed to:

* the service ``s3``: always;
* its bucket (the first path segment, or the bucket named by the host when
  virtual-hosted): whenever it names one, signed or not -- the bucket's traffic
  is what was sent to it;
* its account and user: only when the middleware checked the signature
  (ListBuckets, and every request with ``authenticate_all``), never from an
  unchecked claim; anonymous requests and those passed on unchecked count for
  the service and the bucket only.  A root key's requests count for the user
  level under the account's own ID.

Memory: between flushes the meter holds at most ``flush_requests`` queued
requests (a few more while a background flush is on its way) and one counter
per distinct ``(interval, operation, account, user, bucket)`` among them,
however many buckets there are.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable

from ..forking import in_each_child
from ..backends.metrics_base import INTERVAL_MS, UNCLASSIFIED, interval_start
from ..backends.protocols import MetricsStore
from .rollup import by_entity

log = logging.getLogger("s3service.metrics")

_INTERVAL_S = INTERVAL_MS // 1000

#: The environ key under which the gateway finds the :class:`Meter` (to call
#: :meth:`Meter.record_storage`).
METER_KEY = "s3service.metrics"

_meters: weakref.WeakSet[Meter] = weakref.WeakSet()


class Meter:
    """Aggregates request counters and storage deltas; flushes them to ``store`` in batches.

    :param store: where the totals go (:class:`~.store.MetricsStore`).
    :param flush_interval: seconds between background flushes; ``None`` or ``0``
        for no background thread (then only ``flush_requests``, :meth:`flush`
        and exit write).
    :param flush_requests: flush once this many requests are pending.
    :param clock: the time in epoch seconds (for tests).
    """

    def __init__(self, store: MetricsStore, *, flush_interval: float | None = 10.0,
                 flush_requests: int = 10000, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.flush_interval = flush_interval or None
        self.flush_requests = max(1, int(flush_requests))
        self.clock = clock
        self._closed = False
        self._reset()
        _meters.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        # (interval, operation, account, user, bucket) -> [requests, incoming, outgoing]
        self._ops: dict[tuple[int, str, str | None, str | None, str | None], list[int]] = {}
        # (interval, account, bucket) -> [bytes, objects]
        self._storage: dict[tuple[int, str | None, str | None], list[int]] = {}
        self._pending = 0
        # (interval number, operation, account, user, bucket, incoming, outgoing)
        self._events: deque[tuple[int, str | None, str | None, str | None, str | None, int,
                                  int]] = deque()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    # -- counting ------------------------------------------------------------

    def count(self, operation: str | None, incoming: int = 0, outgoing: int = 0,
              when: float | None = None, account: str | None = None,
              user: str | None = None, bucket: str | None = None) -> None:
        """Count one request of ``operation`` (``None``: bytes only) with its body sizes.

        ``account`` (``None``: not known), ``user`` (``None``: the account's root
        key) and ``bucket`` (``None``: none) say what else it counts for.
        """
        events = self._events
        events.append((int(self.clock() if when is None else when) // _INTERVAL_S, operation,
                       account, user, bucket, incoming, outgoing))
        if self._thread is None:
            if self.flush_interval is not None:
                self._start()
        if len(events) >= self.flush_requests:
            if self._thread is not None and not self._closed:
                if not self._wake.is_set():
                    self._wake.set()
            else:  # no flusher (none configured, or closed): flush here
                self.flush()

    def record_storage(self, bytes_delta: int, objects_delta: int = 0,
                       when: float | None = None, *, bucket: str | None = None,
                       account: str | None = None) -> None:
        """Report a change of the bytes stored and the number of objects (may be negative).

        Name the ``bucket`` the change is in and the ``account`` owning it: the
        change then counts for the bucket, the account and the service (without
        them, for the service only).  ``storageUtilized`` and
        ``numberOfObjects`` of an answer are the sums of every change recorded
        before the start and before the end of its range.
        """
        t = self.clock() if when is None else when
        key = (interval_start(int(t * 1000)), account, bucket)
        with self._lock:
            delta = self._storage.get(key)
            if delta is None:
                self._storage[key] = [int(bytes_delta), int(objects_delta)]
            else:
                delta[0] += int(bytes_delta)
                delta[1] += int(objects_delta)
        if self._thread is None and self.flush_interval is not None:
            self._start()

    @property
    def pending(self) -> int:
        """Requests counted since the last successful flush."""
        return self._pending + len(self._events)

    def _drain(self) -> None:
        """Add the queued requests up into ``_ops`` (under ``_lock``)."""
        events, ops = self._events, self._ops
        popleft = events.popleft
        # Only those queued now (appends may go on meanwhile); alike ones counted in C.
        batch = Counter([popleft() for _ in range(len(events))])
        for (slot, operation, account, user, bucket, incoming, outgoing), n in batch.items():
            key = (slot * INTERVAL_MS, operation or UNCLASSIFIED, account, user, bucket)
            counter = ops.get(key)
            if counter is None:
                ops[key] = [n, incoming * n, outgoing * n]
            else:
                counter[0] += n
                counter[1] += incoming * n
                counter[2] += outgoing * n
            self._pending += n

    # -- flushing -------------------------------------------------------------

    def flush(self) -> bool:
        """Write everything pending to the store; ``False`` (batch kept) if the store failed."""
        with self._flush_lock:
            with self._lock:
                self._drain()
                ops, storage, pending = self._ops, self._storage, self._pending
                if not ops and not storage:
                    return True
                self._ops, self._storage, self._pending = {}, {}, 0
            try:
                self.store.add_metrics(*by_entity(ops, storage))
            except Exception as exc:
                log.warning("metrics flush failed (%d requests kept for the next one): %s",
                            pending, exc)
                with self._lock:
                    _merge(self._ops, ops)
                    _merge(self._storage, storage)
                    self._pending += pending
                return False
            return True

    def close(self) -> None:
        """Stop the background thread and flush what is pending."""
        self._closed = True
        self._wake.set()
        self.flush()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            thread = threading.Thread(target=_run, args=(weakref.ref(self), self._wake,
                                                         self.flush_interval),
                                      name="s3service-metrics-flush", daemon=True)
            self._thread = thread
        thread.start()


def _merge(into: dict, batch: dict) -> None:
    for key, values in batch.items():
        have = into.get(key)
        if have is None:
            into[key] = values
        else:
            for i, v in enumerate(values):
                have[i] += v


def _run(ref: weakref.ref[Meter], wake: threading.Event, interval: float) -> None:
    while True:
        wake.wait(interval)
        wake.clear()
        meter = ref()
        if meter is None:
            return
        try:
            meter.flush()
        except Exception:  # never let the flusher die
            log.exception("metrics flush failed")
        if meter._closed or meter._thread is not threading.current_thread():
            return
        del meter


def _flush_all() -> None:
    for meter in list(_meters):
        try:
            meter.close()
        except Exception:
            log.exception("metrics flush at exit failed")


def _after_fork() -> None:
    # The child starts with nothing pending (the parent flushes its own) and
    # with no flusher thread (threads do not survive a fork).
    for meter in list(_meters):
        meter._reset()


atexit.register(_flush_all)
in_each_child(_after_fork)
