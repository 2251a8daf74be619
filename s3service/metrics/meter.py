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

If the store fails, the batch is kept and merged into the next one -- up to
a bound: past ``max_counters`` distinct counters held (default 20000), a
request or storage report whose counter is not held yet is folded into its
interval's and operation's service-level counter (its account, user and
bucket dropped), so the service totals stay right while the memory held stays
bounded however long the store is down and however many names are sent.
:attr:`Meter.folded` counts the requests so folded, and each flush that folded
any logs one warning saying how many.

Retention: after a successful flush, at most once an hour, the meter asks its
store to remove the request counters of the intervals older than
``retention_days`` (default :data:`DEFAULT_RETENTION_DAYS`, 400: a year and
its neighbour months; ``None``: keep them all), if the store can
(``remove_metrics_before``; both bundled stores can).  Storage deltas are
kept: the storage levels are their sums since the beginning.

The meter only counts; :mod:`s3service.layers.metering` is the WSGI layer
that measures each request and tells it.  What a request is attributed to:

* the service ``s3``: always;
* its account and user: only when the middleware checked the signature
  (ListBuckets, and every request with ``authenticate_all``), never from an
  unchecked claim; anonymous requests and those passed on unchecked count for
  the service only.  A root key's requests count for the user level under the
  account's own ID.
* its bucket (the first segment of the path the client signed, or the bucket
  named by the host when virtual-hosted): only for such a checked caller, and
  only if the bucket exists when the meter flushes and is that caller's
  account's (the meter's ``buckets``, a
  :class:`~s3service.backends.protocols.BucketDirectory`, is asked about
  the batch's distinct buckets at once -- one query for the bundled stores'
  ``bucket_owners`` -- in the flushing thread, never on the request path).  So a flood of requests to made-up names adds no row, and an
  account re-creating a name another deleted reads only its own tenure's
  counts.  Without ``buckets`` a bucket counts under the caller's account.

Memory: the meter holds at most about twice ``flush_requests`` queued
requests (past that a request thread adds the queue up itself rather than
wait for a slow flush) and at most ``max_counters`` counters (plus the
service-level ones, one per interval and operation), however many buckets
there are and however long the store stays down.
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
from ..backends.protocols import BucketDirectory, BucketStore, MetricsStore
from ..errors import AccessDenied
from .access import bucket_owner
from .rollup import bucket_keys, by_entity

log = logging.getLogger("s3service.metrics")

_INTERVAL_S = INTERVAL_MS // 1000

#: The environ key under which the gateway finds the :class:`Meter` (to call
#: :meth:`Meter.record_storage`).
METER_KEY = "s3service.metrics"

#: Days of request counters kept by default (see the module documentation).
DEFAULT_RETENTION_DAYS = 400
_PRUNE_EVERY_S = 3600

_meters: weakref.WeakSet[Meter] = weakref.WeakSet()


