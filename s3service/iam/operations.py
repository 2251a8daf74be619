"""Each IAM operation, once: what ``aws iam ...`` (:mod:`.layer`) and the ``s3service``
command both call.

Every function takes the store (an :class:`~s3service.backends.protocols.AdminStore`)
and the account acted on -- for the API always the caller's own, so nothing of
another account is ever reached -- checks its input, and raises an
:class:`~.errors.IAMError` (``NoSuchEntity``, ``EntityAlreadyExists``,
``DeleteConflict``, ``MalformedPolicyDocument``, ``LimitExceeded``,
``ValidationError``) for what it refuses; an unreachable store raises
:class:`~s3service.backends.base.BackendUnavailable` as it does everywhere.
Results are the store's records (:mod:`s3service.backends.records`).
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import TypeVar

from ..authorization import known_condition_keys
from ..backends.base import Credential, UnknownAccount
from ..backends.policy_base import DeleteConflict as StoreDeleteConflict
from ..backends.policy_base import LimitExceeded as StoreLimitExceeded
from ..backends.policy_base import UnknownGroup, UnknownPolicy, UnknownUser
from ..backends.protocols import AdminStore
from ..backends.records import PolicyRecord, PolicyVersion, UserRecord
from ..identity import Identity
from ..policies import Decision, PolicyAuthorizer, PolicyError, parse_policy
from .errors import (AccessDenied, DeleteConflict, EntityAlreadyExists, LimitExceeded,
                     MalformedPolicyDocument, NoSuchEntity, ValidationError)

T = TypeVar("T")

#: Long-term access keys one user (or an account's root) may have, as IAM allows.
MAX_KEYS = 2
#: GetSessionToken's durations, in seconds: the least, the default, the most (root: 1 hour).
SESSION_MIN, SESSION_DEFAULT, SESSION_MAX, SESSION_MAX_ROOT = 900, 43_200, 129_600, 3_600

_USER_NAME = re.compile(r"[A-Za-z0-9+=,.@_\-]{1,64}")
_ENTITY_NAME = re.compile(r"[A-Za-z0-9+=,.@_\-]{1,128}")
_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits


# -- names, ARNs, ids ---------------------------------------------------------------------

def arn(account_id: str, kind: str, name: str) -> str:
    """``arn:aws:iam::ACCOUNT:user/NAME`` (``kind``: user, group, policy)."""
    return f"arn:aws:iam::{account_id}:{kind}/{name}"


def entity_id(prefix: str, account_id: str, name: str) -> str:
    """A stable IAM-style unique id (``AIDA`` + 17 characters for a user, ``AGPA`` a group,
    ``ANPA`` a policy), the same in every process."""
    digest = hashlib.sha256(f"{account_id}\0{name}".encode("utf-8")).digest()
    return prefix + base64.b32encode(digest).decode("ascii")[:17]


def check_user_name(user: str) -> None:
    if not _USER_NAME.fullmatch(user):
        raise ValidationError(f"invalid user name {user!r}: use 1 to 64 letters, digits or "
                              "+=,.@_-")


def check_name(kind: str, name: str) -> None:
    """A group or policy name: 1 to 128 of IAM's characters."""
    if not _ENTITY_NAME.fullmatch(name):
        raise ValidationError(f"invalid {kind} name {name!r}: use 1 to 128 letters, digits or "
                              "+=,.@_-")


