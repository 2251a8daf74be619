"""``PolicyAuthorizer``: the authorizer that decides with the IAM policies in a store."""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from ..backends.policy_base import PolicySource
from ..identity import Identity
from ..requestcontext import RequestContext
from .document import Policy, PolicyError, parse_policy
from .evaluate import ALLOWED, EXPLICIT_DENY, Decision, evaluate

log = logging.getLogger("s3service.policies")

#: The decision for an account's own (root) keys: always allowed.
ROOT = Decision(ALLOWED)
CACHE_IDENTITIES = 10_000      # identities whose policies are kept parsed
CACHE_DECISIONS = 1_000        # decisions kept per identity (when they can be)


@dataclass
class _Entry:
    """An identity's parsed policies at one policy version, and its cached decisions."""

    version: int
    policies: tuple[Policy, ...]
    broken: str | None = None          # a stored document that no longer parses
    # Decisions depend on action and resource only when no statement has a
    # condition or a policy variable; then they are kept.
    cacheable: bool = True
    decisions: dict[tuple[str, str], Decision] = field(default_factory=dict)


@lru_cache(maxsize=4096)
def _parsed(label: str, document: str) -> Policy:
    return parse_policy(document, label)


class PolicyAuthorizer:
    """Decides each request with AWS's IAM policy evaluation (see :mod:`s3service.policies`).

    :param store: a :class:`~s3service.backends.policy_base.PolicySource`
        (``MemoryBackend`` and ``SQLBackend`` are ones).

    An account's own (root) key may do everything; an IAM user may do what
    its policies (attached to it, to its groups, and inline) allow and do not
    deny.  Parsed policies are kept per identity and checked against
    ``store.policy_version(account)`` on every decision, so a change made in
    any process takes effect as soon as the store's version does (the SQL
    store's within its credential cache time).
    """

    def __init__(self, store: PolicySource) -> None:
        self.store = store
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    # -- the Authorizer protocol ---------------------------------------------------

    def is_allowed(self, identity: Identity, action: str, resource: str) -> bool:
        """Whether ``identity`` may do ``action`` on ``resource`` (no request context)."""
        return self.decide(identity, action, resource).allowed

    def is_allowed_in(self, identity: Identity, action: str, resource: str,
                      context: RequestContext) -> bool:
        """The same, with the request's condition keys (``aws:SourceIp``...)."""
        return self.decide(identity, action, resource, context).allowed

    # -- deciding ---------------------------------------------------------------

    def decide(self, identity: Identity, action: str, resource: str,
               context: RequestContext | Mapping[str, str | tuple[str, ...]] | None = None
               ) -> Decision:
        """The :class:`~.evaluate.Decision` (with the deciding statement) for one request.

        ``context`` is the request's :class:`~s3service.requestcontext.RequestContext`,
        or a mapping of condition keys to values (as ``policy simulate`` takes).
        """
        if identity.user is None:
            return ROOT
        entry = self._entry(identity)
        if entry.broken is not None:
            return Decision(EXPLICIT_DENY, entry.broken)
        if entry.cacheable:
            key = (action, resource)
            found = entry.decisions.get(key)
            if found is None:
                found = evaluate(entry.policies, action, resource)
                if len(entry.decisions) >= CACHE_DECISIONS:
                    entry.decisions.clear()
                entry.decisions[key] = found
            return found
        if not isinstance(context, RequestContext):
            context = RequestContext({}, identity, context)
        return evaluate(entry.policies, action, resource, context.values)

    def _entry(self, identity: Identity) -> _Entry:
        account, user = identity.account_id, identity.user
        assert user is not None
        version = self.store.policy_version(account)
        key = (account, user)
        entry = self._entries.get(key)
        if entry is not None and entry.version == version:
            return entry
        entry = self._load(account, user, version)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > CACHE_IDENTITIES:
                self._entries.popitem(last=False)
        return entry

    def _load(self, account: str, user: str, version: int) -> _Entry:
        policies = []
        for label, document in self.store.policies_for_user(account, user):
            try:
                policies.append(_parsed(label, document))
            except PolicyError as exc:
                # Stores take only documents that parse; one that does not was
                # written behind our back.  Refuse everything rather than drop
                # what may be a Deny.
                log.error("policy %s of account %s does not parse (%s): denying user %s",
                          label, account, exc, user)
                return _Entry(version, (), broken=label)
        policies.sort(key=lambda p: p.name)
        cacheable = not any(s.conditions or s.variables for p in policies for s in p.statements)
        return _Entry(version, tuple(policies), cacheable=cacheable)
