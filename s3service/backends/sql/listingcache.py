"""Each account's buckets as last read from the database, kept while they are current.

The SQL store bumps an account's *bucket version* in the same transaction as
every change to its buckets (a trigger does, see :mod:`.schema`), whoever
makes it: any process of a fleet, any version of s3service.  A listing reads
the version first -- one indexed look-up -- and answers from the snapshot
kept under that version, or reads the buckets and keeps them under it.  So a
listing reflects every change committed before it began, with no time-based
staleness.

(Reading the version *before* the buckets is what makes this safe: a change
committed in between is in the snapshot but under an older version, which the
next listing finds out of date.)
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from ..base import BucketInfo
from ..sortedbuckets import SortedBuckets

#: Buckets kept over all accounts, at most.
MAX_ENTRIES = 200_000
#: An account with more buckets than this is listed from the database each time.
MAX_ACCOUNT = 20_000


class ListingCache:
    """Snapshots of accounts' buckets keyed by ``(account, bucket version)``; least
    recently used first out.  Thread-safe."""

    def __init__(self, max_entries: int | None = None, max_account: int | None = None) -> None:
        self._max_entries = max_entries
        self._max_account = max_account
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, tuple[int, SortedBuckets | None]] = OrderedDict()
        self._entries = 0

    @property
    def max_entries(self) -> int:
        """Buckets kept over all accounts, at most (default :data:`MAX_ENTRIES`)."""
        return MAX_ENTRIES if self._max_entries is None else self._max_entries

    @property
    def max_account(self) -> int:
        """The most buckets an account may have to be kept (default :data:`MAX_ACCOUNT`)."""
        limit = MAX_ACCOUNT if self._max_account is None else self._max_account
        return min(limit, self.max_entries)

    def get(self, account_id: str, version: int) -> SortedBuckets | None:
        """The account's buckets kept under ``version``, or ``None``."""
        with self._lock:
            kept = self._kept.get(account_id)
            if kept is None or kept[0] != version:
                return None
            self._kept.move_to_end(account_id)
            return kept[1]

    def is_large(self, account_id: str, version: int) -> bool:
        """Whether the account had too many buckets to keep at ``version``."""
        with self._lock:
            return self._kept.get(account_id) == (version, None)

    def put(self, account_id: str, version: int, infos: list[BucketInfo]) -> SortedBuckets:
        """Keep ``infos`` (sorted by name) as the account's buckets at ``version``."""
        snapshot = SortedBuckets(infos)
        self._keep(account_id, version, snapshot if len(snapshot) <= self.max_account else None)
        return snapshot

    def mark_large(self, account_id: str, version: int) -> None:
        """Remember that the account had too many buckets to keep at ``version``
        (so that it is not read whole again until the version moves)."""
        self._keep(account_id, version, None)

    def _keep(self, account_id: str, version: int, snapshot: SortedBuckets | None) -> None:
        with self._lock:
            old = self._kept.pop(account_id, None)
            if old is not None and old[1] is not None:
                self._entries -= len(old[1])
            self._kept[account_id] = (version, snapshot)
            if snapshot is not None:
                self._entries += len(snapshot)
            while self._entries > self.max_entries:
                _, (_, dropped) = self._kept.popitem(last=False)
                if dropped is not None:
                    self._entries -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._entries = 0
