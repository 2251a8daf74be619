"""What one server worker observed: plain counters, added to on the request path, taken in batches.

A :class:`Tally` is the cheap half of ``serve --prometheus-port``: every
request adds a few numbers to its dictionaries under one lock (about a
microsecond), and :mod:`.prometheus` takes them every second
(:meth:`Tally.take`) to add them to ``prometheus_client``'s shared files,
whose every update costs several microseconds.  Histograms are kept as
counts per bucket (upper bounds, as Prometheus's ``le``) and a sum.
"""
from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["AUTH_ERROR_CODES", "LATENCY_BOUNDS", "LISTING_BOUNDS", "Histogram", "Snapshot",
           "Tally"]

#: Seconds: upper bounds of the latency histograms (requests and store calls).
LATENCY_BOUNDS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))
#: Buckets per listing read from the store: upper bounds of the listing size histogram.
LISTING_BOUNDS: tuple[float, ...] = (0, 1, 10, 100, 1000, 10000, 100000, float("inf"))
#: The S3 error codes counted as authentication (or authorization) failures.
AUTH_ERROR_CODES = frozenset({
    "AccessDenied", "AuthorizationHeaderMalformed", "AuthorizationQueryParametersError",
    "ExpiredToken", "InvalidAccessKeyId", "InvalidToken", "MissingSecurityHeader",
    "RequestExpired", "RequestTimeTooSkewed", "SignatureDoesNotMatch", "TokenRefreshRequired",
})


@dataclass
class Histogram:
    """Observations counted per bucket (``counts[i]``: values <= ``bounds[i]``, not cumulative)."""

    bounds: Sequence[float]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * len(self.bounds)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value


@dataclass
class Snapshot:
    """What a :class:`Tally` gathered since it was last taken (see its attributes)."""

    requests: dict[tuple[str, str], int] = field(default_factory=dict)
    durations: dict[str, Histogram] = field(default_factory=dict)
    store_calls: dict[str, Histogram] = field(default_factory=dict)
    store_errors: dict[tuple[str, str], int] = field(default_factory=dict)
    listings: Histogram = field(default_factory=lambda: Histogram(LISTING_BOUNDS))
    auth_failures: dict[str, int] = field(default_factory=dict)
    #: account ID -> [requests, bytes received, bytes sent]
    accounts: dict[str, list[int]] = field(default_factory=dict)
    in_flight: int = 0


class Tally:
    """One process's counts since the last :meth:`take`; safe to add to from many threads.

    ``requests[(operation, status)]``, ``durations[operation]`` (seconds),
    ``store_calls[method]`` (seconds), ``store_errors[(method, error class)]``,
    ``listings`` (buckets per listing), ``auth_failures[code]``,
    ``accounts[account] = [requests, received, sent]``, and the requests
    ``in_flight`` now.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.current = Snapshot()

    def enter(self) -> None:
        """A request begins."""
        with self.lock:
            self.in_flight += 1

    def request(self, operation: str, status: str, seconds: float, account: str | None,
                received: int, sent: int, code: str | None) -> None:
        """A request ended (``status``: its three digits; ``code``: its S3 error, if any)."""
        with self.lock:
            self.in_flight -= 1
            now = self.current
            key = (operation, status)
            now.requests[key] = now.requests.get(key, 0) + 1
            histogram = now.durations.get(operation)
            if histogram is None:
                histogram = now.durations[operation] = Histogram(LATENCY_BOUNDS)
            histogram.counts[bisect_left(LATENCY_BOUNDS, seconds)] += 1
            histogram.total += seconds
            if account is not None:
                counts = now.accounts.get(account)
                if counts is None:
                    counts = now.accounts[account] = [0, 0, 0]
                counts[0] += 1
                counts[1] += received
                counts[2] += sent
            if code is not None and code in AUTH_ERROR_CODES:
                now.auth_failures[code] = now.auth_failures.get(code, 0) + 1

    def store_call(self, method: str, seconds: float, error: str | None = None) -> None:
        """A call of the store's ``method`` took ``seconds`` (and raised ``error``, a class name)."""
        with self.lock:
            now = self.current
            histogram = now.store_calls.get(method)
            if histogram is None:
                histogram = now.store_calls[method] = Histogram(LATENCY_BOUNDS)
            histogram.counts[bisect_left(LATENCY_BOUNDS, seconds)] += 1
            histogram.total += seconds
            if error is not None:
                key = (method, error)
                now.store_errors[key] = now.store_errors.get(key, 0) + 1

    def listing(self, size: int) -> None:
        """A listing read from the store held ``size`` buckets."""
        with self.lock:
            self.current.listings.observe(size)

    def take(self) -> Snapshot:
        """What was gathered since the last call (and the requests in flight now); starts anew."""
        with self.lock:
            taken, self.current = self.current, Snapshot()
            taken.in_flight = self.in_flight
        return taken
