"""The protocols a store implements: small, each what one part of the service asks.

Nothing needs to inherit from them; a store brings the methods.  A method that
cannot reach its store raises :class:`~.base.BackendUnavailable` (answered
``503 ServiceUnavailable``); any other exception is answered ``500
InternalError``.  Either way the client never sees the exception's text, and
the log records it under the request id.

========================  ==========================================================
:class:`CredentialStore`  every signature check (the one method a gateway must have)
:class:`BucketStore`      ListBuckets
:class:`PolicySource`     :class:`~s3service.policies.PolicyAuthorizer`, on each decision
:class:`PolicyStore`      administering IAM policies (the CLI)
:class:`MetricsStore`     the meter (writes) and ListMetrics (reads)
:class:`BucketDirectory`  ListMetrics (who owns a bucket) and the bundled gateway
:class:`AdminStore`       the ``s3service`` command and the bundled gateway: all of the above
========================  ==========================================================

The values they pass are in :mod:`.records` (:class:`~.records.Credential`,
:class:`~.records.BucketInfo`, :class:`~.records.Attachment`) and
:mod:`.metrics_base`; the errors they raise in :mod:`.base` and :mod:`.policy_base`.
``tests/test_backend_contract.py`` runs the contracts against every bundled store.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from ..regions import DEFAULT_REGION
from .metrics_base import S3, Entity, MetricsTotals
from .records import Attachment, BucketInfo, Credential

__all__ = ["AdminStore", "BucketDirectory", "BucketStore", "CredentialStore", "MetricsStore",
           "PolicySource", "PolicyStore", "checked_timeout"]


@runtime_checkable
class CredentialStore(Protocol):
    """Looks up access keys: what every signature check asks."""

    def get_credential(self, access_key: str) -> Credential | None:
        """Return the credential for ``access_key``, or ``None`` if no such key exists.

        Inactive keys may be returned with ``active=False`` or as ``None``;
        both are refused with ``InvalidAccessKeyId``.
        """


@runtime_checkable
class BucketStore(Protocol):
    """Lists an account's buckets: what ListBuckets asks."""

    def list_buckets(self, account_id: str, *, prefix: str = "", after: str | None = None,
                     region: str | None = None, limit: int | None = None) -> Iterable[BucketInfo]:
        """Yield the buckets owned by ``account_id``, sorted by name.

        Only names starting with ``prefix``, strictly greater than ``after``
        (when given) and in ``region`` (when given) are yielded, at most
        ``limit`` of them (all when ``None``).  The result may be a lazy
        iterator: the middleware streams it and stops early if the client goes
        away.  Buckets of other accounts are never yielded.
        """


@runtime_checkable
class PolicySource(Protocol):
    """What :class:`~s3service.policies.PolicyAuthorizer` reads; called on every decision."""

    def policy_version(self, account_id: str) -> int:
        """A number that changes whenever anything below changes for the account.

        Called once per authorized request: it must be cheap (a store may
        answer from a cache at most as old as its credential cache).  ``0`` for
        an account with no policies, or none at all.
        """

    def policies_for_user(self, account_id: str, user: str) -> list[tuple[str, str]]:
        """Every policy that applies to the IAM user, as ``(label, document)``.

        Managed policies attached to the user, those attached to the groups it
        is in, and its inline policies (labelled ``inline:NAME``); any order.
        Nothing for an unknown user.
        """


@runtime_checkable
class PolicyStore(PolicySource, Protocol):
    """Administering policies (what the CLI uses).  Unknown names raise :mod:`.policy_base`'s errors,
    an unknown account :class:`~.base.UnknownAccount`."""

    def put_policy(self, account_id: str, name: str, document: str) -> None:
        """Create the managed policy ``name``, or replace its document.

        :class:`~.policy_base.LimitExceeded` (nothing stored) past
        :data:`~.policy_base.MAX_MANAGED_SIZE` characters without whitespace.
        """

    def get_policy(self, account_id: str, name: str) -> str:
        """The document of a managed policy."""

    def delete_policy(self, account_id: str, name: str) -> None:
        """Delete a managed policy and all its attachments."""

    def list_policies(self, account_id: str) -> list[str]:
        """The names of the account's managed policies, sorted."""

    def attach_policy(self, account_id: str, policy: str, *, user: str | None = None,
                      group: str | None = None) -> None:
        """Attach a managed policy to exactly one of ``user`` or ``group`` (no-op if attached).

        :class:`~.policy_base.LimitExceeded` if it would be the principal's
        eleventh (:data:`~.policy_base.MAX_ATTACHED`).
        """

    def detach_policy(self, account_id: str, policy: str, *, user: str | None = None,
                      group: str | None = None) -> None:
        """Undo :meth:`attach_policy`; :class:`UnknownPolicy` if it was not attached."""

    def list_attachments(self, account_id: str) -> list[Attachment]:
        """Every attachment of the account, sorted by policy, kind and principal."""

    def put_user_policy(self, account_id: str, user: str, name: str, document: str) -> None:
        """Create or replace the user's inline policy ``name``.

        :class:`~.policy_base.LimitExceeded` (nothing stored) if the user's
        inline policies would pass :data:`~.policy_base.MAX_INLINE_SIZE`
        characters without whitespace together.
        """

    def delete_user_policy(self, account_id: str, user: str, name: str) -> None:
        """Delete an inline policy (:class:`UnknownPolicy` if there is none)."""

    def list_user_policies(self, account_id: str, user: str) -> list[str]:
        """The names of the user's inline policies, sorted."""

    def add_group(self, account_id: str, group: str) -> None:
        """Create a group (no-op if it exists)."""

    def list_groups(self, account_id: str) -> list[tuple[str, list[str]]]:
        """The account's groups with their members: ``[(group, [user, ...])]``, sorted."""

    def add_user_to_group(self, account_id: str, group: str, user: str) -> None:
        """Make ``user`` a member of ``group`` (no-op if it is)."""

    def remove_user_from_group(self, account_id: str, group: str, user: str) -> None:
        """Take ``user`` out of ``group`` (no-op if it was not in it)."""