class Meter:
    """Aggregates request counters and storage deltas; flushes them to ``store`` in batches.

    :param store: where the totals go (:class:`~.store.MetricsStore`).
    :param flush_interval: seconds between background flushes; ``None`` or ``0``
        for no background thread (then only ``flush_requests``, :meth:`flush`
        and exit write).
    :param flush_requests: flush once this many requests are pending.
    :param buckets: says who owns a bucket (a
        :class:`~s3service.backends.protocols.BucketDirectory`; a
        ``BucketStore`` can only say which buckets the caller owns), asked when
        flushing; ``None``: a bucket counts under the caller's account, unchecked.
    :param max_counters: at most this many counters are held; past it, new
        ones are folded into the service level (see the module documentation).
    :param retention_days: request counters of intervals older than this are
        removed from the store (``None``: never).
    :param clock: the time in epoch seconds (for tests).
    """

    def __init__(self, store: MetricsStore, *, flush_interval: float | None = 10.0,
                 flush_requests: int = 10000, max_counters: int = 20000,
                 buckets: BucketDirectory | BucketStore | None = None,
                 retention_days: float | None = DEFAULT_RETENTION_DAYS,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.buckets = buckets
        self.flush_interval = flush_interval or None
        self.flush_requests = max(1, int(flush_requests))
        self.max_counters = max(1, int(max_counters))
        if retention_days is not None and not retention_days > 0:
            raise ValueError("retention_days must be a positive number of days or None")
        self.retention_days = retention_days
        self._pruned_at: float | None = None
        self.clock = clock
        #: Requests (and storage reports) whose account, user and bucket were
        #: dropped to keep the memory held bounded, since the meter was made.
        self.folded = 0
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
        self._folded_unlogged = 0
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
                if len(events) >= 2 * self.flush_requests:
                    # The flusher is stuck on a slow store: add the queue up here.
                    with self._lock:
                        self._drain()
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
            if delta is None and len(self._storage) >= self.max_counters:
                key = (key[0], None, None)
                self._fold(1)
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
        events, ops, bound = self._events, self._ops, self.max_counters
        popleft = events.popleft
        # Only those queued now (appends may go on meanwhile); alike ones counted in C.
        batch = Counter([popleft() for _ in range(len(events))])
        for (slot, operation, account, user, bucket, incoming, outgoing), n in batch.items():
            key = (slot * INTERVAL_MS, operation or UNCLASSIFIED, account, user, bucket)
            counter = ops.get(key)
            if counter is None and len(ops) >= bound and (account, bucket) != (None, None):
                key = key[:2] + (None, None, None)
                self._fold(n)
                counter = ops.get(key)
            if counter is None:
                ops[key] = [n, incoming * n, outgoing * n]
            else:
                counter[0] += n
                counter[1] += incoming * n
                counter[2] += outgoing * n
            self._pending += n

    def _fold(self, n: int) -> None:
        self.folded += n
        self._folded_unlogged += n

    # -- flushing -------------------------------------------------------------

    def flush(self) -> bool:
        """Write everything pending to the store; ``False`` (batch kept) if the store failed."""
        with self._flush_lock:
            with self._lock:
                self._drain()
                folded, self._folded_unlogged = self._folded_unlogged, 0
                ops, storage, pending = self._ops, self._storage, self._pending
                if ops or storage:
                    self._ops, self._storage, self._pending = {}, {}, 0
            if folded:
                log.warning("metrics: %d requests counted for the service only (more than "
                            "%d counters held: store down or too many names)", folded,
                            self.max_counters)
            if not ops and not storage:
                self._prune()
                return True
            try:
                self.store.add_metrics(*by_entity(ops, storage, self._owners(ops)))
            except Exception as exc:
                log.warning("metrics flush failed (%d requests kept for the next one): %s",
                            pending, exc)
                with self._lock:
                    # Requests counted meanwhile are in the new dicts, within the bound.
                    self._merge(self._ops, ops, 2)
                    self._merge(self._storage, storage, 1)
                    self._pending += pending
                return False
            self._prune()
            return True

    def _prune(self) -> None:
        """Remove the counters past the retention, at most once an hour (under ``_flush_lock``)."""
        remove = getattr(self.store, "remove_metrics_before", None)
        if self.retention_days is None or remove is None:
            return
        now = self.clock()
        if self._pruned_at is not None and now - self._pruned_at < _PRUNE_EVERY_S:
            return
        self._pruned_at = now
        try:
            remove(interval_start(int((now - self.retention_days * 86400) * 1000)))
        except Exception as exc:
            log.warning("removing metrics older than %g days failed: %s",
                        self.retention_days, exc)

    def _owners(self, ops: dict) -> dict[tuple[str, str], str | None] | None:
        """The owner of each bucket the checked callers of ``ops`` named, if it is the
        caller's own account (``None``: no such bucket, or another account's)."""
        buckets = self.buckets
        if buckets is None:
            return None
        pairs = bucket_keys(ops)
        if not pairs:
            return {}
        many = getattr(buckets, "bucket_owners", None)
        if many is not None:  # one round trip for the batch
            found = many({bucket for _, bucket in pairs})
            return {(account, bucket): account if found.get(bucket) == account else None
                    for account, bucket in pairs}
        owners: dict[tuple[str, str], str | None] = {}
        for account, bucket in pairs:
            try:
                owner = bucket_owner(buckets, account, bucket)
            except AccessDenied:  # a BucketStore: not the caller's, or none
                owner = None
            # Only the owner's own requests: the bucket may have changed hands
            # since (a request of the previous owner must not count for the next).
            owners[account, bucket] = owner if owner == account else None
        return owners

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

    def _merge(self, into: dict, batch: dict, detail: int) -> None:
        """Add ``batch`` back into ``into``, folding past the bound (under ``_lock``).

        ``detail``: where the account, user and bucket start in a key (2 for
        request counters, whose first number is a count of requests; 1 for
        storage deltas, each counted as one report).
        """
        bound = self.max_counters
        for key, values in batch.items():
            have = into.get(key)
            if have is None and len(into) >= bound and any(
                    part is not None for part in key[detail:]):
                key = key[:detail] + (None,) * (len(key) - detail)
                self._fold(values[0] if detail == 2 else 1)
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
