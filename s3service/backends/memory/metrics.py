"""Metrics kept in process memory: for tests, demos and single-process gateways."""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from ..metrics_base import S3, UNCLASSIFIED, Entity, MetricsTotals, interval_start


class MemoryMetrics:
    """A :class:`~s3service.metrics.MetricsStore` in dicts; safe to share between threads.

    Usable alone, or as a part of a store (a mixin, as
    :class:`~s3service.backends.memory.MemoryBackend` uses it: the store calls
    :meth:`_init_metrics`; nothing else is asked of it).
    """

    def __init__(self) -> None:
        self._init_metrics()

    def _init_metrics(self) -> None:
        self._metrics_lock = threading.Lock()
        # entity -> {(interval, operation): [requests, incoming, outgoing]}
        self._metric_ops: dict[Entity, dict[tuple[int, str], list[int]]] = {}
        # entity -> {interval: [bytes, objects] deltas}
        self._metric_storage: dict[Entity, dict[int, list[int]]] = {}

    def add_metrics(self, operations: Mapping[tuple[int, Entity, str], Sequence[int]],
                    storage: Mapping[tuple[int, Entity], Sequence[int]]) -> None:
        """Add a batch of counters to the totals, all at once under the lock."""
        with self._metrics_lock:
            for (interval, entity, op), (requests, incoming, outgoing) in operations.items():
                have = self._metric_ops.setdefault(entity, {}).setdefault((interval, op), [0, 0, 0])
                have[0] += requests
                have[1] += incoming
                have[2] += outgoing
            for (interval, entity), (nbytes, objects) in storage.items():
                level = self._metric_storage.setdefault(entity, {}).setdefault(interval, [0, 0])
                level[0] += nbytes
                level[1] += objects

    def remove_metrics_before(self, interval: int) -> None:
        """Remove the request counters of the intervals starting before ``interval``."""
        with self._metrics_lock:
            for entity, counters in list(self._metric_ops.items()):
                for key in [k for k in counters if k[0] < interval]:
                    del counters[key]
                if not counters:
                    del self._metric_ops[entity]

    def get_metrics(self, start: int, end: int, entity: Entity = S3) -> MetricsTotals:
        """``entity``'s totals of the intervals starting in ``[start, end]`` (epoch ms, inclusive)."""
        operations: dict[str, int] = {}
        incoming = outgoing = 0
        first = interval_start(start)
        bytes_start = bytes_end = objects_start = objects_end = 0
        with self._metrics_lock:
            for (interval, op), (requests, inc, out) in self._metric_ops.get(entity, {}).items():
                if start <= interval <= end:
                    if op != UNCLASSIFIED:
                        operations[op] = operations.get(op, 0) + requests
                    incoming += inc
                    outgoing += out
            for interval, (nbytes, objects) in self._metric_storage.get(entity, {}).items():
                if interval < first:
                    bytes_start += nbytes
                    objects_start += objects
                if interval <= end:
                    bytes_end += nbytes
                    objects_end += objects
        return MetricsTotals(operations=operations, incoming_bytes=incoming,
                             outgoing_bytes=outgoing, storage_utilized=(bytes_start, bytes_end),
                             number_of_objects=(objects_start, objects_end))
