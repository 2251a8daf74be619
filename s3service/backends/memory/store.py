"""An in-memory store: for tests, demos and as a model for writing your own.

Example::

    store = MemoryBackend()
    store.add_account("79a59df9...", display_name="Test")
    store.add_key("79a59df9...", "AKIDEXAMPLE", "secret")
    store.add_bucket("79a59df9...", "photos")
    app = S3ServiceMiddleware(gateway_app, credentials=store, buckets=store)
"""
from __future__ import annotations

import logging
import os
import threading
import warnings
import weakref
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timezone
from functools import partial

from ...forking import in_each_child
from ...regions import DEFAULT_REGION
from ..base import BucketInfo, BucketNameTaken, Credential, UnknownAccount, UnknownBucket
from .metrics import MemoryMetrics
from .policies import MemoryPolicies
from ..sortedbuckets import SortedBuckets, listing


log = logging.getLogger("s3service")


class CopiedStoreWarning(RuntimeWarning):
    """A :class:`MemoryBackend` holding data was copied into a forked process."""


class MemoryBackend(MemoryPolicies, MemoryMetrics):
    """Accounts, keys and buckets held in dicts; safe to share between threads.

    **One process's store**: it lives in that process's memory, so it cannot be
    shared by several processes.  A server with several workers (``gunicorn -w
    2``, ``s3service serve --workers 2``) gives each its own copy, and what one
    worker stores the others never see (a GET answered by another worker is a
    404).  ``s3service serve --db memory`` refuses more than one worker; a
    store holding data in a process that forks (``gunicorn --preload``) warns
    in each child (:class:`CopiedStoreWarning`, and the ``s3service`` log).
    Use one worker, or :class:`~s3service.backends.sql.SQLBackend`.

    Every protocol of :mod:`s3service.backends.protocols`; its two parts are
    mixins, each saying what it needs of the store: a policy store
    (:class:`~.policies.MemoryPolicies`: IAM policies, groups and attachments)
    and a metrics store (:class:`~.metrics.MemoryMetrics`):
    ``S3ServiceMiddleware(app, credentials=store, buckets=store, metrics=store)``.
    """

    #: Nothing here waits on a server (see :class:`~..protocols.AdminStore`).
    backend_timeout: float | None = None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, str] = {}
        self._users: dict[str, set[str]] = {}        # account id -> IAM user names
        self._keys: dict[str, Credential] = {}
        self._owners: dict[str, str] = {}            # bucket name -> account id
        self._listings: dict[str, SortedBuckets] = {}  # account id -> its buckets
        self._buckets: dict[str, BucketInfo] = {}    # bucket name -> info
        self._init_policies()
        self._init_metrics()
        _stores.add(self)

    def _holds_data(self) -> bool:
        return bool(self._accounts or self._keys)

    # -- administration -----------------------------------------------------

    def add_account(self, account_id: str, display_name: str = "") -> None:
        """Create (or rename) an account identified by its canonical user ID."""
        with self._lock:
            self._accounts[account_id] = display_name
            self._listings.setdefault(account_id, SortedBuckets())
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
            self._listings[account_id].add(info)
        return info

    def delete_bucket(self, name: str, *, owner: str | None = None) -> None:
        """Delete a bucket; raises :class:`UnknownBucket` if there is none of that name.

        With ``owner``, only that account's bucket is deleted: a bucket of the
        name owned by another account is left alone, and :class:`UnknownBucket`
        raised.  The check and the delete are one step under the lock.
        """
        with self._lock:
            found = self._owners.get(name)
            if found is None or (owner is not None and found != owner):
                raise UnknownBucket(name)
            del self._owners[name]
            del self._buckets[name]
            self._listings[found].remove(name)

    def get_bucket(self, name: str) -> tuple[str, BucketInfo] | None:
        """The owner and info of a bucket, or ``None``."""
        with self._lock:
            owner = self._owners.get(name)
            return None if owner is None else (owner, self._buckets[name])

    def bucket_owners(self, names: Iterable[str]) -> dict[str, str]:
        """The owner of each of ``names`` that is a bucket."""
        with self._lock:
            owners = self._owners
            return {name: owners[name] for name in names if name in owners}

    def close(self) -> None:
        """Nothing to let go of: the store is this process's memory."""

    # -- the protocols --------------------------------------------------------

    def get_credential(self, access_key: str) -> Credential | None:
        return self._keys.get(access_key)

    def list_buckets(self, account_id: str, *, prefix: str = "", after: str | None = None,
                     region: str | None = None, limit: int | None = None) -> Iterable[BucketInfo]:
        """See :meth:`.base.BucketStore.list_buckets`: a list when one run of
        :data:`~.sortedbuckets.RUN` buckets holds it all, else read a run at a time."""
        return listing(partial(self._run, account_id, prefix, region), after, limit)

    def _run(self, account_id: str, prefix: str, region: str | None, after: str | None,
             size: int) -> tuple[list[BucketInfo], str | None, bool]:
        # One lock hold per run; the next run resumes after the last name
        # looked at, so concurrent creates and deletes never repeat a name.
        with self._lock:
            buckets = self._listings.get(account_id)
            if buckets is None:
                return [], after, True
            return buckets.run(prefix, after, region, size)


_stores: weakref.WeakSet[MemoryBackend] = weakref.WeakSet()


def _warn_if_copied() -> None:
    """In a forked child: say loudly that a store holding data is now a copy."""
    if any(store._holds_data() for store in list(_stores)):
        message = (f"a MemoryBackend holding accounts or keys was copied into forked process "
                   f"{os.getpid()}: each process now has its own store, and what one stores "
                   f"the others never see; run one worker, or use SQLBackend")
        log.warning(message)
        warnings.warn(message, CopiedStoreWarning, stacklevel=1)


in_each_child(_warn_if_copied)
