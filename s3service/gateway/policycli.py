"""The ``s3service policy`` and ``s3service group`` commands: IAM policies in the store.

Usage::

    s3service policy create ACCOUNT NAME FILE [--key KEY ...]   (FILE "-": standard input)
    s3service policy attach ACCOUNT (--user NAME | --group NAME) POLICY
    s3service policy detach ACCOUNT (--user NAME | --group NAME) POLICY
    s3service policy list ACCOUNT
    s3service policy simulate ACCOUNT USER ACTION RESOURCE [--context KEY=VALUE ...]
    s3service policy update ACCOUNT NAME FILE [--key KEY ...] [--no-default]   (a new version)
    s3service policy versions ACCOUNT NAME
    s3service policy delete ACCOUNT NAME         (refused while attached)
    s3service policy put-inline ACCOUNT USER NAME FILE [--key KEY ...]
    s3service policy get-inline ACCOUNT USER NAME
    s3service policy delete-inline ACCOUNT USER NAME
    s3service group create ACCOUNT NAME
    s3service group delete ACCOUNT NAME          (members and attachments go with it)
    s3service group add-user ACCOUNT GROUP USER
    s3service group remove-user ACCOUNT GROUP USER
    s3service group detach ACCOUNT GROUP POLICY
    s3service group list ACCOUNT

Each goes through :mod:`s3service.iam.operations`, as the IAM API does.

A document is checked before it is stored: a malformed one is refused (exit
status 2) with its line and the reason, and so is one with a condition (or a
policy variable) on a key no request has: s3service's own keys, S3's that a
gateway may give (:data:`~s3service.authorization.GATEWAY_KEYS`), and those
named with ``--key`` (a gateway's own; repeat it).  Past IAM's bounds (6,144
characters without whitespace per managed policy, 10 managed policies per user
or group) the store refuses with ``LimitExceeded`` (exit status 1).
``simulate`` decides as the server would
(:class:`~s3service.policies.PolicyAuthorizer`) and prints ``allowed``,
``implicit deny`` or ``explicit deny`` and the statement that decided;
``--context aws:SourceIp=192.0.2.1`` gives a condition key a value (repeat a
key for several values).
"""
from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ..backends.protocols import AdminStore, PolicyStore
from ..iam import operations as ops
from ..iam.errors import MalformedPolicyDocument
from .output import emit, table
from .admin import AdminError

_POLICY_NAME = re.compile(r"[A-Za-z0-9+=,.@_\-]{1,128}")   # IAM's rule for policy names
_GROUP_NAME = re.compile(r"[A-Za-z0-9+=,.@_\-]{1,128}")

Command = Callable[[Any, str, Any, str], argparse.ArgumentParser]