def new_access_key(prefix: str = "AKIA") -> str:
    """``AKIA`` (``ASIA`` for a session) and 16 random upper-case letters and digits."""
    return prefix + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def new_secret_key() -> str:
    """40 random letters and digits (about 238 bits)."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


@contextmanager
def translated(account_id: str) -> Iterator[None]:
    """The store's errors (unknown names, limits, conflicts) as IAM's, within the block."""
    try:
        yield
    except UnknownAccount:
        raise NoSuchEntity(f"unknown account {account_id!r}") from None
    except UnknownUser as exc:
        raise NoSuchEntity(f"unknown user {exc.args[0]!r} in account {account_id!r}") from None
    except UnknownGroup as exc:
        raise NoSuchEntity(f"unknown group {exc.args[0]!r} in account {account_id!r}") from None
    except UnknownPolicy as exc:
        raise NoSuchEntity(f"unknown policy {exc.args[0]!r} in account {account_id!r}") from None
    except StoreLimitExceeded as exc:
        raise LimitExceeded(str(exc)) from None
    except StoreDeleteConflict as exc:
        raise DeleteConflict(str(exc)) from None


def _call(account_id: str, call: Callable[[], T]) -> T:
    with translated(account_id):
        return call()


# -- users ----------------------------------------------------------------------------------

def get_user(store: AdminStore, account_id: str, user: str) -> UserRecord:
    found = next((u for u in list_users(store, account_id) if u.name == user), None)
    if found is None:
        raise NoSuchEntity(f"unknown user {user!r} in account {account_id!r}")
    return found


def list_users(store: AdminStore, account_id: str) -> list[UserRecord]:
    return _call(account_id, lambda: store.describe_users(account_id))


def create_user(store: AdminStore, account_id: str, user: str) -> UserRecord:
    check_user_name(user)
    if any(u.name == user for u in list_users(store, account_id)):
        raise EntityAlreadyExists(f"user {user!r} already exists in account {account_id!r}")
    _call(account_id, lambda: store.add_user(account_id, user))
    return get_user(store, account_id, user)


def rename_user(store: AdminStore, account_id: str, user: str, new_name: str) -> UserRecord:
    check_user_name(new_name)
    get_user(store, account_id, user)
    if new_name != user:
        try:
            _call(account_id, lambda: store.rename_user(account_id, user, new_name))
        except ValueError:
            raise EntityAlreadyExists(f"user {new_name!r} already exists in account "
                                      f"{account_id!r}") from None
    return get_user(store, account_id, new_name)


def set_user_active(store: AdminStore, account_id: str, user: str, active: bool) -> UserRecord:
    """Enable or disable a user: all its keys refused (or accepted) again at once."""
    _call(account_id, lambda: store.set_user_active(account_id, user, active))
    return get_user(store, account_id, user)


def delete_user(store: AdminStore, account_id: str, user: str, *, cascade: bool = False) -> None:
    """Delete a user.  Without ``cascade`` (IAM's rule), one that still has access keys,
    policies or groups is refused with ``DeleteConflict``; with it they go too."""
    get_user(store, account_id, user)
    if not cascade:
        held = []
        if principal_keys(store, account_id, user):
            held.append("access keys")
        if list_user_policies(store, account_id, user):
            held.append("inline policies")
        if list_attached(store, account_id, user=user):
            held.append("attached policies")
        if groups_for_user(store, account_id, user):
            held.append("groups")
        if held:
            raise DeleteConflict(f"user {user!r} still has {', '.join(held)}: remove them first")
    _call(account_id, lambda: store.delete_user(account_id, user))


# -- access keys ----------------------------------------------------------------------------

def principal_keys(store: AdminStore, account_id: str, user: str | None) -> list[Credential]:
    """The long-term keys of ``user`` (``None``: the account's root), sorted."""
    if user is not None:
        get_user(store, account_id, user)
    return [key for key in account_keys(store, account_id)
            if key.user == user and key.session_token is None]


def account_keys(store: AdminStore, account_id: str) -> list[Credential]:
    """Every key of the account and its users, session keys too, sorted by access key."""
    return _call(account_id, lambda: store.list_keys(account_id))


def create_key(store: AdminStore, account_id: str, user: str | None = None, *,
               limit: int | None = MAX_KEYS) -> Credential:
    """A new access key (its secret in the result, this once) for ``user`` or the root."""
    if user is not None:
        check_user_name(user)
    held = principal_keys(store, account_id, user)
    if limit is not None and len(held) >= limit:
        whose = f"user {user!r}" if user is not None else "the account's root"
        raise LimitExceeded(f"{whose} has {len(held)} access keys; the most is {limit}")
    return _call(account_id, lambda: store.add_key(account_id, new_access_key(),
                                                   new_secret_key(), user=user))


def find_key(store: AdminStore, access_key: str, account_id: str | None = None,
             user: str | None = ...) -> Credential:  # type: ignore[assignment]
    """The key ``access_key``; with ``account_id``, only one of that account (and, with
    ``user``, of that user; ``None``: the root), else ``NoSuchEntity``."""
    if account_id is None:
        found = store.get_credential(access_key)
    else:
        found = next((k for k in account_keys(store, account_id) if k.access_key == access_key),
                     None)
    if found is None or (user is not ... and found.user != user):
        raise NoSuchEntity(f"unknown access key {access_key!r}")
    return found


def set_key_active(store: AdminStore, access_key: str, active: bool, account_id: str | None = None,
                   user: str | None = ...) -> Credential:  # type: ignore[assignment]
    found = find_key(store, access_key, account_id, user)
    try:
        store.set_key_active(access_key, active)
    except KeyError:
        raise NoSuchEntity(f"unknown access key {access_key!r}") from None
    return found


def delete_key(store: AdminStore, access_key: str, account_id: str | None = None,
               user: str | None = ...) -> Credential:  # type: ignore[assignment]
    found = find_key(store, access_key, account_id, user)
    try:
        store.delete_key(access_key)
    except KeyError:
        raise NoSuchEntity(f"unknown access key {access_key!r}") from None
    return found


def session_token(store: AdminStore, caller: Identity, duration: int | None = None) -> Credential:
    """Temporary credentials for ``caller`` (GetSessionToken): a key, its secret and a
    session token, accepted until they expire; expired ones of the account are removed."""
    longest = SESSION_MAX_ROOT if caller.user is None else SESSION_MAX
    if duration is None:
        duration = min(SESSION_DEFAULT, longest)
    if not SESSION_MIN <= duration <= longest:
        raise ValidationError(f"DurationSeconds must be between {SESSION_MIN} and {longest}")
    now = datetime.now(timezone.utc)
    for key in account_keys(store, caller.account_id):
        if key.session_token is not None and key.expires is not None and key.expires <= now:
            try:
                store.delete_key(key.access_key)
            except KeyError:
                pass                    # removed meanwhile by another request
    token = base64.b64encode(secrets.token_bytes(96)).decode("ascii")
    return _call(caller.account_id, lambda: store.add_key(
        caller.account_id, new_access_key("ASIA"), new_secret_key(), user=caller.user,
        session_token=token, expires=now + timedelta(seconds=duration)))


# -- managed policies ----------------------------------------------------------------------

def check_document(document: str, label: str, keys: Iterable[str] = ()) -> int:
    """The number of statements of a valid policy document; else ``MalformedPolicyDocument``
    saying the line and the mistake.  ``keys``: condition keys a gateway gives besides ours."""
    try:
        return len(parse_policy(document, label, known_condition_keys(keys)).statements)
    except PolicyError as exc:
        raise MalformedPolicyDocument(str(exc)) from None


def get_policy(store: AdminStore, account_id: str, name: str) -> PolicyRecord:
    return _call(account_id, lambda: store.describe_policy(account_id, name))


def list_policies(store: AdminStore, account_id: str, *, only_attached: bool = False
                  ) -> list[PolicyRecord]:
    names = _call(account_id, lambda: store.list_policies(account_id))
    found = [get_policy(store, account_id, name) for name in names]
    return [p for p in found if p.attachments] if only_attached else found


def create_policy(store: AdminStore, account_id: str, name: str, document: str, *,
                  keys: Iterable[str] = (), replace: bool = False) -> PolicyRecord:
    """A new managed policy (``replace``: or a new document for its default version)."""
    check_name("policy", name)
    check_document(document, name, keys)
    if not replace and name in _call(account_id, lambda: store.list_policies(account_id)):
        raise EntityAlreadyExists(f"policy {name!r} already exists in account {account_id!r}")
    _call(account_id, lambda: store.put_policy(account_id, name, document))
    return get_policy(store, account_id, name)


def delete_policy(store: AdminStore, account_id: str, name: str) -> None:
    """Delete a managed policy and all its versions; refused while it is attached."""
    found = get_policy(store, account_id, name)
    if found.attachments:
        raise DeleteConflict(f"policy {name!r} is attached to {found.attachments} users or "
                             "groups: detach it first")
    _call(account_id, lambda: store.delete_policy(account_id, name))


def version_number(version_id: str) -> int:
    """``v3`` -> 3 (IAM's version ids)."""
    if not re.fullmatch(r"v[1-9][0-9]{0,8}", version_id):
        raise ValidationError(f"invalid policy version id {version_id!r} (e.g. v1)")
    return int(version_id[1:])


def create_policy_version(store: AdminStore, account_id: str, name: str, document: str, *,
                          set_default: bool = True, keys: Iterable[str] = ()) -> PolicyVersion:
    """A new version of a managed policy (the one that applies if ``set_default``); the older
    ones are kept, five at most."""
    get_policy(store, account_id, name)
    check_document(document, name, keys)
    number = _call(account_id, lambda: store.create_policy_version(
        account_id, name, document, set_default=set_default))
    return get_policy_version(store, account_id, name, number)


def list_policy_versions(store: AdminStore, account_id: str, name: str) -> list[PolicyVersion]:
    return _call(account_id, lambda: store.list_policy_versions(account_id, name))


def get_policy_version(store: AdminStore, account_id: str, name: str, version: int
                       ) -> PolicyVersion:
    found = next((v for v in list_policy_versions(store, account_id, name)
                  if v.version == version), None)
    if found is None:
        raise NoSuchEntity(f"policy {name!r} has no version v{version}")
    return found


def delete_policy_version(store: AdminStore, account_id: str, name: str, version: int) -> None:
    get_policy_version(store, account_id, name, version)
    _call(account_id, lambda: store.delete_policy_version(account_id, name, version))


def set_default_policy_version(store: AdminStore, account_id: str, name: str,
                               version: int) -> None:
    get_policy_version(store, account_id, name, version)
    _call(account_id, lambda: store.set_default_policy_version(account_id, name, version))


def attach(store: AdminStore, account_id: str, policy: str, *, user: str | None = None,
           group: str | None = None) -> None:
    """Attach a managed policy to a user or a group."""
    _call(account_id, lambda: store.attach_policy(account_id, policy, user=user, group=group))


def detach(store: AdminStore, account_id: str, policy: str, *, user: str | None = None,
           group: str | None = None) -> None:
    """Detach a managed policy: refused at once, in every process within a second."""
    kind, principal = ("user", user) if user is not None else ("group", group)
    with translated(account_id):
        if kind == "user":
            get_user(store, account_id, principal)          # type: ignore[arg-type]
        else:
            get_group(store, account_id, principal)         # type: ignore[arg-type]
        try:
            store.detach_policy(account_id, policy, user=user, group=group)
        except UnknownPolicy:
            raise NoSuchEntity(f"policy {policy!r} is not attached to {kind} {principal!r} "
                               f"in account {account_id!r}") from None


def list_attached(store: AdminStore, account_id: str, *, user: str | None = None,
                  group: str | None = None) -> list[str]:
    """The managed policies attached to a user or a group, sorted."""
    kind, principal = ("user", user) if user is not None else ("group", group)
    if kind == "user":
        get_user(store, account_id, principal)              # type: ignore[arg-type]
    else:
        get_group(store, account_id, principal)             # type: ignore[arg-type]
    return sorted(a.policy for a in _call(account_id, lambda: store.list_attachments(account_id))
                  if a.kind == kind and a.principal == principal)


# -- inline policies -----------------------------------------------------------------------

def put_user_policy(store: AdminStore, account_id: str, user: str, name: str, document: str, *,
                    keys: Iterable[str] = ()) -> None:
    check_name("policy", name)
    check_document(document, f"inline:{name}", keys)
    _call(account_id, lambda: store.put_user_policy(account_id, user, name, document))


def get_user_policy(store: AdminStore, account_id: str, user: str, name: str) -> str:
    get_user(store, account_id, user)
    label = f"inline:{name}"
    found = next((document for found, document
                  in _call(account_id, lambda: store.policies_for_user(account_id, user))
                  if found == label), None)
    if found is None:
        raise NoSuchEntity(f"user {user!r} has no inline policy {name!r}")
    return found


def list_user_policies(store: AdminStore, account_id: str, user: str) -> list[str]:
    return _call(account_id, lambda: store.list_user_policies(account_id, user))


def delete_user_policy(store: AdminStore, account_id: str, user: str, name: str) -> None:
    get_user(store, account_id, user)
    try:
        _call(account_id, lambda: store.delete_user_policy(account_id, user, name))
    except NoSuchEntity:
        raise NoSuchEntity(f"user {user!r} has no inline policy {name!r}") from None


# -- groups ------------------------------------------------------------------------------------

def list_groups(store: AdminStore, account_id: str) -> list[tuple[str, list[str]]]:
    """The account's groups with their members, sorted."""
    return _call(account_id, lambda: store.list_groups(account_id))


def get_group(store: AdminStore, account_id: str, group: str) -> list[str]:
    """The members of a group."""
    found = dict(list_groups(store, account_id)).get(group)
    if found is None:
        raise NoSuchEntity(f"unknown group {group!r} in account {account_id!r}")
    return found


def create_group(store: AdminStore, account_id: str, group: str) -> None:
    check_name("group", group)
    if group in dict(list_groups(store, account_id)):
        raise EntityAlreadyExists(f"group {group!r} already exists in account {account_id!r}")
    _call(account_id, lambda: store.add_group(account_id, group))


def delete_group(store: AdminStore, account_id: str, group: str, *, cascade: bool = False) -> None:
    """Delete a group.  Without ``cascade`` (IAM's rule) one with members or attached
    policies is refused with ``DeleteConflict``; with it, they are removed."""
    members = get_group(store, account_id, group)
    if not cascade and (members or list_attached(store, account_id, group=group)):
        raise DeleteConflict(f"group {group!r} still has members or attached policies")
    _call(account_id, lambda: store.delete_group(account_id, group))


def add_user_to_group(store: AdminStore, account_id: str, group: str, user: str) -> None:
    _call(account_id, lambda: store.add_user_to_group(account_id, group, user))


def remove_user_from_group(store: AdminStore, account_id: str, group: str, user: str) -> None:
    if user not in get_group(store, account_id, group):
        get_user(store, account_id, user)
        raise NoSuchEntity(f"user {user!r} is not in group {group!r}")
    _call(account_id, lambda: store.remove_user_from_group(account_id, group, user))


def groups_for_user(store: AdminStore, account_id: str, user: str) -> list[str]:
    get_user(store, account_id, user)
    return [name for name, members in list_groups(store, account_id) if user in members]


# -- deciding -------------------------------------------------------------------------------

def simulate(store: AdminStore, account_id: str, user: str, action: str, resource: str,
             context: Mapping[str, tuple[str, ...]] | None = None) -> Decision:
    """The decision a request of ``user`` would get, with the statement that made it."""
    get_user(store, account_id, user)
    keys = {key.lower(): values for key, values in (context or {}).items()}
    return PolicyAuthorizer(store).decide(Identity(account_id, "", "", user=user), action,
                                          resource, keys)


def require(allowed: bool, caller: Identity, action: str, resource: str) -> None:
    """``AccessDenied`` naming the caller, the action and the resource unless ``allowed``."""
    if not allowed:
        raise AccessDenied(f"User: {caller.arn} is not authorized to perform: {action} on "
                           f"resource: {resource}")

