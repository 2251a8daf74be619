"""The policy store (:class:`~..policy_base.PolicyStore`) of :class:`~.memory.MemoryBackend`."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timezone

from ..base import UnknownAccount
from ..policy_base import (MAX_POLICY_VERSIONS, Attachment, DeleteConflict, LimitExceeded,
                           UnknownGroup, UnknownPolicy, UnknownUser, check_attached,
                           check_inline_size, check_managed_size, one_principal)
from ..records import PolicyRecord, PolicyVersion


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
        # (account, policy) -> its versions, oldest first; the default one's
        # document is also the one in _policies
        self._documents: dict[tuple[str, str], list[PolicyVersion]] = {}
        self._policy_dates: dict[tuple[str, str], tuple[datetime, datetime]] = {}

    def _forget_policies(self, account_id: str) -> None:
        """Everything of a deleted account (called under the lock)."""
        self._policies.pop(account_id, None)
        self._attached.pop(account_id, None)
        self._groups.pop(account_id, None)
        for table in (self._inline, self._documents, self._policy_dates):
            for key in [k for k in table if k[0] == account_id]:
                del table[key]
        self._changed(account_id)

    def _forget_user(self, account_id: str, user: str) -> None:
        """Everything of a deleted user (called under the lock)."""
        self._inline.pop((account_id, user), None)
        for members in self._groups.get(account_id, {}).values():
            members.discard(user)
        self._attached[account_id] = {a for a in self._attached.get(account_id, ())
                                      if not (a.kind == "user" and a.principal == user)}
        self._changed(account_id)

    def _rename_in_policies(self, account_id: str, user: str, new_name: str) -> None:
        """A user renamed: its inline policies, memberships and attachments follow (under the lock)."""
        inline = self._inline.pop((account_id, user), None)
        if inline is not None:
            self._inline[(account_id, new_name)] = inline
        for members in self._groups.get(account_id, {}).values():
            if user in members:
                members.discard(user)
                members.add(new_name)
        self._attached[account_id] = {
            Attachment(a.policy, a.kind, new_name) if a.kind == "user" and a.principal == user
            else a for a in self._attached.get(account_id, ())}
        self._changed(account_id)

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
        now = datetime.now(timezone.utc)
        with self._lock:
            self._account(account_id)
            self._policies.setdefault(account_id, {})[name] = document
            versions = self._documents.setdefault((account_id, name), [])
            if versions:
                versions[:] = [replace(v, document=document) if v.default else v
                               for v in versions]
                self._policy_dates[(account_id, name)] = (
                    self._policy_dates[(account_id, name)][0], now)
            else:
                versions.append(PolicyVersion(1, document, True, now))
                self._policy_dates[(account_id, name)] = (now, now)
            self._changed(account_id)

    def _versions_of(self, account_id: str, name: str) -> list[PolicyVersion]:
        self._account(account_id)
        if name not in self._policies.get(account_id, {}):
            raise UnknownPolicy(name)
        return self._documents[(account_id, name)]

    def describe_policy(self, account_id: str, name: str) -> PolicyRecord:
        """A managed policy's default version, attachment count and dates."""
        with self._lock:
            versions = self._versions_of(account_id, name)
            default = next(v.version for v in versions if v.default)
            created, updated = self._policy_dates[(account_id, name)]
            count = sum(1 for a in self._attached.get(account_id, ()) if a.policy == name)
            return PolicyRecord(name, default, count, created, updated)

    def create_policy_version(self, account_id: str, name: str, document: str, *,
                              set_default: bool = True) -> int:
        """Add a version to a managed policy; its number."""
        check_managed_size(name, document)
        now = datetime.now(timezone.utc)
        with self._lock:
            versions = self._versions_of(account_id, name)
            if len(versions) >= MAX_POLICY_VERSIONS:
                raise LimitExceeded(f"policy {name!r} has {len(versions)} versions already; "
                                    f"the most is {MAX_POLICY_VERSIONS}")
            number = max(v.version for v in versions) + 1
            if set_default:
                versions[:] = [replace(v, default=False) for v in versions]
                self._policies[account_id][name] = document
            versions.append(PolicyVersion(number, document, set_default, now))
            self._policy_dates[(account_id, name)] = (self._policy_dates[(account_id, name)][0],
                                                      now)
            self._changed(account_id)
            return number

    def list_policy_versions(self, account_id: str, name: str) -> list[PolicyVersion]:
        """The versions of a managed policy, newest first."""
        with self._lock:
            return sorted(self._versions_of(account_id, name), key=lambda v: -v.version)

    def delete_policy_version(self, account_id: str, name: str, version: int) -> None:
        """Delete a version that is not the default."""
        with self._lock:
            versions = self._versions_of(account_id, name)
            found = next((v for v in versions if v.version == version), None)
            if found is None:
                raise UnknownPolicy(f"{name} v{version}")
            if found.default:
                raise DeleteConflict(f"version v{version} is the default version of {name!r}")
            versions.remove(found)

    def set_default_policy_version(self, account_id: str, name: str, version: int) -> None:
        """Make ``version`` the one that applies."""
        with self._lock:
            versions = self._versions_of(account_id, name)
            found = next((v for v in versions if v.version == version), None)
            if found is None:
                raise UnknownPolicy(f"{name} v{version}")
            versions[:] = [replace(v, default=v.version == version) for v in versions]
            self._policies[account_id][name] = found.document
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
            self._documents.pop((account_id, name), None)
            self._policy_dates.pop((account_id, name), None)
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

    def delete_group(self, account_id: str, group: str) -> None:
        """Delete a group, its memberships and its attachments."""
        with self._lock:
            self._group(account_id, group)
            del self._groups[account_id][group]
            self._attached[account_id] = {a for a in self._attached.get(account_id, ())
                                          if not (a.kind == "group" and a.principal == group)}
            self._changed(account_id)
