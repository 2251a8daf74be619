"""An in-memory store: for tests, demos and as a model for writing your own.

Example::

    store = MemoryBackend()
    store.add_account("79a59df9...", display_name="Test")
    store.add_key("79a59df9...", "AKIDEXAMPLE", "secret")
    store.add_bucket("79a59df9...", "photos")
    app = S3ServiceMiddleware(gateway_app, credentials=store, buckets=store)
"""
from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone

from .memory_metrics import MemoryMetrics
from ..metrics.store import MetricsTotals
from ..regions import DEFAULT_REGION
from .base import BucketNameTaken, BucketInfo, Credential, UnknownAccount, UnknownBucket

_CHUNK = 1000


class MemoryBackend:
    """Accounts, keys and buckets held in dicts; safe to share between threads.

    Also a metrics store (:class:`~s3service.metrics.MetricsStore`), kept in a
    :class:`~.memory_metrics.MemoryMetrics` of its own:
    ``S3ServiceMiddleware(app, credentials=store, buckets=store, metrics=store)``.
    """

    def __init__(self) -> None:
        self._metrics = MemoryMetrics()
        self._lock = threading.Lock()
        self._accounts: dict[str, str] = {}
        self._users: dict[str, set[str]] = {}        # account id -> IAM user names
        self._keys: dict[str, Credential] = {}
        self._owners: dict[str, str] = {}            # bucket name -> account id
        self._names: dict[str, list[str]] = {}       # account id -> sorted bucket names
        self._infos: dict[str, list[BucketInfo]] = {}  # account id -> infos, as _names
        self._buckets: dict[str, BucketInfo] = {}    # bucket name -> info

    # -- administration -----------------------------------------------------

    def add_account(self, account_id: str, display_name: str = "") -> None:
        """Create (or rename) an account identified by its canonical user ID."""
        with self._lock:
            self._accounts[account_id] = display_name
            self._names.setdefault(account_id, [])
            self._infos.setdefault(account_id, [])
            self._users.setdefault(account_id, set())
            for key, cred in self._keys.items():
                if cred.account_id == account_id:
                    self._keys[key] = replace(cred, display_name=display_name)

    def list_accounts(self) -> list[tuple[str, str]]:
        """All accounts as ``(account_id, display_name)``, sorted by id."""
        with self._lock:
            return sorted(self._accounts.items())

    def add_user(self, account_id: str, user: str) -> None:
        """Create the IAM user ``user`` under the account (no-op if it exists)."""
        with self._lock:
            if account_id not in self._accounts:
                raise UnknownAccount(account_id)
            self._users[account_id].add(user)

    def list_users(self, account_id: str) -> list[str]:
        """The names of the account's IAM users, sorted."""
        with self._lock:
            if account_id not in self._accounts:
                raise UnknownAccount(account_id)
            return sorted(self._users[account_id])

    def add_key(self, account_id: str, access_key: str, secret_key: str, *, user: str | None = None,
                active: bool = True, session_token: str | None = None,
                expires: datetime | None = None) -> Credential:
        """Give the account (or its IAM ``user``, created if need be) an access key.

        An existing key of the same name is replaced.
        """
        with self._lock:
            if account_id not in self._accounts:
                raise UnknownAccount(account_id)
            if user is not None:
                self._users[account_id].add(user)
            cred = Credential(access_key=access_key, secret_key=secret_key, account_id=account_id,
                              display_name=self._accounts[account_id], user=user, active=active,
                              session_token=session_token, expires=expires)
            self._keys[access_key] = cred
            return cred

    def set_key_active(self, access_key: str, active: bool) -> None:
        """Enable or disable a key (a disabled key is refused as ``InvalidAccessKeyId``).

        Raises :class:`KeyError` for an unknown key.
        """
        with self._lock:
            self._keys[access_key] = replace(self._keys[access_key], active=active)

    def list_keys(self, account_id: str) -> list[Credential]:
        """The keys of the account and of its IAM users, sorted by access key."""
        with self._lock:
            if account_id not in self._accounts:
                raise UnknownAccount(account_id)
            return sorted((c for c in self._keys.values() if c.account_id == account_id),
                          key=lambda c: c.access_key)

    def add_bucket(self, account_id: str, name: str, *, created: datetime | None = None,
                   region: str = DEFAULT_REGION) -> BucketInfo:
        """Create a bucket; raises :class:`BucketNameTaken` if the name is taken by anyone."""
        info = BucketInfo(name=name, created=created or datetime.now(timezone.utc), region=region)
        with self._lock:
            if account_id not in self._accounts:
                raise UnknownAccount(account_id)
            if name in self._owners:
                raise BucketNameTaken(name, self._owners[name])
            self._owners[name] = account_id
            self._buckets[name] = info
            names = self._names[account_id]
            at = bisect_left(names, name)
            names.insert(at, name)
            self._infos[account_id].insert(at, info)
        return info

    def delete_bucket(self, name: str) -> None:
        with self._lock:
            owner = self._owners.pop(name, None)
            if owner is None:
                raise UnknownBucket(name)
            del self._buckets[name]
            names = self._names[owner]
            at = bisect_left(names, name)
            del names[at]
            del self._infos[owner][at]

    def get_bucket(self, name: str) -> tuple[str, BucketInfo] | None:
        """The owner and info of a bucket, or ``None``."""
        with self._lock:
            owner = self._owners.get(name)
            return None if owner is None else (owner, self._buckets[name])

    # -- metrics (a MetricsStore: see .memory_metrics) --------------------------

    def add_metrics(self, operations: Mapping[tuple[int, str], Sequence[int]],
                    storage: Mapping[int, Sequence[int]]) -> None:
        """Add a batch of metered counters (:class:`~s3service.metrics.MetricsStore`)."""
        self._metrics.add_metrics(operations, storage)

    def get_metrics(self, start: int, end: int) -> MetricsTotals:
        """Metrics totals of the intervals starting in ``[start, end]`` (epoch ms)."""
        return self._metrics.get_metrics(start, end)

    # -- the protocols --------------------------------------------------------

    def get_credential(self, access_key: str) -> Credential | None:
        return self._keys.get(access_key)

    def list_buckets(self, account_id: str, *, prefix: str = "", after: str | None = None,
                     region: str | None = None, limit: int | None = None) -> Iterable[BucketInfo]:
        if not prefix and after is None and region is None and limit is None:
            with self._lock:  # the usual call, for all of a short listing
                infos = self._infos.get(account_id)
                if infos is None:
                    return []
                if len(infos) <= _CHUNK:
                    return infos[:]
        size = _CHUNK if limit is None else min(limit, _CHUNK)
        first, after, done = self._chunk(account_id, prefix, after, region, size)
        if done or (limit is not None and len(first) >= limit):
            return first  # the usual case: all of it in one go
        return self._rest(first, account_id, prefix, after, region,
                          None if limit is None else limit - len(first))

    def _rest(self, first: list[BucketInfo], account_id: str, prefix: str, after: str | None,
              region: str | None, remaining: int | None) -> Iterator[BucketInfo]:
        yield from first
        while remaining is None or remaining > 0:
            size = _CHUNK if remaining is None else min(remaining, _CHUNK)
            chunk, after, done = self._chunk(account_id, prefix, after, region, size)
            yield from chunk
            if done:
                return
            if remaining is not None:
                remaining -= len(chunk)

    def _chunk(self, account_id: str, prefix: str, after: str | None, region: str | None,
               size: int) -> tuple[list[BucketInfo], str | None, bool]:
        # One lock hold per chunk; the next chunk resumes after the last name
        # looked at, so concurrent creates and deletes never repeat a name.
        with self._lock:
            names = self._names.get(account_id, [])
            if after is not None and after >= prefix:
                start = bisect_right(names, after)
            else:
                start = bisect_left(names, prefix)
            end = min(start + size, len(names))
            done = end == len(names)
            if prefix and end > start and not names[end - 1].startswith(prefix):
                # Sorted names sharing the prefix form one run: cut where it ends.
                end = bisect_left(names, True, start, end,
                                  key=lambda name: not name.startswith(prefix))
                done = True
            found = self._infos[account_id][start:end] if end > start else []
            last = names[end - 1] if end > start else after
        if region is not None:
            found = [info for info in found if info.region == region]
        return found, last, done