def register(commands: Any, command: Command, group: Callable[[Any, str, str], Any]) -> None:
    """Add the ``policy`` and ``group`` commands to the ``s3service`` parser."""
    policy = group(commands, "policy", "manage IAM policies of an account")
    sub = command(policy, "create", cmd_policy_create,
                  "create (or replace) a managed policy from a JSON document")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("file", metavar="FILE", help='the policy document ("-": standard input)')
    sub.add_argument("--key", action="append", default=[], metavar="KEY",
                     help="a condition key the gateway gives besides s3service's and S3's "
                          "(repeat for several)")
    for name, handler, text in (("attach", cmd_policy_attach, "attach a policy to a user or group"),
                                ("detach", cmd_policy_detach,
                                 "detach a policy from a user or group")):
        sub = command(policy, name, handler, text)
        sub.add_argument("account_id", metavar="ACCOUNT")
        who = sub.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", metavar="NAME")
        who.add_argument("--group", metavar="NAME")
        sub.add_argument("policy", metavar="POLICY")
    sub = command(policy, "list", cmd_policy_list, "list an account's policies and attachments")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub = command(policy, "simulate", cmd_policy_simulate,
                  "decide a request of a user as the server would, and say why")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("user", metavar="USER")
    sub.add_argument("action", metavar="ACTION", help="e.g. s3:ListAllMyBuckets")
    sub.add_argument("resource", metavar="RESOURCE", help="e.g. arn:aws:s3:::photos")
    sub.add_argument("--context", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                     type=_key_value, help="condition keys' values (a key given twice: "
                                           "both values)")

    sub = command(policy, "update", cmd_policy_update,
                  "give a managed policy a new version (the one that applies, unless "
                  "--no-default); the older ones are kept, five in all")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("file", metavar="FILE", help='the policy document ("-": standard input)')
    sub.add_argument("--key", action="append", default=[], metavar="KEY",
                     help="a condition key the gateway gives besides s3service's and S3's")
    sub.add_argument("--no-default", dest="default", action="store_false",
                     help="keep the current version the one that applies")
    for name, handler, text in (
            ("versions", cmd_policy_versions, "list a managed policy's versions"),
            ("delete", cmd_policy_delete, "delete a managed policy (refused while attached)")):
        sub = command(policy, name, handler, text)
        sub.add_argument("account_id", metavar="ACCOUNT")
        sub.add_argument("name", metavar="NAME")
    sub = command(policy, "put-inline", cmd_policy_put_inline,
                  "create (or replace) a user's inline policy")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("user", metavar="USER")
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("file", metavar="FILE", help='the policy document ("-": standard input)')
    sub.add_argument("--key", action="append", default=[], metavar="KEY",
                     help="a condition key the gateway gives besides s3service's and S3's")
    for name, handler, text in (
            ("get-inline", cmd_policy_get_inline, "print a user's inline policy"),
            ("delete-inline", cmd_policy_delete_inline, "delete a user's inline policy")):
        sub = command(policy, name, handler, text)
        sub.add_argument("account_id", metavar="ACCOUNT")
        sub.add_argument("user", metavar="USER")
        sub.add_argument("name", metavar="NAME")

    groups = group(commands, "group", "manage IAM groups of an account")
    sub = command(groups, "create", cmd_group_create, "create a group")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("name", metavar="NAME")
    sub = command(groups, "add-user", cmd_group_add_user, "add a user to a group")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("group", metavar="GROUP")
    sub.add_argument("user", metavar="USER")
    sub = command(groups, "list", cmd_group_list, "list an account's groups and their members")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub = command(groups, "delete", cmd_group_delete,
                  "delete a group (its memberships and attachments go with it)")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("name", metavar="NAME")
    sub = command(groups, "remove-user", cmd_group_remove_user, "take a user out of a group")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("group", metavar="GROUP")
    sub.add_argument("user", metavar="USER")
    sub = command(groups, "detach", cmd_group_detach, "detach a managed policy from a group")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("group", metavar="GROUP")
    sub.add_argument("policy", metavar="POLICY")


def _key_value(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"not KEY=VALUE: {text!r}")
    return key.strip(), value


def _check_name(kind: str, pattern: re.Pattern[str], name: str) -> None:
    if not pattern.fullmatch(name):
        raise AdminError(f"invalid {kind} name {name!r}: use 1 to 128 letters, digits or "
                         "+=,.@_-", exit_code=2)


# -- admin functions (plain dicts, as .admin's) ---------------------------------------------

def read_document(path: str) -> str:
    """The text of a policy file (``-``: standard input)."""
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AdminError(f"cannot read {path}: {reason}", exit_code=2) from None


def create_policy(store: PolicyStore, account_id: str, name: str, document: str,
                  source: str = "document", keys: Iterable[str] = ()) -> dict[str, Any]:
    """Check ``document`` and store it as the managed policy ``name``.

    ``keys``: condition keys the gateway gives besides the known ones.
    """
    _check_name("policy", _POLICY_NAME, name)
    with _malformed(source):
        statements = ops.check_document(document, name, keys)
        ops.create_policy(store, account_id, name, document, keys=keys, replace=True)
    return {"account_id": account_id, "policy": name, "statements": statements}


