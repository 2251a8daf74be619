"""Rolling a meter's counters up to the levels they count for: a metrics store's batch.

The meter keeps one counter per ``(interval, operation, account, user,
bucket)``; a store keeps one per ``(interval, entity, operation)``.  A request
counts for the service ``s3`` always, for its account and its user when the
account is known, and for its bucket when the account is known and the bucket
has an owner (``owners``: the owner of each ``(account, bucket)`` the meter
looked up; a bucket counts under its owner); a storage report for the service,
and for its bucket and account when named (the account being the owner).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..backends.metrics_base import S3, Entity


def by_entity(ops: dict[tuple[int, str, str | None, str | None, str | None], list[int]],
              storage: dict[tuple[int, str | None, str | None], list[int]],
              owners: Mapping[tuple[str, str], str | None] | None = None
              ) -> tuple[dict[tuple[int, Entity, str], list[int]],
                         dict[tuple[int, Entity], list[int]]]:
    """Roll a meter's counters up to every level they count for: a store's batch.

    ``owners[(account, bucket)]``: the owner of the bucket a request of
    ``account`` named (``None``: no such bucket, not counted for it); without
    ``owners``, a bucket counts under the caller's account.
    """
    out_ops: dict[tuple[int, Entity, str], list[int]] = {}
    for (interval, op, account, user, bucket), counters in ops.items():
        _add(out_ops, (interval, S3, op), counters)
        if account is None:
            continue
        _add(out_ops, (interval, Entity.for_account(account), op), counters)
        _add(out_ops, (interval, Entity.user(account, user), op), counters)
        if bucket is not None:
            owner = account if owners is None else owners.get((account, bucket))
            if owner is not None:
                _add(out_ops, (interval, Entity.bucket(bucket, owner), op), counters)
    out_storage: dict[tuple[int, Entity], list[int]] = {}
    for (interval, account, bucket), deltas in storage.items():
        _add(out_storage, (interval, S3), deltas)
        if account is not None:
            _add(out_storage, (interval, Entity.for_account(account)), deltas)
            if bucket is not None:
                _add(out_storage, (interval, Entity.bucket(bucket, account)), deltas)
    return out_ops, out_storage


def bucket_keys(ops: Iterable[tuple[int, str, str | None, str | None, str | None]]
                ) -> set[tuple[str, str]]:
    """The distinct ``(account, bucket)`` of a meter's request counters that name both."""
    return {(key[2], key[4]) for key in ops if key[2] is not None and key[4] is not None}


def _add(into: dict, key: Any, values: list[int]) -> None:
    have = into.get(key)
    if have is None:
        into[key] = list(values)
    else:
        for i, v in enumerate(values):
            have[i] += v
