"""What one server worker observed: plain counters, added to on the request path, taken in batches.

A :class:`Tally` is the cheap half of ``serve --prometheus-port``: every
request appends one tuple to it, every call of the store to its database its
duration (:mod:`s3service.backends.sql.observing`), and
:mod:`.prometheus` takes them every second (:meth:`Tally.take`) to add them
up and add the sums to ``prometheus_client``'s shared files, whose every
update costs several microseconds.  Histograms are kept as counts per bucket
(upper bounds, as Prometheus's ``le``) and a sum; a value is put in its
bucket only when taken, with the others of its batch.
"""
from __future__ import annotations

import itertools
import threading
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from operator import itemgetter
from dataclasses import dataclass, field

__all__ = ["AUTH_ERROR_CODES", "LATENCY_BOUNDS", "LISTING_BOUNDS", "REQUEST_FIELDS", "Histogram",
           "Snapshot", "Tally", "Ticks"]

#: A request's tuple given to :attr:`Tally.add_request`: its fields, in order.
REQUEST_FIELDS = ("operation", "status", "account", "received", "sent", "code", "listed",
                  "seconds")
#: Seconds: upper bounds of the latency histograms (requests and store calls).
LATENCY_BOUNDS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))
#: Buckets per ListBuckets answer: upper bounds of the listing size histogram.
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
        """Count ``value`` in its bucket."""
        self.observe_all((value,))

    def observe_all(self, values: Iterable[float]) -> None:
        """Count each of ``values`` in its bucket."""
        for value in values:
            self.counts[bisect_left(self.bounds, value)] += 1
            self.total += value


class Ticks:
    """A count many threads add to with :attr:`tick` (one C call, atomic: no lock); one reads.

    :attr:`tick` returns a number that grows with each call (the reads count
    too): a caller may use it to do something every n-th time.
    """

    def __init__(self) -> None:
        self._count = itertools.count()
        self._reads = 0
        #: Count one more (``next()`` on an :func:`itertools.count`).
        self.tick: Callable[[], int] = partial(next, self._count)

    def read(self) -> int:
        """How many ticks so far (one reader at a time)."""
        self._reads += 1
        return next(self._count) - self._reads + 1


@dataclass
class Snapshot:
    """What a :class:`Tally` gathered since it was last taken (see its attributes)."""

    requests: dict[tuple[str, str], int] = field(default_factory=dict)
    durations: dict[str, Histogram] = field(default_factory=dict)
    #: kind of call (``read``, ``transaction``) -> its calls
    store_call_counts: dict[str, int] = field(default_factory=dict)
    #: kind of call -> the durations of its calls
    store_calls: dict[str, Histogram] = field(default_factory=dict)
    store_errors: dict[tuple[str, str], int] = field(default_factory=dict)
    listings: Histogram = field(default_factory=lambda: Histogram(LISTING_BOUNDS))
    auth_failures: dict[str, int] = field(default_factory=dict)
    #: account ID -> [requests, bytes received, bytes sent]
    accounts: dict[str, list[int]] = field(default_factory=dict)
    in_flight: int = 0


