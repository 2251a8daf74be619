"""Metrics in a store: entities, totals and intervals (the protocol,
:class:`~.protocols.MetricsStore`, is in :mod:`.protocols`).

Counters are kept per 15-minute interval (``interval`` below: the interval's
start in epoch milliseconds, a multiple of :data:`INTERVAL_MS`), per
:class:`Entity` -- the service, an account, a user or a bucket, the levels of
the Service Utilization API -- and per operation name (``s3:PutObject``...).
Each counter row holds three numbers: requests, incoming bytes and outgoing
bytes.  One request is counted once at each level it can be attributed to (the
meter does the rolling up; a store only adds what it is given).  Storage figures are kept as
deltas per interval too, so that any number of processes can add to them
without reading first; the level at a time ``t`` is the sum of every delta
recorded before ``t``.

A store must add, never overwrite: two processes flushing counters for the
same ``(interval, operation)`` end up with the sum of both.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

#: The length of one metrics interval: 15 minutes, in milliseconds.
INTERVAL_MS = 15 * 60 * 1000

#: Operation key under which bytes that belong to no S3 operation are kept
#: (counted in the byte totals, never shown as an operation).
UNCLASSIFIED = ""


def interval_start(epoch_ms: int) -> int:
    """The start (epoch ms) of the 15-minute interval containing ``epoch_ms``."""
    return epoch_ms - epoch_ms % INTERVAL_MS


class Entity(NamedTuple):
    """What a row of metrics is about: one of the four levels.

    ``level`` is one of :data:`LEVELS`; ``account`` is the account the entity
    belongs to (empty for the service; a bucket's owner, so that an account
    re-creating a name another deleted does not read the other's counts);
    ``name`` is the service's name, the user's name or the bucket's
    name (empty for an account).  Build them with :meth:`service`,
    :meth:`for_account`, :meth:`user` and :meth:`bucket`.
    """

    level: str
    account: str
    name: str

    @classmethod
    def service(cls, name: str = "s3") -> Entity:
        return cls(SERVICE, "", name)

    @classmethod
    def for_account(cls, account_id: str) -> Entity:
        return cls(ACCOUNTS, account_id, "")

    @classmethod
    def user(cls, account_id: str, user: str | None) -> Entity:
        """An IAM user of ``account_id``; ``None`` (a root key) is the account itself."""
        return cls(USERS, account_id, account_id if user is None else user)

    @classmethod
    def bucket(cls, name: str, owner: str = "") -> Entity:
        """The bucket ``name`` during ``owner``'s tenure."""
        return cls(BUCKETS, owner, name)


#: The levels, as the Service Utilization API names them in a request body.
SERVICE, ACCOUNTS, USERS, BUCKETS = "service", "accounts", "users", "buckets"
LEVELS = (SERVICE, ACCOUNTS, USERS, BUCKETS)
#: The service every request through the middleware belongs to.
S3 = Entity(SERVICE, "", "s3")


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
