"""The policy store (:class:`~..policy_base.PolicyStore`) of :class:`~.sql.SQLBackend`.

Tables (schema version "policies", see :mod:`.schema`): ``s3service_policies``
(managed documents), ``s3service_policy_attachments`` (policy -> user or
group), ``s3service_inline_policies``, ``s3service_groups``,
``s3service_group_members`` and ``s3service_policy_versions``: one row per
account, bumped in the same transaction as any change to the others, which
is what :class:`~s3service.policies.PolicyAuthorizer` checks before trusting
what it parsed.  Each process reads an account's version at most once per
credential cache time, and again as soon as the revocation generation moves
(:mod:`.revocation`: within a second); a change made through this instance is
seen at once.  ``s3service_policy_documents`` keeps every version of each managed
policy; ``s3service_policies`` holds the default one's document too.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, delete, func, insert, select, update

from ..base import UnknownAccount
from ..policy_base import (MAX_POLICY_VERSIONS, Attachment, DeleteConflict, LimitExceeded,
                           UnknownGroup, UnknownPolicy, UnknownUser, check_attached,
                           check_inline_size, check_managed_size, one_principal)
from ..records import PolicyRecord, PolicyVersion
from .revocation import bump
from .schema import (accounts, attachments, group_members, groups, inline_policies, policies,
                     policy_documents, policy_versions, users)

T = TypeVar("T")



class SQLPolicies:
    """A mixin for :class:`~.sql.SQLBackend`: policies, groups and attachments in its database.

    Uses the backend's ``_transaction()``, ``_write(work, account_id)`` and
    ``_cache_ttl``; the class calls :meth:`_init_policies`.
    """

    _cache_ttl: float
    _transaction: Callable[..., AbstractContextManager[Connection]]
    _write: Callable[..., Any]
    _check_revocations: Callable[[Any], None]
    _process_state: Callable[[], Any]

    def _init_policies(self) -> None:
        # account -> (deadline, version); single dict operations, which are
        # atomic, so no lock (nor one to inherit, held, across a fork).
        self._versions: dict[str, tuple[float, int]] = {}

    def _change(self, account_id: str, work: Callable[[Connection], T]) -> T:
        """``work(conn)`` and a bump of the account's policy version, in one transaction."""
        def both(conn: Connection) -> T:
            if conn.execute(select(accounts.c.account_id)
                            .where(accounts.c.account_id == account_id)).first() is None:
                raise UnknownAccount(account_id)
            result = work(conn)
            self._bump_policies(conn, account_id)
            bump(conn)
            return result

        try:
            return self._write(both, account_id)
        finally:
            self._versions.pop(account_id, None)

    @staticmethod
    def _bump_policies(conn: Connection, account_id: str) -> None:
        """Bump the account's policy version (in the caller's transaction)."""
        bumped = conn.execute(update(policy_versions)
                              .where(policy_versions.c.account_id == account_id)
                              .values(version=policy_versions.c.version + 1)).rowcount
        if not bumped:
            conn.execute(insert(policy_versions).values(account_id=account_id, version=1))

    def _read(self, account_id: str, work: Callable[[Connection], T]) -> T:
        with self._transaction() as conn:
            if conn.execute(select(accounts.c.account_id)
                            .where(accounts.c.account_id == account_id)).first() is None:
                raise UnknownAccount(account_id)
            return work(conn)

    @staticmethod
    def _require(conn: Connection, table: Table, error: type[LookupError], name: str,
                 *conditions: Any) -> None:
        if conn.execute(select(table.c.account_id).where(*conditions)).first() is None:
            raise error(name)

    def _require_user(self, conn: Connection, account_id: str, user: str) -> None:
        self._require(conn, users, UnknownUser, user, users.c.account_id == account_id,
                      users.c.name == user)

    def _require_group(self, conn: Connection, account_id: str, group: str) -> None:
        self._require(conn, groups, UnknownGroup, group, groups.c.account_id == account_id,
                      groups.c.name == group)

    # -- what the authorizer reads ------------------------------------------------------

    def policy_version(self, account_id: str) -> int:
        """See :meth:`.policy_base.PolicySource.policy_version` (cached for the credential cache time)."""
        self._check_revocations(self._process_state())
        now = time.monotonic()
        hit = self._versions.get(account_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._transaction() as conn:
            version = conn.execute(select(policy_versions.c.version)
                                   .where(policy_versions.c.account_id == account_id)).scalar()
        version = int(version or 0)
        if self._cache_ttl > 0:
            self._versions[account_id] = (now + self._cache_ttl, version)
        return version

    def policies_for_user(self, account_id: str, user: str) -> list[tuple[str, str]]:
        """See :meth:`.policy_base.PolicySource.policies_for_user`."""
        member_of = select(group_members.c.group_name).where(
            group_members.c.account_id == account_id, group_members.c.user_name == user)
        managed = (select(policies.c.name, policies.c.document).distinct()
                   .join(attachments, (attachments.c.account_id == policies.c.account_id)
                         & (attachments.c.policy_name == policies.c.name))
                   .where(policies.c.account_id == account_id,
                          ((attachments.c.kind == "user") & (attachments.c.principal == user))
                          | ((attachments.c.kind == "group")
                             & attachments.c.principal.in_(member_of)))
                   .order_by(policies.c.name))
        inline = (select(inline_policies.c.name, inline_policies.c.document)
                  .where(inline_policies.c.account_id == account_id,
                         inline_policies.c.user_name == user)
                  .order_by(inline_policies.c.name))
        with self._transaction() as conn:
            found = [(row.name, row.document) for row in conn.execute(managed)]
            found += [(f"inline:{row.name}", row.document) for row in conn.execute(inline)]
        return found

    # -- administration (see .policy_base.PolicyStore) -----------------------------------------

    def put_policy(self, account_id: str, name: str, document: str) -> None:
        """Create the managed policy ``name``, or replace its document."""
        check_managed_size(name, document)
        now = datetime.now(timezone.utc)

        def work(conn: Connection) -> None:
            default = conn.execute(select(policies.c.default_version).where(
                policies.c.account_id == account_id, policies.c.name == name)).scalar()
            if default is None:
                conn.execute(insert(policies).values(account_id=account_id, name=name,
                                                     document=document, default_version=1,
                                                     created=now, updated=now))
                conn.execute(insert(policy_documents).values(
                    account_id=account_id, policy_name=name, version=1, document=document,
                    created=now))
                return
            conn.execute(update(policies).where(policies.c.account_id == account_id,
                                                policies.c.name == name)
                         .values(document=document, updated=now))
            conn.execute(update(policy_documents).where(
                policy_documents.c.account_id == account_id,
                policy_documents.c.policy_name == name,
                policy_documents.c.version == default).values(document=document))

        self._change(account_id, work)

    def _require_policy(self, conn: Connection, account_id: str, name: str) -> Any:
        row = conn.execute(select(policies).where(policies.c.account_id == account_id,
                                                  policies.c.name == name)).first()
        if row is None:
            raise UnknownPolicy(name)
        return row

    def describe_policy(self, account_id: str, name: str) -> PolicyRecord:
        """A managed policy's default version, attachment count and dates."""
        def work(conn: Connection) -> PolicyRecord:
            row = self._require_policy(conn, account_id, name)
            count = conn.execute(select(func.count()).select_from(attachments).where(
                attachments.c.account_id == account_id,
                attachments.c.policy_name == name)).scalar_one()
            return PolicyRecord(name, int(row.default_version), int(count), row.created,
                                row.updated)

        return self._read(account_id, work)

    def create_policy_version(self, account_id: str, name: str, document: str, *,
                              set_default: bool = True) -> int:
        """Add a version to a managed policy; its number."""
        check_managed_size(name, document)
        now = datetime.now(timezone.utc)
        where = (policy_documents.c.account_id == account_id,
                 policy_documents.c.policy_name == name)

        def work(conn: Connection) -> int:
            self._require_policy(conn, account_id, name)
            count, highest = conn.execute(select(func.count(), func.max(policy_documents.c.version))
                                          .where(*where)).one()
            if count >= MAX_POLICY_VERSIONS:
                raise LimitExceeded(f"policy {name!r} has {count} versions already; "
                                    f"the most is {MAX_POLICY_VERSIONS}")
            number = int(highest or 0) + 1
            conn.execute(insert(policy_documents).values(
                account_id=account_id, policy_name=name, version=number, document=document,
                created=now))
            values: dict[str, Any] = {"updated": now}
            if set_default:
                values.update(document=document, default_version=number)
            conn.execute(update(policies).where(policies.c.account_id == account_id,
                                                policies.c.name == name).values(**values))
            return number

        return self._change(account_id, work)

    def list_policy_versions(self, account_id: str, name: str) -> list[PolicyVersion]:
        """The versions of a managed policy, newest first."""
        def work(conn: Connection) -> list[PolicyVersion]:
            default = self._require_policy(conn, account_id, name).default_version
            rows = conn.execute(select(policy_documents).where(
                policy_documents.c.account_id == account_id,
                policy_documents.c.policy_name == name)
                .order_by(policy_documents.c.version.desc())).all()
            return [PolicyVersion(int(row.version), row.document, row.version == default,
                                  row.created) for row in rows]

        return self._read(account_id, work)

    def delete_policy_version(self, account_id: str, name: str, version: int) -> None:
        """Delete a version that is not the default."""
        def work(conn: Connection) -> None:
            if self._require_policy(conn, account_id, name).default_version == version:
                raise DeleteConflict(f"version v{version} is the default version of {name!r}")
            if not conn.execute(delete(policy_documents).where(
                    policy_documents.c.account_id == account_id,
                    policy_documents.c.policy_name == name,
                    policy_documents.c.version == version)).rowcount:
                raise UnknownPolicy(f"{name} v{version}")

        self._change(account_id, work)

    def set_default_policy_version(self, account_id: str, name: str, version: int) -> None:
        """Make ``version`` the one that applies."""
        def work(conn: Connection) -> None:
            self._require_policy(conn, account_id, name)
            document = conn.execute(select(policy_documents.c.document).where(
                policy_documents.c.account_id == account_id,
                policy_documents.c.policy_name == name,
                policy_documents.c.version == version)).scalar()
            if document is None:
                raise UnknownPolicy(f"{name} v{version}")
            conn.execute(update(policies).where(policies.c.account_id == account_id,
                                                policies.c.name == name)
                         .values(document=document, default_version=version,
                                 updated=datetime.now(timezone.utc)))

        self._change(account_id, work)

    def get_policy(self, account_id: str, name: str) -> str:
        """The document of a managed policy."""
        found = self._read(account_id, lambda conn: conn.execute(
            select(policies.c.document).where(policies.c.account_id == account_id,
                                              policies.c.name == name)).scalar())
        if found is None:
            raise UnknownPolicy(name)
        return found

    def delete_policy(self, account_id: str, name: str) -> None:
        """Delete a managed policy and all its attachments."""
        def work(conn: Connection) -> None:
            conn.execute(delete(attachments).where(attachments.c.account_id == account_id,
                                                   attachments.c.policy_name == name))
            if not conn.execute(delete(policies).where(policies.c.account_id == account_id,
                                                       policies.c.name == name)).rowcount:
                raise UnknownPolicy(name)

        self._change(account_id, work)

    def list_policies(self, account_id: str) -> list[str]:
        """The names of the account's managed policies, sorted."""
        return self._read(account_id, lambda conn: list(conn.execute(
            select(policies.c.name).where(policies.c.account_id == account_id)
            .order_by(policies.c.name)).scalars()))

    def attach_policy(self, account_id: str, policy: str, *, user: str | None = None,
                      group: str | None = None) -> None:
        """Attach a managed policy to exactly one of ``user`` or ``group``."""
        kind, principal = one_principal(user, group)

        def work(conn: Connection) -> None:
            self._require_principal(conn, account_id, kind, principal)
            self._require(conn, policies, UnknownPolicy, policy,
                          policies.c.account_id == account_id, policies.c.name == policy)
            row = dict(account_id=account_id, policy_name=policy, kind=kind, principal=principal)
            if conn.execute(select(attachments.c.account_id).where(
                    *(attachments.c[k] == v for k, v in row.items()))).first() is None:
                check_attached(kind, principal, conn.execute(
                    select(func.count()).select_from(attachments).where(
                        attachments.c.account_id == account_id, attachments.c.kind == kind,
                        attachments.c.principal == principal)).scalar_one())
                conn.execute(insert(attachments).values(**row))

        self._change(account_id, work)

    def detach_policy(self, account_id: str, policy: str, *, user: str | None = None,
                      group: str | None = None) -> None:
        """Undo :meth:`attach_policy`; :class:`UnknownPolicy` if it was not attached."""
        kind, principal = one_principal(user, group)

        def work(conn: Connection) -> None:
            self._require_principal(conn, account_id, kind, principal)
            if not conn.execute(delete(attachments).where(
                    attachments.c.account_id == account_id, attachments.c.policy_name == policy,
                    attachments.c.kind == kind, attachments.c.principal == principal)).rowcount:
                raise UnknownPolicy(policy)

        self._change(account_id, work)

    def _require_principal(self, conn: Connection, account_id: str, kind: str,
                           principal: str) -> None:
        if kind == "user":
            self._require_user(conn, account_id, principal)
        else:
            self._require_group(conn, account_id, principal)

    def list_attachments(self, account_id: str) -> list[Attachment]:
        """Every attachment of the account, sorted by policy, kind and principal."""
        rows = self._read(account_id, lambda conn: conn.execute(
            select(attachments.c.policy_name, attachments.c.kind, attachments.c.principal)
            .where(attachments.c.account_id == account_id)
            .order_by(attachments.c.policy_name, attachments.c.kind,
                      attachments.c.principal)).all())
        return [Attachment(*row) for row in rows]

    def put_user_policy(self, account_id: str, user: str, name: str, document: str) -> None:
        """Create or replace the user's inline policy ``name``."""
        def work(conn: Connection) -> None:
            self._require_user(conn, account_id, user)
            check_inline_size(user, list(conn.execute(select(inline_policies.c.document).where(
                inline_policies.c.account_id == account_id, inline_policies.c.user_name == user,
                inline_policies.c.name != name)).scalars()) + [document])
            done = conn.execute(update(inline_policies).where(
                inline_policies.c.account_id == account_id, inline_policies.c.user_name == user,
                inline_policies.c.name == name).values(document=document)).rowcount
            if not done:
                conn.execute(insert(inline_policies).values(
                    account_id=account_id, user_name=user, name=name, document=document))

        self._change(account_id, work)

    def delete_user_policy(self, account_id: str, user: str, name: str) -> None:
        """Delete an inline policy (:class:`UnknownPolicy` if there is none)."""
        def work(conn: Connection) -> None:
            self._require_user(conn, account_id, user)
            if not conn.execute(delete(inline_policies).where(
                    inline_policies.c.account_id == account_id,
                    inline_policies.c.user_name == user,
                    inline_policies.c.name == name)).rowcount:
                raise UnknownPolicy(name)

        self._change(account_id, work)

    def list_user_policies(self, account_id: str, user: str) -> list[str]:
        """The names of the user's inline policies, sorted."""
        def work(conn: Connection) -> list[str]:
            self._require_user(conn, account_id, user)
            return list(conn.execute(select(inline_policies.c.name).where(
                inline_policies.c.account_id == account_id, inline_policies.c.user_name == user)
                .order_by(inline_policies.c.name)).scalars())

        return self._read(account_id, work)

    def add_group(self, account_id: str, group: str) -> None:
        """Create a group (no-op if it exists)."""
        def work(conn: Connection) -> None:
            if conn.execute(select(groups.c.name).where(groups.c.account_id == account_id,
                                                        groups.c.name == group)).first() is None:
                conn.execute(insert(groups).values(account_id=account_id, name=group))

        self._change(account_id, work)

    def list_groups(self, account_id: str) -> list[tuple[str, list[str]]]:
        """The account's groups with their members, sorted."""
        def work(conn: Connection) -> list[tuple[str, list[str]]]:
            names = list(conn.execute(select(groups.c.name).where(groups.c.account_id == account_id)
                                      .order_by(groups.c.name)).scalars())
            members: dict[str, list[str]] = {name: [] for name in names}
            for group, user in conn.execute(
                    select(group_members.c.group_name, group_members.c.user_name)
                    .where(group_members.c.account_id == account_id)
                    .order_by(group_members.c.group_name, group_members.c.user_name)):
                members[group].append(user)
            return list(members.items())

        return self._read(account_id, work)

    def add_user_to_group(self, account_id: str, group: str, user: str) -> None:
        """Make ``user`` a member of ``group`` (no-op if it is)."""
        def work(conn: Connection) -> None:
            self._require_group(conn, account_id, group)
            self._require_user(conn, account_id, user)
            if conn.execute(select(group_members.c.user_name).where(
                    group_members.c.account_id == account_id,
                    group_members.c.group_name == group,
                    group_members.c.user_name == user)).first() is None:
                conn.execute(insert(group_members).values(account_id=account_id,
                                                          group_name=group, user_name=user))

        self._change(account_id, work)

    def remove_user_from_group(self, account_id: str, group: str, user: str) -> None:
        """Take ``user`` out of ``group`` (no-op if it was not in it)."""
        def work(conn: Connection) -> None:
            self._require_group(conn, account_id, group)
            conn.execute(delete(group_members).where(
                group_members.c.account_id == account_id, group_members.c.group_name == group,
                group_members.c.user_name == user))

        self._change(account_id, work)

    def delete_group(self, account_id: str, group: str) -> None:
        """Delete a group, its memberships and its attachments."""
        def work(conn: Connection) -> None:
            self._require_group(conn, account_id, group)
            conn.execute(delete(attachments).where(
                attachments.c.account_id == account_id, attachments.c.kind == "group",
                attachments.c.principal == group))
            conn.execute(delete(group_members).where(group_members.c.account_id == account_id,
                                                     group_members.c.group_name == group))
            conn.execute(delete(groups).where(groups.c.account_id == account_id,
                                              groups.c.name == group))

        self._change(account_id, work)
