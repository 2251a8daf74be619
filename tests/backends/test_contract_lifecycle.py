"""The lifecycle contract (users disabled, renamed and deleted, keys and accounts deleted,
policy versions, groups deleted, keys' last use) on MemoryBackend, SQLite and PostgreSQL,
and revocation seen by another SQL instance (another process) within a second."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from s3service.backends import UnknownAccount
from s3service.backends.policy_base import (MAX_POLICY_VERSIONS, Attachment, DeleteConflict,
                                            LimitExceeded, UnknownGroup, UnknownPolicy,
                                            UnknownUser)
from s3service.backends.protocols import REVOCATION_SECONDS
from s3service.backends.sql import SQLBackend
from s3service.identity import Identity
from s3service.policies import PolicyAuthorizer

from .test_contract_policies import A, B, LIST, kind, open_store, store  # noqa: F401 (fixtures)

DENY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})


def test_users_are_disabled_renamed_and_deleted(store):  # noqa: F811
    store.add_key(A, "AKALICE", "secret", user="alice")
    store.add_key(A, "ASALICE", "secret", user="alice", session_token="token",
                  expires=datetime.now(timezone.utc) + timedelta(hours=1))
    users = store.describe_users(A)
    assert [(u.name, u.active) for u in users] == [("alice", True), ("bob", True)]
    assert all(u.created is not None for u in users)
    store.set_user_active(A, "alice", False)
    assert not store.get_credential("AKALICE").active
    assert not store.get_credential("ASALICE").active, "session keys too"
    assert [u.active for u in store.describe_users(A)] == [False, True]
    assert store.get_credential("AKALICE").active is False
    store.set_user_active(A, "alice", True)
    assert store.get_credential("AKALICE").active

    store.put_policy(A, "list", LIST)
    store.attach_policy(A, "list", user="alice")
    store.put_user_policy(A, "alice", "inline", LIST)
    store.add_group(A, "staff")
    store.add_user_to_group(A, "staff", "alice")
    store.rename_user(A, "alice", "alicia")
    assert store.list_users(A) == ["alicia", "bob"]
    assert store.get_credential("AKALICE").user == "alicia"
    assert store.list_attachments(A) == [Attachment("list", "user", "alicia")]
    assert store.list_user_policies(A, "alicia") == ["inline"]
    assert store.list_groups(A) == [("staff", ["alicia"])]
    with pytest.raises(ValueError):
        store.rename_user(A, "alicia", "bob")

    store.delete_user(A, "alicia")
    assert store.list_users(A) == ["bob"]
    assert store.get_credential("AKALICE") is None and store.get_credential("ASALICE") is None
    assert store.list_attachments(A) == [] and store.list_groups(A) == [("staff", [])]
    assert store.policies_for_user(A, "alicia") == []
    assert store.list_users(B) == ["alice"], "the other account's alice is another user"
    for call in (lambda: store.delete_user(A, "alicia"),
                 lambda: store.set_user_active(A, "nobody", False),
                 lambda: store.rename_user(A, "nobody", "x")):
        with pytest.raises(UnknownUser):
            call()


def test_keys_and_accounts_are_deleted(store):  # noqa: F811
    store.add_key(A, "AKROOT", "secret")
    store.add_key(B, "AKOTHER", "secret")
    assert store.list_keys(A)[0].created is not None
    store.note_key_used("AKROOT", "iam", "us-east-1")
    used = store.list_keys(A)[0]
    assert (used.last_used_service, used.last_used_region) == ("iam", "us-east-1")
    assert used.last_used is not None
    store.delete_key("AKROOT")
    assert store.get_credential("AKROOT") is None and store.list_keys(A) == []
    with pytest.raises(KeyError):
        store.delete_key("AKROOT")

    store.add_key(A, "AKROOT2", "secret", user="alice")
    store.put_policy(A, "list", LIST)
    store.attach_policy(A, "list", user="alice")
    store.add_group(A, "staff")
    store.add_bucket(A, "a-bucket")
    store.delete_account(A)
    assert [account for account, _ in store.list_accounts()] == [B]
    assert store.get_credential("AKROOT2") is None and store.get_bucket("a-bucket") is None
    assert store.get_credential("AKOTHER") is not None
    with pytest.raises(UnknownAccount):
        store.delete_account(A)
    store.add_account(A, "again")                  # nothing of the old one comes back
    assert store.list_users(A) == [] and store.list_policies(A) == []
    assert store.list_groups(A) == [] and list(store.list_buckets(A)) == []


def test_policy_versions(store):  # noqa: F811
    store.put_policy(A, "p", LIST)
    record = store.describe_policy(A, "p")
    assert (record.default_version, record.attachments) == (1, 0) and record.created
    assert store.create_policy_version(A, "p", DENY) == 2
    assert store.get_policy(A, "p") == DENY
    assert store.policies_for_user(A, "alice") == []
    store.attach_policy(A, "p", user="alice")
    assert store.policies_for_user(A, "alice") == [("p", DENY)]
    assert store.create_policy_version(A, "p", LIST, set_default=False) == 3
    assert store.get_policy(A, "p") == DENY
    versions = store.list_policy_versions(A, "p")
    assert [(v.version, v.default, v.document) for v in versions] == [
        (3, False, LIST), (2, True, DENY), (1, False, LIST)]
    with pytest.raises(DeleteConflict):
        store.delete_policy_version(A, "p", 2)
    version = store.policy_version(A)
    store.set_default_policy_version(A, "p", 1)
    assert store.policy_version(A) != version
    assert store.policies_for_user(A, "alice") == [("p", LIST)]
    assert store.describe_policy(A, "p").attachments == 1
    store.delete_policy_version(A, "p", 2)
    store.put_policy(A, "p", DENY)                       # replaces the default's document
    assert [(v.version, v.document) for v in store.list_policy_versions(A, "p")] == [
        (3, LIST), (1, DENY)]
    for _ in range(MAX_POLICY_VERSIONS - 2):
        store.create_policy_version(A, "p", LIST, set_default=False)
    with pytest.raises(LimitExceeded):
        store.create_policy_version(A, "p", LIST)
    with pytest.raises(UnknownPolicy):
        store.set_default_policy_version(A, "p", 99)
    with pytest.raises(UnknownPolicy):
        store.describe_policy(B, "p")
    store.delete_policy(A, "p")
    store.put_policy(A, "p", LIST)
    assert [v.version for v in store.list_policy_versions(A, "p")] == [1]


def test_groups_are_deleted_with_their_memberships_and_attachments(store):  # noqa: F811
    store.put_policy(A, "list", LIST)
    store.add_group(A, "staff")
    store.add_user_to_group(A, "staff", "alice")
    store.attach_policy(A, "list", group="staff")
    authorizer = PolicyAuthorizer(store)
    alice = Identity(A, "A", "AK", user="alice")
    assert authorizer.is_allowed(alice, "s3:ListAllMyBuckets", "*")
    store.delete_group(A, "staff")
    assert store.list_groups(A) == [] and store.list_attachments(A) == []
    assert not authorizer.is_allowed(alice, "s3:ListAllMyBuckets", "*")
    with pytest.raises(UnknownGroup):
        store.delete_group(A, "staff")


def test_another_instance_sees_a_revocation_within_a_second(kind, open_store):  # noqa: F811
    if kind == "memory":
        pytest.skip("one MemoryBackend is one process's store")
    writer, reader = open_store(), open_store()            # the default 5 s cache
    writer.add_account(A, "A")
    writer.add_key(A, "AKBOB", "secret", user="bob")
    writer.add_key(A, "AKCAROL", "secret", user="carol")
    writer.put_policy(A, "list", LIST)
    writer.attach_policy(A, "list", user="carol")
    authorizer = PolicyAuthorizer(reader)
    carol = Identity(A, "A", "AKCAROL", user="carol")
    for revoke, revoked in (
            (lambda: writer.set_user_active(A, "bob", False),
             lambda: not reader.get_credential("AKBOB").active),
            (lambda: writer.delete_key("AKBOB"), lambda: reader.get_credential("AKBOB") is None),
            (lambda: writer.detach_policy(A, "list", user="carol"),
             lambda: not authorizer.is_allowed(carol, "s3:ListAllMyBuckets", "*"))):
        for _ in range(3):                                  # cached now
            reader.get_credential("AKBOB")
            authorizer.is_allowed(carol, "s3:ListAllMyBuckets", "*")
        revoke()
        since = time.monotonic()
        while not revoked():
            assert time.monotonic() - since < REVOCATION_SECONDS, "not seen within a second"
            time.sleep(0.02)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_database_from_before_the_lifecycle_is_migrated(make_sql_url, engine):
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from s3service.backends.sql import schema

    url = make_sql_url(engine)
    newest = SQLBackend(url)
    newest.list_accounts()                          # the newest schema, then taken back
    newest.close()
    peek = create_engine(url, poolclass=NullPool)
    with peek.begin() as conn:
        conn.exec_driver_sql("DROP TABLE s3service_policy_documents")
        conn.exec_driver_sql("DROP TABLE s3service_revocations")
        for table, column in (("s3service_users", "active"), ("s3service_users", "created"),
                              ("s3service_access_keys", "created"),
                              ("s3service_access_keys", "last_used"),
                              ("s3service_access_keys", "last_used_service"),
                              ("s3service_access_keys", "last_used_region"),
                              ("s3service_policies", "default_version"),
                              ("s3service_policies", "created"),
                              ("s3service_policies", "updated")):
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.exec_driver_sql(f"INSERT INTO s3service_accounts (account_id, display_name) "
                             f"VALUES ('{A}', 'old')")
        conn.exec_driver_sql(f"INSERT INTO s3service_users (account_id, name) VALUES ('{A}', "
                             "'alice')")
        conn.execute(text("INSERT INTO s3service_policies (account_id, name, document) "
                          "VALUES (:a, 'list', :d)"), {"a": A, "d": LIST})
        conn.execute(schema.schema_version.update().values(
            version=schema.MIGRATIONS.index(schema._iam_lifecycle)))
    peek.dispose()
    store = SQLBackend(url)
    assert [(u.name, u.active) for u in store.describe_users(A)] == [("alice", True)]
    assert [(v.version, v.default, v.document) for v in store.list_policy_versions(A, "list")] \
        == [(1, True, LIST)]
    assert store.create_policy_version(A, "list", DENY) == 2
    store.set_user_active(A, "alice", False)
    assert not store.describe_users(A)[0].active
    store.close()
