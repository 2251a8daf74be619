"""The metrics store protocol: what the middleware asks of a backend that keeps metrics.

Counters are kept per 15-minute interval (``interval`` below: the interval's
start in epoch milliseconds, a multiple of :data:`INTERVAL_MS`) and per
operation name (``s3:PutObject``...).  Each counter row holds three numbers:
requests, incoming bytes and outgoing bytes.  Storage figures are kept as
deltas per interval too, so that any number of processes can add to them
without reading first; the level at a time ``t`` is the sum of every delta
recorded before ``t``.

A store must add, never overwrite: two processes flushing counters for the
same ``(interval, operation)`` end up with the sum of both.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

#: The length of one metrics interval: 15 minutes, in milliseconds.
INTERVAL_MS = 15 * 60 * 1000

#: Operation key under which bytes that belong to no S3 operation are kept
#: (counted in the byte totals, never shown as an operation).
UNCLASSIFIED = ""


def interval_start(epoch_ms: int) -> int:
    """The start (epoch ms) of the 15-minute interval containing ``epoch_ms``."""
    return epoch_ms - epoch_ms % INTERVAL_MS


@dataclass(frozen=True, slots=True)
class MetricsTotals:
    """What a store reports for a range of intervals.

    ``operations`` maps operation names to request counts (only those seen);
    ``storage_utilized`` and ``number_of_objects`` are the levels at the start
    and at the end of the range.
    """

    operations: Mapping[str, int] = field(default_factory=dict)
    incoming_bytes: int = 0
    outgoing_bytes: int = 0
    storage_utilized: tuple[int, int] = (0, 0)
    number_of_objects: tuple[int, int] = (0, 0)


@runtime_checkable
class MetricsStore(Protocol):
    def add_metrics(self, operations: Mapping[tuple[int, str], Sequence[int]],
                    storage: Mapping[int, Sequence[int]]) -> None:
        """Add a batch of counters to the stored totals, atomically if the store can.

        ``operations[(interval, operation)] = (requests, incoming_bytes, outgoing_bytes)``;
        ``storage[interval] = (bytes_delta, objects_delta)`` (deltas may be negative).
        Raising (e.g. :class:`~s3service.backends.base.BackendUnavailable`) means
        nothing was added: the caller keeps the batch and tries again later.
        """

    def get_metrics(self, start: int, end: int) -> MetricsTotals:
        """Totals of the intervals starting within ``[start, end]`` (epoch ms, inclusive).

        The storage levels are the sums of the deltas of the intervals before
        ``start``'s interval, and of those up to and including ``end``'s.
        """
