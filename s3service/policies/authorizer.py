"""``PolicyAuthorizer``: the authorizer that decides with the IAM policies in a store."""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from ..backends.protocols import PolicySource
from ..identity import Identity
from ..authorization import AllowAuthenticated, Authorizer, RequestContext, key_getter
from ..parameters import check_protocol, protocol_methods
from .document import Policy, parse_policy
from .errors import PolicyError
from .evaluate import ALLOWED, EXPLICIT_DENY, Decision, evaluate
from .variables import variable_keys

log = logging.getLogger("s3service.policies")

#: The decision for an account's own (root) keys: always allowed.
ROOT = Decision(ALLOWED)
CACHE_IDENTITIES = 4_096       # identities whose policies are kept parsed
CACHE_DECISIONS = 256          # decisions kept per identity (then forgotten all at once)


@dataclass
class _Entry:
    """An identity's parsed policies at one policy version, and its cached decisions.

    A decision depends on the action, the resource and the values of the
    condition keys the policies look at (``keys``; those fixed by the identity,
    such as ``aws:username``, left out): it is kept under all of them.
    """

    version: int
    policies: tuple[Policy, ...]
    broken: str | None = None          # a stored document that no longer parses
    keys: tuple[str, ...] = ()
    getters: tuple[Callable[[RequestContext], str | None], ...] = ()
    decisions: dict[tuple[object, ...], Decision] = field(default_factory=dict)


def keeps_policies(store: object) -> bool:
    """Whether ``store`` keeps IAM policies (has every method of
    :class:`~s3service.backends.protocols.PolicySource`)."""
    return all(callable(getattr(store, m, None)) for m in protocol_methods(PolicySource))


def default_authorizer(store: object) -> Authorizer:
    """The authorizer used when an embedder names none: safe by default.

    A store that keeps IAM policies (both bundled stores do) gets a
    :class:`PolicyAuthorizer` on it, so an IAM user may do only what its
    policies allow, as on AWS (with no policy, nothing), and an account's own
    (root) keys everything.  A store without policies has no IAM users to
    tell apart: every authenticated caller may do everything
    (:class:`~s3service.authorization.AllowAuthenticated`).
    """
    if keeps_policies(store):
        return PolicyAuthorizer(store)          # type: ignore[arg-type]
    return AllowAuthenticated()


@lru_cache(maxsize=4096)
def _parsed(label: str, document: str) -> Policy:
    return parse_policy(document, label)


class PolicyAuthorizer:
    """Decides each request with AWS's IAM policy evaluation (see :mod:`s3service.policies`).

    :param store: a :class:`~s3service.backends.protocols.PolicySource`
        (``MemoryBackend`` and ``SQLBackend`` are ones).

    An account's own (root) key may do everything; an IAM user may do what
    its policies (attached to it, to its groups, and inline) allow and do not
    deny.  Parsed policies are kept per identity and checked against
    ``store.policy_version(account)`` on every decision, so a change made in
    any process takes effect as soon as the store's version does (the SQL
    store's within its credential cache time).
    """

    def __init__(self, store: PolicySource) -> None:
        check_protocol("store", store, PolicySource)
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
        # What decide() does, inline for a decision already kept (the common case):
        # this runs on every request.
        user = identity.user
        if user is None:
            return True
        account = identity.account_id
        entry = self._entries.get((account, user))
        if entry is not None and entry.version == self.store.policy_version(account):
            if entry.keys:
                key: tuple[object, ...] = (action, resource,
                                           context.key_values(entry.keys, entry.getters))
            else:
                key = (action, resource)
            found = entry.decisions.get(key)
            if found is not None:
                return found.outcome is ALLOWED
        return self.decide(identity, action, resource, context).outcome is ALLOWED

    # -- deciding ---------------------------------------------------------------

    def decide(self, identity: Identity, action: str, resource: str,
               context: RequestContext | Mapping[str, str | tuple[str, ...]] | None = None
               ) -> Decision:
        """The :class:`~.evaluate.Decision` (with the deciding statement) for one request.

        ``context`` is the request's :class:`~s3service.authorization.RequestContext`,
        or a mapping of condition keys to values (as ``policy simulate`` takes).
        """
        if identity.user is None:
            return ROOT
        entry = self._entry(identity)
        if entry.broken is not None:
            return Decision(EXPLICIT_DENY, entry.broken)
        if not isinstance(context, RequestContext):
            context = RequestContext({}, identity, context)
        if entry.keys:
            key: tuple[object, ...] = (action, resource,
                                       context.key_values(entry.keys, entry.getters))
        else:
            key = (action, resource)
        found = entry.decisions.get(key)
        if found is None:
            found = evaluate(entry.policies, action, resource, context.values)
            if len(entry.decisions) >= CACHE_DECISIONS:
                entry.decisions.clear()
            entry.decisions[key] = found
        return found

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
        keys = tuple(sorted(_request_keys(policies)))
        return _Entry(version, tuple(policies), keys=keys,
                      getters=tuple(key_getter(name) for name in keys))


#: Condition keys whose values are fixed by the identity: decisions need not be kept by them.
IDENTITY_KEYS = frozenset({"aws:username", "aws:userid", "aws:principalaccount",
                           "aws:principalarn", "aws:principaltype"})


def _request_keys(policies: list[Policy]) -> set[str]:
    """The condition keys a decision under ``policies`` may depend on, besides the identity's."""
    keys: set[str] = set()
    for policy in policies:
        for statement in policy.statements:
            if not statement.variables and not statement.conditions:
                continue
            for resource in statement.resources:
                keys |= variable_keys(resource)
            for condition in statement.conditions:
                keys.add(condition.key)
                for value in condition.values:
                    keys |= variable_keys(value)
    return keys - IDENTITY_KEYS
