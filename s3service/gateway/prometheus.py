"""``serve --prometheus-port``: the workers' tallies published through ``prometheus_client``.

``prometheus_client`` runs in its multiprocess mode: each worker writes its
metrics to files of its own in one directory (:func:`use_directory`, made by
``serve`` before any worker starts), and the exporter (:mod:`.exporter`)
adds them all up at each scrape.  Each write to those files costs several
microseconds, so the request path never makes one: requests go into the
worker's :class:`~.tally.Tally`, and a thread of the worker (:class:`Publisher`)
adds what it gathered to the files every :data:`INTERVAL` seconds and when the
worker stops.  A scrape is thus at most that late.

The metrics (``s3service_`` names; labels in brackets):

* ``requests_total`` [operation, status], ``request_duration_seconds``
  [operation] (histogram), ``requests_in_flight``;
* ``store_calls_total`` [call], ``store_call_duration_seconds`` [call]
  (histogram), ``store_errors_total`` [call, error]: the SQL store's calls
  to its database, ``read`` or ``transaction``
  (:mod:`s3service.backends.sql.observing`);
* ``listing_buckets`` (histogram: buckets per ListBuckets answer);
* ``auth_failures_total`` [code];
* ``account_requests_total``, ``account_received_bytes_total``,
  ``account_sent_bytes_total`` [account] (requests whose signature was checked).

``prometheus_client`` is an optional dependency (``s3service[prometheus]``).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from typing import Any

from .tally import LATENCY_BOUNDS, LISTING_BOUNDS, Histogram, Snapshot, Tally

__all__ = ["ENV_DIRECTORY", "INTERVAL", "Publisher", "metrics", "remove_directory",
           "use_directory"]

#: Seconds between two publications of a worker's tally.
INTERVAL = 1.0
#: The variable naming prometheus_client's multiprocess directory.
ENV_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "s3service_"


def use_directory() -> str:
    """Make a new, private multiprocess directory and name it in this process's environment.

    Must come before ``prometheus_client`` is first imported (it reads the
    variable then); every process forked afterwards shares the directory.
    """
    path = tempfile.mkdtemp(prefix="s3service-prometheus-")
    os.environ[ENV_DIRECTORY] = path
    return path


def remove_directory(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


_metrics: dict[str, Any] | None = None


def metrics() -> dict[str, Any]:
    """This process's ``prometheus_client`` metrics, by short name (made on first use)."""
    global _metrics
    if _metrics is None:
        from prometheus_client import Counter, Gauge, Histogram as PromHistogram

        latency = LATENCY_BOUNDS
        _metrics = {
            "requests": Counter(PREFIX + "requests", "Requests answered, by S3 operation and "
                                "HTTP status.", ["operation", "status"], registry=None),
            "durations": PromHistogram(PREFIX + "request_duration_seconds",
                                       "Time to answer a request, by S3 operation.",
                                       ["operation"], buckets=latency, registry=None),
            "in_flight": Gauge(PREFIX + "requests_in_flight", "Requests being answered.",
                               multiprocess_mode="livesum", registry=None),
            "store_call_counts": Counter(PREFIX + "store_calls", "Calls of the store to its "
                                         "database, by kind: read, transaction.", ["call"],
                                         registry=None),
            "store_calls": PromHistogram(PREFIX + "store_call_duration_seconds",
                                         "Time the database took to answer the store, by "
                                         "kind of call.",
                                         ["call"], buckets=latency,
                                         registry=None),
            "store_errors": Counter(PREFIX + "store_errors", "Calls of the store that found "
                                    "its database unreachable, by kind and error.",
                                    ["call", "error"], registry=None),
            "listings": PromHistogram(PREFIX + "listing_buckets",
                                      "Buckets listed per ListBuckets answer.",
                                      buckets=LISTING_BOUNDS, registry=None),
            "auth_failures": Counter(PREFIX + "auth_failures", "Requests refused for their "
                                     "credentials or permissions, by S3 error code.", ["code"],
                                     registry=None),
            "account_requests": Counter(PREFIX + "account_requests", "Authenticated requests, "
                                        "by account.", ["account"], registry=None),
            "account_received": Counter(PREFIX + "account_received_bytes", "Request body "
                                        "bytes read, by account.", ["account"], registry=None),
            "account_sent": Counter(PREFIX + "account_sent_bytes", "Response body bytes "
                                    "sent, by account.", ["account"], registry=None),
        }
    return _metrics


def _add_histogram(child: Any, histogram: Histogram) -> None:
    # prometheus_client observes one value at a time; a tally holds many
    # already counted into the same buckets, so they are added to the child's
    # own values (its per-bucket counts and its sum) directly.
    for value, count in zip(child._buckets, histogram.counts):
        if count:
            value.inc(count)
    child._sum.inc(histogram.total)


def publish(snapshot: Snapshot) -> None:
    """Add one tally's snapshot to this process's metrics."""
    found = metrics()
    for (operation, status), count in snapshot.requests.items():
        found["requests"].labels(operation, status).inc(count)
    for operation, histogram in snapshot.durations.items():
        _add_histogram(found["durations"].labels(operation), histogram)
    found["in_flight"].set(snapshot.in_flight)
    for call, count in snapshot.store_call_counts.items():
        found["store_call_counts"].labels(call).inc(count)
    for call, histogram in snapshot.store_calls.items():
        _add_histogram(found["store_calls"].labels(call), histogram)
    for (call, error), count in snapshot.store_errors.items():
        found["store_errors"].labels(call, error).inc(count)
    if any(snapshot.listings.counts):
        _add_histogram(found["listings"], snapshot.listings)
    for code, count in snapshot.auth_failures.items():
        found["auth_failures"].labels(code).inc(count)
    for account, (requests, received, sent) in snapshot.accounts.items():
        found["account_requests"].labels(account).inc(requests)
        found["account_received"].labels(account).inc(received)
        found["account_sent"].labels(account).inc(sent)


class Publisher:
    """A thread adding ``tally`` to the metrics every ``interval`` seconds; then :meth:`stop`."""

    def __init__(self, tally: Tally, interval: float = INTERVAL) -> None:
        self.tally = tally
        self.interval = interval
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="s3service-prometheus",
                                        daemon=True)

    def start(self) -> None:
        metrics()                  # (the worker's files exist before its first request)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.publish()

    def publish(self) -> None:
        with self._lock:
            publish(self.tally.take())

    def stop(self) -> None:
        """Publish what is left, then say this process serves no more requests."""
        self._stopping.set()
        self.publish()
        from prometheus_client import multiprocess

        metrics()["in_flight"].set(0)
        multiprocess.mark_process_dead(os.getpid())
