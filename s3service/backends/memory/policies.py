"""The policy store (:class:`~..policy_base.PolicyStore`) of :class:`~.memory.MemoryBackend`."""
from __future__ import annotations

import threading

from ..base import UnknownAccount
from ..policy_base import (Attachment, UnknownGroup, UnknownPolicy, UnknownUser, check_attached,
                           check_inline_size, check_managed_size, one_principal)


class MemoryPolicies:
    """Managed and inline policies, groups and attachments, in dicts.

    A mixin: the class using it has ``_lock``, ``_accounts`` (account ids)
    and ``_users`` (account id -> user names), and calls :meth:`_init_policies`.
    """

    _lock: threading.Lock
    _accounts: dict[str, str]
    _users: dict[str, set[str]]

    def _init_policies(self) -> None:
        self._policies: dict[str, dict[str, str]] = {}           # account -> name -> document
        self._attached: dict[str, set[Attachment]] = {}
        self._inline: dict[tuple[str, str], dict[str, str]] = {}  # (account, user) -> name -> doc
        self._groups: dict[str, dict[str, set[str]]] = {}        # account -> group -> users
        self._policy_versions: dict[str, int] = {}

    def _changed(self, account_id: str) -> None:
        self._policy_versions[account_id] = self._policy_versions.get(account_id, 0) + 1

    def _account(self, account_id: str) -> None:
        if account_id not in self._accounts:
            raise UnknownAccount(account_id)

    def _user(self, account_id: str, user: str) -> None:
        self._account(account_id)
        if user not in self._users.get(account_id, ()):
            raise UnknownUser(user)

    def _group(self, account_id: str, group: str) -> set[str]:
        self._account(account_id)
        members = self._groups.get(account_id, {}).get(group)
        if members is None:
            raise UnknownGroup(group)
        return members

    # -- what the authorizer reads ------------------------------------------------------

    def policy_version(self, account_id: str) -> int:
        """See :meth:`.policy_base.PolicySource.policy_version`."""
        return self._policy_versions.get(account_id, 0)

    def policies_for_user(self, account_id: str, user: str) -> list[tuple[str, str]]:
        """See :meth:`.policy_base.PolicySource.policies_for_user`."""
        with self._lock:
            groups = {g for g, members in self._groups.get(account_id, {}).items()
                      if user in members}
            documents = self._policies.get(account_id, {})
            found = [(a.policy, documents[a.policy]) for a in self._attached.get(account_id, ())
                     if (a.kind == "user" and a.principal == user)
                     or (a.kind == "group" and a.principal in groups)]
            found = sorted(set(found))
            found += [(f"inline:{name}", text) for name, text
                      in sorted(self._inline.get((account_id, user), {}).items())]
            return found

    # -- administration (see .policy_base.PolicyStore) -----------------------------------------

    def put_policy(self, account_id: str, name: str, document: str) -> None:
        """Create the managed policy ``name``, or replace its document."""
        check_managed_size(name, document)
        with self._lock:
            self._account(account_id)
            self._policies.setdefault(account_id, {})[name] = document
            self._changed(account_id)

    def get_policy(self, account_id: str, name: str) -> str:
        """The document of a managed policy."""
        with self._lock:
            self._account(account_id)
            try:
                return self._policies.get(account_id, {})[name]
            except KeyError:
                raise UnknownPolicy(name) from None

    def delete_policy(self, account_id: str, name: str) -> None:
        """Delete a managed policy and all its attachments."""
        with self._lock:
            self._account(account_id)
            if self._policies.get(account_id, {}).pop(name, None) is None:
                raise UnknownPolicy(name)
            self._attached[account_id] = {a for a in self._attached.get(account_id, ())
                                          if a.policy != name}
            self._changed(account_id)

    def list_policies(self, account_id: str) -> list[str]:
        """The names of the account's managed policies, sorted."""
        with self._lock:
            self._account(account_id)
            return sorted(self._policies.get(account_id, {}))

    def attach_policy(self, account_id: str, policy: str, *, user: str | None = None,
                      group: str | None = None) -> None:
        """Attach a managed policy to exactly one of ``user`` or ``group``."""
        kind, principal = one_principal(user, group)
        with self._lock:
            self._principal(account_id, kind, principal)
            if policy not in self._policies.get(account_id, {}):
                raise UnknownPolicy(policy)
            attached = self._attached.setdefault(account_id, set())
            attachment = Attachment(policy, kind, principal)
            if attachment not in attached:
                check_attached(kind, principal, sum(1 for a in attached if a.kind == kind
                                                    and a.principal == principal))
            attached.add(attachment)
            self._changed(account_id)

    def detach_policy(self, account_id: str, policy: str, *, user: str | None = None,
                      group: str | None = None) -> None:
        """Undo :meth:`attach_policy`; :class:`UnknownPolicy` if it was not attached."""
        kind, principal = one_principal(user, group)
        with self._lock:
            self._principal(account_id, kind, principal)
            try:
                self._attached.get(account_id, set()).remove(Attachment(policy, kind, principal))
            except KeyError:
                raise UnknownPolicy(policy) from None
            self._changed(account_id)

    def _principal(self, account_id: str, kind: str, principal: str) -> None:
        if kind == "user":
            self._user(account_id, principal)
        else:
            self._group(account_id, principal)

    def list_attachments(self, account_id: str) -> list[Attachment]:
        """Every attachment of the account, sorted by policy, kind and principal."""
        with self._lock:
            self._account(account_id)
            return sorted(self._attached.get(account_id, ()),
                          key=lambda a: (a.policy, a.kind, a.principal))

    def put_user_policy(self, account_id: str, user: str, name: str, document: str) -> None:
        """Create or replace the user's inline policy ``name``."""
        with self._lock:
            self._user(account_id, user)
            inline = self._inline.setdefault((account_id, user), {})
            check_inline_size(user, [text for other, text in inline.items() if other != name]
                              + [document])
            inline[name] = document
            self._changed(account_id)

    def delete_user_policy(self, account_id: str, user: str, name: str) -> None:
        """Delete an inline policy (:class:`UnknownPolicy` if there is none)."""
        with self._lock:
            self._user(account_id, user)
            if self._inline.get((account_id, user), {}).pop(name, None) is None:
                raise UnknownPolicy(name)
            self._changed(account_id)

    def list_user_policies(self, account_id: str, user: str) -> list[str]:
        """The names of the user's inline policies, sorted."""
        with self._lock:
            self._user(account_id, user)
            return sorted(self._inline.get((account_id, user), {}))

    def add_group(self, account_id: str, group: str) -> None:
        """Create a group (no-op if it exists)."""
        with self._lock:
            self._account(account_id)
            self._groups.setdefault(account_id, {}).setdefault(group, set())
            self._changed(account_id)

    def list_groups(self, account_id: str) -> list[tuple[str, list[str]]]:
        """The account's groups with their members, sorted."""
        with self._lock:
            self._account(account_id)
            return [(group, sorted(members))
                    for group, members in sorted(self._groups.get(account_id, {}).items())]

    def add_user_to_group(self, account_id: str, group: str, user: str) -> None:
        """Make ``user`` a member of ``group`` (no-op if it is)."""
        with self._lock:
            members = self._group(account_id, group)
            self._user(account_id, user)
            members.add(user)
            self._changed(account_id)

    def remove_user_from_group(self, account_id: str, group: str, user: str) -> None:
        """Take ``user`` out of ``group`` (no-op if it was not in it)."""
        with self._lock:
            self._group(account_id, group).discard(user)
            self._changed(account_id)
