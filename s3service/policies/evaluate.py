"""IAM's decision for one request against a set of identity policies.

Every statement of every policy is looked at: a matching ``Deny`` decides at
once (explicit deny); otherwise a matching ``Allow`` allows; otherwise the
request is denied by default (implicit deny).  A statement matches when its
``Action`` (or ``NotAction``) and ``Resource`` (or ``NotResource``) cover the
request and all its conditions hold.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .document import Policy, Statement
from .matching import ArnPattern
from .variables import Lookup, substitute

ALLOWED = "allowed"
IMPLICIT_DENY = "implicit deny"
EXPLICIT_DENY = "explicit deny"

#: Characters of a resource ARN that a decision looks at, at most.  An S3
#: object's ARN is at most about 1,100 (a 63-character bucket name, a key of
#: 1,024 bytes); a longer resource is no S3 resource and is refused unread.
MAX_RESOURCE = 2048


@dataclass(frozen=True)
class Decision:
    """The outcome, and the policy and statement that decided it (none for an implicit deny)."""

    outcome: str                     # ALLOWED, IMPLICIT_DENY or EXPLICIT_DENY
    policy: str | None = None
    statement: Statement | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome == ALLOWED

    def describe(self) -> str:
        """``explicit deny by Sid "X" (line 7) of policy deny-photos``, for people."""
        if self.statement is None:
            return f"{self.outcome}: no statement allows it"
        return f"{self.outcome} by {self.statement.describe()} of policy {self.policy}"


def _no_keys(key: str) -> None:
    return None


def evaluate(policies: Sequence[Policy], action: str, resource: str,
             lookup: Lookup = _no_keys) -> Decision:
    """Decide whether ``action`` on ``resource`` is allowed by ``policies``.

    A ``resource`` longer than :data:`MAX_RESOURCE` is denied (implicitly).
    """
    if len(resource) > MAX_RESOURCE:
        return Decision(IMPLICIT_DENY)
    allow: Decision | None = None
    for policy in policies:
        for statement in policy.statements:
            if statement.effect == "Allow" and allow is not None:
                continue                      # one Allow is enough; only a Deny can change it
            if statement_matches(statement, action, resource, lookup):
                if statement.effect == "Deny":
                    return Decision(EXPLICIT_DENY, policy.name, statement)
                allow = Decision(ALLOWED, policy.name, statement)
    return allow or Decision(IMPLICIT_DENY)


def statement_matches(statement: Statement, action: str, resource: str, lookup: Lookup) -> bool:
    """Whether ``statement`` applies to ``action`` on ``resource`` in the request ``lookup`` tells of."""
    named = any(pattern.fullmatch(action) for pattern in statement.actions)
    if named == statement.not_action:
        return False
    covered = False
    have = resource.split(":", 5)
    for raw, compiled in zip(statement.resources, statement.resource_patterns):
        if compiled is None:
            expanded = substitute(raw, lookup, pattern=True)
            if expanded is None:
                continue                      # a variable without a value matches nothing
            compiled = ArnPattern(expanded)
        if compiled.matches_parts(have):
            covered = True
            break
    if covered == statement.not_resource:
        return False
    return all(condition.holds(lookup) for condition in statement.conditions)