@contextmanager
def _malformed(source: str) -> Iterator[None]:
    """A malformed document's error saying which file it came from."""
    try:
        yield
    except MalformedPolicyDocument as exc:
        raise AdminError(f"{source}: malformed policy: {exc.text}", exit_code=2) from None


def attach(store: PolicyStore, account_id: str, policy: str, user: str | None, group: str | None,
           *, detach: bool = False) -> dict[str, Any]:
    """Attach (or detach) a managed policy to a user or a group."""
    kind, principal = ("user", user) if user is not None else ("group", group)
    (ops.detach if detach else ops.attach)(store, account_id, policy, user=user, group=group)
    return {"account_id": account_id, "policy": policy, "kind": kind, "principal": principal}


def list_policies(store: PolicyStore, account_id: str) -> list[dict[str, Any]]:
    """Managed policies with what they are attached to, then users' inline policies."""
    with ops.translated(account_id):
        names = store.list_policies(account_id)
        attached: dict[str, list[str]] = {name: [] for name in names}
        for found in store.list_attachments(account_id):
            attached.setdefault(found.policy, []).append(f"{found.kind}:{found.principal}")
        rows = [{"policy": name, "kind": "managed", "attached": attached[name]} for name in names]
        for user in store.list_users(account_id):
            rows += [{"policy": name, "kind": "inline", "attached": [f"user:{user}"]}
                     for name in store.list_user_policies(account_id, user)]
    return rows


def simulate(store: PolicyStore, account_id: str, user: str, action: str, resource: str,
             context: list[tuple[str, str]]) -> dict[str, Any]:
    """The decision a request of ``user`` would get, and the statement that made it."""
    keys: dict[str, tuple[str, ...]] = {}
    for key, value in context:
        keys[key.lower()] = keys.get(key.lower(), ()) + (value,)
    decision = ops.simulate(store, account_id, user, action, resource, keys)
    statement = decision.statement
    return {"decision": decision.outcome, "policy": decision.policy,
            "sid": statement.sid if statement else None,
            "statement": statement.index + 1 if statement else None,
            "line": statement.line if statement else None,
            "explanation": decision.describe()}


# -- the commands ------------------------------------------------------------------------

def cmd_policy_create(args: argparse.Namespace, store: PolicyStore) -> None:

    source = "standard input" if args.file == "-" else args.file
    result = create_policy(store, args.account_id, args.name, read_document(args.file), source,
                           args.key)
    emit(args, result, f"created policy {args.name} ({result['statements']} statements) "
                       f"in account {args.account_id}")


def cmd_policy_attach(args: argparse.Namespace, store: PolicyStore) -> None:

    result = attach(store, args.account_id, args.policy, args.user, args.group)
    emit(args, result, f"attached policy {args.policy} to {result['kind']} {result['principal']}")


def cmd_policy_detach(args: argparse.Namespace, store: PolicyStore) -> None:

    result = attach(store, args.account_id, args.policy, args.user, args.group, detach=True)
    emit(args, result, f"detached policy {args.policy} from {result['kind']} "
                       f"{result['principal']}")


def cmd_policy_list(args: argparse.Namespace, store: PolicyStore) -> None:

    rows = list_policies(store, args.account_id)
    shown = [{**row, "attached": ", ".join(row["attached"]) or None} for row in rows]
    emit(args, rows, table(shown, [("policy", "POLICY"), ("kind", "KIND"),
                                   ("attached", "ATTACHED TO")], "no policies"))


def cmd_policy_simulate(args: argparse.Namespace, store: PolicyStore) -> None:

    result = simulate(store, args.account_id, args.user, args.action, args.resource,
                      args.context)
    emit(args, result, result["explanation"])


def cmd_group_create(args: argparse.Namespace, store: PolicyStore) -> None:

    _check_name("group", _GROUP_NAME, args.name)
    ops.create_group(store, args.account_id, args.name)
    emit(args, {"account_id": args.account_id, "group": args.name},
         f"created group {args.name} in account {args.account_id}")