class Tally:
    """One process's requests and store calls since the last :meth:`take`; many threads add.

    Adding is one ``deque.append`` (atomic, no lock): the request path pays
    next to nothing, and :meth:`take` -- the publisher's thread, once a
    second -- adds them up into a :class:`Snapshot`:
    ``requests[(operation, status)]``, ``durations[operation]`` (seconds),
    ``store_call_counts[call]``, ``store_calls[call]`` (seconds),
    ``store_errors[(call, error class)]``, ``listings`` (buckets per
    ListBuckets answer), ``auth_failures[code]``,
    ``accounts[account] = [requests, received, sent]``, and the requests
    ``in_flight`` now.
    """

    def __init__(self) -> None:
        self._requests: deque[tuple] = deque()
        self._calls: dict[str, deque[float]] = {}
        self._errors: deque[tuple[str, str]] = deque()
        #: :meth:`request` taking its arguments as one tuple (no call of ours in between).
        self.add_request: Callable[[tuple], None] = self._requests.append
        self._begun = Ticks()
        self._ended = 0
        self._taking = threading.Lock()
        #: A request begins (a C call).
        self.enter: Callable[[], object] = self._begun.tick

    def call_timer(self, call: str) -> Callable[[float], None]:
        """The callable given how many seconds each of the store's calls of the kind
        ``call`` took (which counts the call: every call is timed)."""
        with self._taking:
            calls = self._calls.get(call)
            if calls is None:
                calls = self._calls[call] = deque()
        return calls.append

    def request(self, operation: str, status: str, seconds: float, account: str | None,
                received: int, sent: int, code: str | None, listed: int | None = None
                ) -> None:
        """A request ended (``status``: its status line, or its three digits; ``code``: its
        S3 error, if any; ``listed``: the buckets a ListBuckets answer listed).

        :attr:`add_request` takes the same as one tuple, in the order of
        :data:`REQUEST_FIELDS`.
        """
        self._requests.append((operation, status, account, received, sent, code, listed,
                               seconds))

    def store_call(self, call: str, seconds: float, error: str | None = None) -> None:
        """A store's call of the kind ``call`` took ``seconds`` (``error``: the class it
        failed with)."""
        self.call_timer(call)(seconds)
        if error is not None:
            self.store_error(call, error)

    def store_error(self, call: str, error: str) -> None:
        """A store's call of the kind ``call`` failed with the exception class ``error``
        (timed as any call, through :meth:`call_timer`)."""
        self._errors.append((call, error))

    def take(self) -> Snapshot:
        """What was added since the last call, added up (and the requests in flight now)."""
        with self._taking:
            requests = _drain(self._requests)
            calls = {call: _drain(seconds) for call, seconds in self._calls.items()}
            errors = _drain(self._errors)
            self._ended += len(requests)
            begun = self._begun.read()
        taken = Snapshot(in_flight=max(0, begun - self._ended - len(self._requests)))
        _add_requests(taken, requests)
        for call, seconds in calls.items():
            if seconds:
                taken.store_call_counts[call] = len(seconds)
                histogram = taken.store_calls[call] = Histogram(LATENCY_BOUNDS)
                histogram.observe_all(seconds)
        for call_error, count in Counter(errors).items():
            taken.store_errors[call_error] = count
        return taken


def _drain(queue: deque) -> list:
    """What ``queue`` holds now, taken out (what is appended meanwhile stays)."""
    popleft = queue.popleft
    return [popleft() for _ in range(len(queue))]


def _add_requests(taken: Snapshot, requests: list[tuple]) -> None:
    # Requests alike but for their duration are many (a client repeating
    # itself): they are counted alike first, in C, then added once each way.
    counts, accounts = taken.requests, taken.accounts
    failures, listings = taken.auth_failures, taken.listings
    for (operation, status, account, received, sent, code, listed), number in \
            Counter(map(_ALL_BUT_SECONDS, requests)).items():
        key = (operation, status[:3])
        counts[key] = counts.get(key, 0) + number
        if account is not None:
            totals = accounts.get(account)
            if totals is None:
                totals = accounts[account] = [0, 0, 0]
            totals[0] += number
            totals[1] += received * number
            totals[2] += sent * number
        if code is not None and code in AUTH_ERROR_CODES:
            failures[code] = failures.get(code, 0) + number
        if listed is not None:
            listings.counts[bisect_left(LISTING_BOUNDS, listed)] += number
            listings.total += listed * number
    seconds: dict[str, list[float]] = {}
    for record in requests:
        seconds.setdefault(record[0], []).append(record[-1])
    for operation, values in seconds.items():
        histogram = taken.durations[operation] = Histogram(LATENCY_BOUNDS)
        histogram.observe_all(values)


_ALL_BUT_SECONDS = itemgetter(slice(0, -1))
