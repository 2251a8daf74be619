"""IAM policies in a store: the values and errors of the policy protocols.

The protocols themselves (:class:`~.protocols.PolicySource`, what the
:mod:`s3service.policies` authorizer reads, and :class:`~.protocols.PolicyStore`,
administering them) are in :mod:`.protocols`.

Both bundled stores implement it (``MemoryBackend`` through
:class:`~.memory.MemoryPolicies`, ``SQLBackend`` through
:class:`~.sql.policies.SQLPolicies`).  Everything belongs to one account:
policy, group and user names are unique within it.

Documents are stored as the text given; the stores do not parse them (the
admin layer and :class:`~s3service.policies.PolicyAuthorizer` do), so a store
stays a plain store.  Every change to an account's policies, attachments,
inline policies or group memberships bumps its ``policy_version``.

Sizes and counts are bounded as IAM bounds them (:func:`check_managed_size`,
:func:`check_inline_size`, :data:`MAX_ATTACHED`); past a bound a store raises
:class:`LimitExceeded` and changes nothing.
"""
from __future__ import annotations

from .protocols import PolicySource, PolicyStore   # (once here; still importable from here)
from .records import Attachment

__all__ = ["MAX_ATTACHED", "MAX_INLINE_SIZE", "MAX_MANAGED_SIZE", "MAX_POLICY_VERSIONS", "Attachment",
           "DeleteConflict", "LimitExceeded",
           "PolicySource", "PolicyStore", "UnknownGroup", "UnknownPolicy", "UnknownUser",
           "check_attached", "check_inline_size", "check_managed_size", "one_principal",
           "policy_size"]

#: IAM's bounds: characters of a managed policy, of all of a user's inline
#: policies together (both counted without whitespace), and managed policies
#: attached to one user or one group.
MAX_MANAGED_SIZE = 6_144
MAX_INLINE_SIZE = 2_048
MAX_ATTACHED = 10
#: Versions a managed policy keeps at most (IAM's bound).
MAX_POLICY_VERSIONS = 5


class UnknownPolicy(LookupError):
    """No managed policy of that name in the account."""


class UnknownGroup(LookupError):
    """No group of that name in the account."""


class UnknownUser(LookupError):
    """No IAM user of that name in the account."""


class LimitExceeded(ValueError):
    """A change would take a policy, a user or a group past IAM's bounds (``LimitExceeded``)."""

    code = "LimitExceeded"


class DeleteConflict(Exception):
    """Something still depends on what was to be deleted (IAM's ``DeleteConflict``): a
    policy still attached, a policy version that is the default, an account with buckets."""

    code = "DeleteConflict"


def policy_size(document: str) -> int:
    """A document's size as IAM counts it: its characters but whitespace."""
    return sum(1 for char in document if not char.isspace())


def check_managed_size(name: str, document: str) -> None:
    """:class:`LimitExceeded` if the managed policy ``name`` passes :data:`MAX_MANAGED_SIZE`."""
    size = policy_size(document)
    if size > MAX_MANAGED_SIZE:
        raise LimitExceeded(f"policy {name!r} has {size} characters (without whitespace); "
                            f"a managed policy may have {MAX_MANAGED_SIZE}")


def check_inline_size(user: str, documents: list[str]) -> None:
    """:class:`LimitExceeded` if ``user``'s inline ``documents`` pass :data:`MAX_INLINE_SIZE`."""
    size = sum(policy_size(document) for document in documents)
    if size > MAX_INLINE_SIZE:
        raise LimitExceeded(f"the inline policies of user {user!r} would have {size} characters "
                            f"(without whitespace); a user's may have {MAX_INLINE_SIZE} in all")


def check_attached(kind: str, principal: str, attached: int) -> None:
    """:class:`LimitExceeded` if ``principal`` has :data:`MAX_ATTACHED` managed policies already."""
    if attached >= MAX_ATTACHED:
        raise LimitExceeded(f"{kind} {principal!r} has {attached} managed policies attached; "
                            f"the most is {MAX_ATTACHED}")


def one_principal(user: str | None, group: str | None) -> tuple[str, str]:
    """``("user", name)`` or ``("group", name)``; ValueError unless exactly one is given."""
    if (user is None) == (group is None):
        raise ValueError("give exactly one of user or group")
    return ("user", user) if user is not None else ("group", group)  # type: ignore[return-value]