def cmd_group_add_user(args: argparse.Namespace, store: PolicyStore) -> None:

    ops.check_user_name(args.user)
    ops.add_user_to_group(store, args.account_id, args.group, args.user)
    emit(args, {"account_id": args.account_id, "group": args.group, "user": args.user},
         f"added user {args.user} to group {args.group}")


def cmd_group_list(args: argparse.Namespace, store: PolicyStore) -> None:

    groups = [{"group": name, "users": members} for name, members
              in ops.list_groups(store, args.account_id)]
    shown = [{**row, "users": ", ".join(row["users"]) or None} for row in groups]
    emit(args, groups, table(shown, [("group", "GROUP"), ("users", "USERS")], "no groups"))


def cmd_policy_update(args: argparse.Namespace, store: AdminStore) -> None:
    source = "standard input" if args.file == "-" else args.file
    with _malformed(source):
        version = ops.create_policy_version(store, args.account_id, args.name,
                                            read_document(args.file), set_default=args.default,
                                            keys=args.key)
    emit(args, {"account_id": args.account_id, "policy": args.name,
                "version": f"v{version.version}", "default": version.default},
         f"policy {args.name} has a new version v{version.version}"
         + (" (the one that applies)" if version.default else ""))


def cmd_policy_versions(args: argparse.Namespace, store: AdminStore) -> None:
    rows = [{"version": f"v{v.version}", "default": v.default,
             "created": v.created.isoformat().replace("+00:00", "Z") if v.created else None,
             "document": v.document}
            for v in ops.list_policy_versions(store, args.account_id, args.name)]
    shown = [{**row, "default": "yes" if row["default"] else ""} for row in rows]
    emit(args, rows, table(shown, [("version", "VERSION"), ("default", "DEFAULT"),
                                   ("created", "CREATED")], "no versions"))


def cmd_policy_delete(args: argparse.Namespace, store: AdminStore) -> None:
    ops.delete_policy(store, args.account_id, args.name)
    emit(args, {"account_id": args.account_id, "policy": args.name, "deleted": True},
         f"deleted policy {args.name}")


def cmd_policy_put_inline(args: argparse.Namespace, store: AdminStore) -> None:
    source = "standard input" if args.file == "-" else args.file
    with _malformed(source):
        ops.put_user_policy(store, args.account_id, args.user, args.name,
                            read_document(args.file), keys=args.key)
    emit(args, {"account_id": args.account_id, "user": args.user, "policy": args.name},
         f"put inline policy {args.name} of user {args.user}")


def cmd_policy_get_inline(args: argparse.Namespace, store: AdminStore) -> None:
    document = ops.get_user_policy(store, args.account_id, args.user, args.name)
    emit(args, {"account_id": args.account_id, "user": args.user, "policy": args.name,
                "document": document}, document)


def cmd_policy_delete_inline(args: argparse.Namespace, store: AdminStore) -> None:
    ops.delete_user_policy(store, args.account_id, args.user, args.name)
    emit(args, {"account_id": args.account_id, "user": args.user, "policy": args.name,
                "deleted": True}, f"deleted inline policy {args.name} of user {args.user}")


def cmd_group_delete(args: argparse.Namespace, store: AdminStore) -> None:
    ops.delete_group(store, args.account_id, args.name, cascade=True)
    emit(args, {"account_id": args.account_id, "group": args.name, "deleted": True},
         f"deleted group {args.name}")


def cmd_group_remove_user(args: argparse.Namespace, store: AdminStore) -> None:
    ops.remove_user_from_group(store, args.account_id, args.group, args.user)
    emit(args, {"account_id": args.account_id, "group": args.group, "user": args.user},
         f"removed user {args.user} from group {args.group}")


def cmd_group_detach(args: argparse.Namespace, store: AdminStore) -> None:
    result = attach(store, args.account_id, args.policy, None, args.group, detach=True)
    emit(args, result, f"detached policy {args.policy} from group {args.group}")
