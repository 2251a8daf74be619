"""Rolling a meter's counters up to the levels they count for: a metrics store's batch.

The meter keeps one counter per ``(interval, operation, account, user,
bucket)``; a store keeps one per ``(interval, entity, operation)``.  A request
counts for the service ``s3`` always, for its account and its user when the
account is known, and for its bucket when it names one; a storage report for
the service, and for its bucket and account when named.
"""
from __future__ import annotations

from typing import Any

from ..backends.metrics_base import S3, Entity


def by_entity(ops: dict[tuple[int, str, str | None, str | None, str | None], list[int]],
              storage: dict[tuple[int, str | None, str | None], list[int]]
              ) -> tuple[dict[tuple[int, Entity, str], list[int]],
                         dict[tuple[int, Entity], list[int]]]:
    """Roll a meter's counters up to every level they count for: a store's batch."""
    out_ops: dict[tuple[int, Entity, str], list[int]] = {}
    for (interval, op, account, user, bucket), counters in ops.items():
        for entity in _entities(account, user, bucket, with_user=True):
            _add(out_ops, (interval, entity, op), counters)
    out_storage: dict[tuple[int, Entity], list[int]] = {}
    for (interval, account, bucket), deltas in storage.items():
        for entity in _entities(account, None, bucket, with_user=False):
            _add(out_storage, (interval, entity), deltas)
    return out_ops, out_storage


def _entities(account: str | None, user: str | None, bucket: str | None, *,
              with_user: bool) -> list[Entity]:
    entities = [S3]
    if account is not None:
        entities.append(Entity.for_account(account))
        if with_user:
            entities.append(Entity.user(account, user))
    if bucket is not None:
        entities.append(Entity.bucket(bucket))
    return entities


def _add(into: dict, key: Any, values: list[int]) -> None:
    have = into.get(key)
    if have is None:
        into[key] = list(values)
    else:
        for i, v in enumerate(values):
            have[i] += v
