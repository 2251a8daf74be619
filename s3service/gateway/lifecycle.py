"""The lifecycle commands of accounts, users and keys: renaming, disabling, deleting.

Usage::

    s3service account rename ACCOUNT NEW_NAME
    s3service account delete ACCOUNT [--force]       (refused while it owns buckets)
    s3service user delete|disable|enable ACCOUNT NAME
    s3service key delete ACCESS_KEY

ACCOUNT is an account's id or its (unique) display name, everywhere.  Users,
keys, policies and groups are changed through :mod:`s3service.iam.operations`,
the functions the IAM API (``aws iam ...``) calls too.  A user disabled or
deleted, or a key disabled or deleted, is refused by the next request of every
``serve`` process sharing the database within a second
(:data:`~s3service.backends.protocols.REVOCATION_SECONDS`).
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..backends.protocols import AdminStore
from ..iam import operations as ops
from .admin import AdminError, check_free_name, require_account, user_dict
from .output import emit

Command = Callable[[Any, str, Any, str], argparse.ArgumentParser]


def register(groups: dict[str, Any], command: Command) -> None:
    """Add the lifecycle commands to the ``account``, ``user`` and ``key`` groups."""
    sub = command(groups["account"], "rename", cmd_account_rename,
                  "give an account a new (unique) display name")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("name", metavar="NEW_NAME")
    sub = command(groups["account"], "delete", cmd_account_delete,
                  "delete an account with its users, keys and policies")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("--force", action="store_true",
                     help="delete it even if it owns buckets (their rows go too)")
    for name, handler, text in (
            ("delete", cmd_user_delete, "delete a user with its keys, groups and policies"),
            ("disable", cmd_user_disable, "disable a user: all its keys are refused"),
            ("enable", cmd_user_enable, "enable a disabled user")):
        sub = command(groups["user"], name, handler, text)
        sub.add_argument("account_id", metavar="ACCOUNT")
        sub.add_argument("user", metavar="NAME")
    sub = command(groups["key"], "delete", cmd_key_delete, "delete an access key")
    sub.add_argument("access_key", metavar="ACCESS_KEY")


# -- accounts -------------------------------------------------------------------------------

def rename_account(store: AdminStore, account_id: str, name: str) -> dict[str, Any]:
    require_account(store, account_id)
    check_free_name(store, name, account_id)
    store.add_account(account_id, display_name=name)
    return {"account_id": account_id, "display_name": name}


def delete_account(store: AdminStore, account_id: str, force: bool = False) -> dict[str, Any]:
    require_account(store, account_id)
    buckets = [b.name for b in store.list_buckets(account_id, limit=3)]
    if buckets and not force:
        raise AdminError(f"account {account_id} owns buckets ({', '.join(buckets)}"
                         f"{'...' if len(buckets) == 3 else ''}): delete them first, or "
                         "give --force")
    store.delete_account(account_id)
    return {"account_id": account_id, "deleted": True}


def cmd_account_rename(args: argparse.Namespace, store: AdminStore) -> None:
    emit(args, rename_account(store, args.account_id, args.name),
         f"renamed account {args.account_id} to {args.name}")


def cmd_account_delete(args: argparse.Namespace, store: AdminStore) -> None:
    emit(args, delete_account(store, args.account_id, args.force),
         f"deleted account {args.account_id}")


# -- users and keys ----------------------------------------------------------------------------

def cmd_user_delete(args: argparse.Namespace, store: AdminStore) -> None:
    ops.delete_user(store, args.account_id, args.user, cascade=True)
    emit(args, {"account_id": args.account_id, "user": args.user, "deleted": True},
         f"deleted user {args.user} (its keys, groups and policies too)")


def cmd_user_disable(args: argparse.Namespace, store: AdminStore) -> None:
    user = ops.set_user_active(store, args.account_id, args.user, False)
    emit(args, user_dict(args.account_id, user),
         f"disabled user {args.user}: its keys are refused")


def cmd_user_enable(args: argparse.Namespace, store: AdminStore) -> None:
    user = ops.set_user_active(store, args.account_id, args.user, True)
    emit(args, user_dict(args.account_id, user), f"enabled user {args.user}")


def cmd_key_delete(args: argparse.Namespace, store: AdminStore) -> None:
    key = ops.delete_key(store, args.access_key)
    emit(args, {"access_key": key.access_key, "account_id": key.account_id, "user": key.user,
                "deleted": True}, f"deleted key {args.access_key}")
