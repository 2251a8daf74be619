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
"""
from __future__ import annotations

from .protocols import PolicySource, PolicyStore   # (once here; still importable from here)
from .records import Attachment

__all__ = ["Attachment", "PolicySource", "PolicyStore", "UnknownGroup", "UnknownPolicy",
           "UnknownUser", "one_principal"]


class UnknownPolicy(LookupError):
    """No managed policy of that name in the account."""


class UnknownGroup(LookupError):
    """No group of that name in the account."""


class UnknownUser(LookupError):
    """No IAM user of that name in the account."""


def one_principal(user: str | None, group: str | None) -> tuple[str, str]:
    """``("user", name)`` or ``("group", name)``; ValueError unless exactly one is given."""
    if (user is None) == (group is None):
        raise ValueError("give exactly one of user or group")
    return ("user", user) if user is not None else ("group", group)  # type: ignore[return-value]