@runtime_checkable
class MetricsStore(Protocol):
    """Where the meter writes its counts and ListMetrics reads them."""

    def add_metrics(self, operations: Mapping[tuple[int, Entity, str], Sequence[int]],
                    storage: Mapping[tuple[int, Entity], Sequence[int]]) -> None:
        """Add a batch of counters to the stored totals, atomically if the store can.

        ``operations[(interval, entity, operation)] = (requests, incoming_bytes,
        outgoing_bytes)``; ``storage[(interval, entity)] = (bytes_delta,
        objects_delta)`` (deltas may be negative).
        Raising (e.g. :class:`~s3service.backends.base.BackendUnavailable`) means
        nothing was added: the caller keeps the batch and tries again later.
        """

    def get_metrics(self, start: int, end: int, entity: Entity = S3) -> MetricsTotals:
        """``entity``'s totals of the intervals starting within ``[start, end]`` (epoch ms, inclusive).

        An entity never seen has all totals zero.

        The storage levels are the sums of the deltas of the intervals before
        ``start``'s interval, and of those up to and including ``end``'s.
        """

    # Optional (the meter calls it when the store has it; both bundled stores do):
    # ``remove_metrics_before(interval: int) -> None`` removes the request
    # counters of the intervals starting before ``interval`` (epoch ms), at every
    # level, without reading every row; storage deltas are kept (the levels are
    # their sums since the beginning).


@runtime_checkable
class BucketDirectory(Protocol):
    """Says who owns a bucket: what ListMetrics asks (and the bundled gateway)."""

    def get_bucket(self, name: str) -> tuple[str, BucketInfo] | None:
        """``(owning account, info)`` of the bucket ``name``, or ``None`` if there is none."""

    # Optional (the meter asks it when flushing, when the store has it; both
    # bundled stores do): ``bucket_owners(names: Iterable[str]) -> dict[str,
    # str]``, the owner of each of ``names`` that is a bucket, in one round
    # trip (else the meter asks ``get_bucket`` once per name).


@runtime_checkable
class AdminStore(CredentialStore, BucketStore, BucketDirectory, PolicyStore, Protocol):
    """Everything the ``s3service`` command and the bundled gateway do to a store.

    Both bundled stores are one.  Unknown accounts raise
    :class:`~.base.UnknownAccount`, unknown buckets :class:`~.base.UnknownBucket`,
    a bucket name taken :class:`~.base.BucketNameTaken`.
    """

    #: Seconds a call may wait for the store's server before it raises
    #: :class:`~.base.BackendUnavailable` (``None``: no bound).  A store that
    #: never waits (held in memory) keeps it and ignores it; one that does
    #: bounds each wait itself.  Set before the store is first used in a process.
    backend_timeout: float | None

    def add_account(self, account_id: str, display_name: str = "") -> None:
        """Create (or rename) an account identified by its canonical user ID."""

    def list_accounts(self) -> list[tuple[str, str]]:
        """All accounts as ``(account_id, display_name)``, sorted by id."""

    def add_user(self, account_id: str, user: str) -> None:
        """Create the IAM user ``user`` under the account (no-op if it exists)."""

    def list_users(self, account_id: str) -> list[str]:
        """The names of the account's IAM users, sorted."""

    def add_key(self, account_id: str, access_key: str, secret_key: str, *,
                user: str | None = None, active: bool = True, session_token: str | None = None,
                expires: datetime | None = None) -> Credential:
        """Give the account (or its IAM ``user``, created if need be) an access key;
        an existing key of the same name is replaced."""

    def set_key_active(self, access_key: str, active: bool) -> None:
        """Enable or disable a key; :class:`KeyError` for an unknown key."""

    def list_keys(self, account_id: str) -> list[Credential]:
        """The keys of the account and of its IAM users, sorted by access key."""

    def add_bucket(self, account_id: str, name: str, *, created: datetime | None = None,
                   region: str = DEFAULT_REGION) -> BucketInfo:
        """Create a bucket (names are global: taken by anyone is taken)."""

    def delete_bucket(self, name: str, *, owner: str | None = None) -> None:
        """Delete a bucket; with ``owner``, only if that account owns it (else
        :class:`~.base.UnknownBucket`), checked and deleted in one step."""

    def close(self) -> None:
        """Let go of connections (a process about to fork); the store reopens on next use."""


def checked_timeout(seconds: float | None, name: str = "backend_timeout") -> float | None:
    """``seconds`` as a timeout: a positive number, or ``None``; else ValueError naming ``name``."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{name}: expected a number of seconds or None; got {seconds!r}")
    if not float(seconds) > 0:
        raise ValueError(f"{name} must be a positive number of seconds or None")
    return float(seconds)
