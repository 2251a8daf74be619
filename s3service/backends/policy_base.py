"""The store of IAM policies, groups and attachments the :mod:`s3service.policies` authorizer reads.

Both bundled stores implement it (``MemoryBackend`` through
:class:`~.memory_policies.MemoryPolicies`, ``SQLBackend`` through
:class:`~.sql_policies.SQLPolicies`).  Everything belongs to one account:
policy, group and user names are unique within it.

Documents are stored as the text given; the stores do not parse them (the
admin layer and :class:`~s3service.policies.PolicyAuthorizer` do), so a store
stays a plain store.  Every change to an account's policies, attachments,
inline policies or group memberships bumps its :meth:`PolicyStore.policy_version`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class UnknownPolicy(LookupError):
    """No managed policy of that name in the account."""


class UnknownGroup(LookupError):
    """No group of that name in the account."""


class UnknownUser(LookupError):
    """No IAM user of that name in the account."""


@dataclass(frozen=True)
class Attachment:
    """A managed policy attached to a user (``kind="user"``) or a group (``kind="group"``)."""

    policy: str
    kind: str
    principal: str


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
    """Administering policies (what the CLI uses).  Unknown names raise the errors above,
    an unknown account :class:`~.base.UnknownAccount`."""

    def put_policy(self, account_id: str, name: str, document: str) -> None:
        """Create the managed policy ``name``, or replace its document."""

    def get_policy(self, account_id: str, name: str) -> str:
        """The document of a managed policy."""

    def delete_policy(self, account_id: str, name: str) -> None:
        """Delete a managed policy and all its attachments."""

    def list_policies(self, account_id: str) -> list[str]:
        """The names of the account's managed policies, sorted."""

    def attach_policy(self, account_id: str, policy: str, *, user: str | None = None,
                      group: str | None = None) -> None:
        """Attach a managed policy to exactly one of ``user`` or ``group`` (no-op if attached)."""

    def detach_policy(self, account_id: str, policy: str, *, user: str | None = None,
                      group: str | None = None) -> None:
        """Undo :meth:`attach_policy`; :class:`UnknownPolicy` if it was not attached."""

    def list_attachments(self, account_id: str) -> list[Attachment]:
        """Every attachment of the account, sorted by policy, kind and principal."""

    def put_user_policy(self, account_id: str, user: str, name: str, document: str) -> None:
        """Create or replace the user's inline policy ``name``."""

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


def one_principal(user: str | None, group: str | None) -> tuple[str, str]:
    """``("user", name)`` or ``("group", name)``; ValueError unless exactly one is given."""
    if (user is None) == (group is None):
        raise ValueError("give exactly one of user or group")
    return ("user", user) if user is not None else ("group", group)  # type: ignore[return-value]
