"""Administration of a store: what the ``s3service`` command's subcommands do.

Each function takes the store (:class:`~s3service.backends.sql.SQLBackend`,
or anything with the same admin methods) and returns plain dicts, ready to be
printed as a table or as JSON.  Bad input raises :class:`AdminError` with a
message meant for a human; the store's own exceptions
(:class:`~s3service.backends.base.BackendUnavailable`...) pass through.

Example::

    from s3service import admin
    from s3service.backends.sql import SQLBackend

    store = SQLBackend("sqlite:///s3service.db")
    account = admin.create_account(store, name="Alice")
    key = admin.create_key(store, account["account_id"])   # key["secret_key"]: keep it
    admin.create_bucket(store, account["account_id"], "photos")
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from typing import Any

from ..backends.base import BucketNameTaken, BucketInfo, Credential, UnknownAccount, UnknownBucket
from ..backends.records import UserRecord
from ..iam import operations as ops
from ..iam.operations import new_access_key, new_secret_key   # (once defined here)
from ..backends.protocols import AdminStore
from ..bucketnames import bucket_name_problem
from ..regions import DEFAULT_REGION


_ACCOUNT_ID = re.compile(r"[!-~]{1,128}")            # printable ASCII, no spaces
_REGION = re.compile(r"[a-z0-9][a-z0-9\-]{0,62}")

DEMO_ACCOUNT_ID = hashlib.sha256(b"s3service demo account").hexdigest()
DEMO_ACCOUNT_NAME = "demo"
DEMO_BUCKETS = ("demo-bucket", "demo-photos")


class AdminError(Exception):
    """Bad input to an admin command; ``exit_code`` is what the command exits with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# -- generated names ---------------------------------------------------------------

def new_account_id() -> str:
    """A canonical user ID: 64 random hex digits."""
    return secrets.token_hex(32)


# -- rendering ---------------------------------------------------------------------

def _time(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _when(when: datetime | None) -> str | None:
    return None if when is None else _time(when)


def key_dict(cred: Credential) -> dict[str, Any]:
    """A key as shown by ``key list``: never its secret."""
    return {"access_key": cred.access_key, "account_id": cred.account_id, "user": cred.user,
            "active": cred.active, "created": _when(cred.created),
            "last_used": _when(cred.last_used), "session": cred.session_token is not None}


def user_dict(account_id: str, user: UserRecord) -> dict[str, Any]:
    """A user as shown by ``user list``."""
    return {"account_id": account_id, "user": user.name, "active": user.active,
            "created": _when(user.created)}


def bucket_dict(owner: str, info: BucketInfo) -> dict[str, Any]:
    return {"name": info.name, "owner": owner, "region": info.region,
            "created": _time(info.created)}


# -- checks --------------------------------------------------------------------------

def check_account_id(account_id: str) -> None:
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise AdminError(f"invalid account ID {account_id!r}: use 1 to 128 printable "
                         "characters, no spaces", exit_code=2)


def check_bucket_name(name: str) -> None:
    problem = bucket_name_problem(name)
    if problem is not None:
        raise AdminError(f"invalid bucket name {name!r}: {problem}", exit_code=2)


def check_region(region: str) -> None:
    if not _REGION.fullmatch(region):
        raise AdminError(f"invalid region {region!r}", exit_code=2)


def resolve_account(store: AdminStore, text: str) -> str:
    """The id of the account ``text`` names: its id, else its unique display name.

    ``text`` itself when no account has it (the command then says it is unknown).
    """
    accounts = store.list_accounts()
    if any(account_id == text for account_id, _ in accounts):
        return text
    named = [account_id for account_id, name in accounts if name == text]
    if len(named) > 1:
        raise AdminError(f"{len(named)} accounts are named {text!r}: give the id "
                         f"({', '.join(named)})")
    return named[0] if named else text


def check_free_name(store: AdminStore, name: str, account_id: str | None = None) -> None:
    """Refuse a display name another account has (or has as its id): names address accounts."""
    if not name:
        return
    for other, other_name in store.list_accounts():
        if other != account_id and name in (other, other_name):
            raise AdminError(f"the name {name!r} is taken by account {other}")


def account_exists(store: AdminStore, account_id: str) -> bool:
    return any(found == account_id for found, _ in store.list_accounts())


def require_account(store: AdminStore, account_id: str) -> None:
    if not account_exists(store, account_id):
        raise AdminError(f"unknown account {account_id!r}")


# -- accounts and users -------------------------------------------------------------

def create_account(store: AdminStore, account_id: str | None = None, name: str = ""
                   ) -> dict[str, Any]:
    """Create an account (with a new 64-hex canonical ID unless one is given)."""
    if account_id is None:
        account_id = new_account_id()
    check_account_id(account_id)
    if account_exists(store, account_id):
        raise AdminError(f"account {account_id!r} already exists")
    check_free_name(store, name)
    for other, other_name in store.list_accounts():
        if account_id == other_name:
            raise AdminError(f"{account_id!r} is the name of account {other}")
    store.add_account(account_id, display_name=name)
    return {"account_id": account_id, "display_name": name}


def list_accounts(store: AdminStore) -> list[dict[str, Any]]:
    return [{"account_id": account_id, "display_name": name}
            for account_id, name in store.list_accounts()]


def create_user(store: AdminStore, account_id: str, user: str) -> dict[str, Any]:
    ops.create_user(store, account_id, user)
    return {"account_id": account_id, "user": user}


def list_users(store: AdminStore, account_id: str) -> list[dict[str, Any]]:
    return [user_dict(account_id, user) for user in ops.list_users(store, account_id)]


# -- keys ----------------------------------------------------------------------------

def create_key(store: AdminStore, account_id: str, user: str | None = None) -> dict[str, Any]:
    """A new access key and secret for the account or one of its users (no limit: the
    operator's command is not held to IAM's two keys per user)."""
    key = ops.create_key(store, account_id, user, limit=None)
    return {"access_key": key.access_key, "secret_key": key.secret_key,
            "account_id": account_id, "user": user}


def list_keys(store: AdminStore, account_id: str) -> list[dict[str, Any]]:
    return [key_dict(cred) for cred in ops.account_keys(store, account_id)]


def set_key_active(store: AdminStore, access_key: str, active: bool) -> dict[str, Any]:
    ops.set_key_active(store, access_key, active)
    return {"access_key": access_key, "active": active}


# -- buckets ---------------------------------------------------------------------------

def create_bucket(store: AdminStore, account_id: str, name: str, region: str = DEFAULT_REGION
                  ) -> dict[str, Any]:
    check_bucket_name(name)
    check_region(region)
    try:
        info = store.add_bucket(account_id, name, region=region)
    except UnknownAccount:
        raise AdminError(f"unknown account {account_id!r}") from None
    except BucketNameTaken as exc:
        whose = "you" if exc.owner == account_id else "another account"
        raise AdminError(f"bucket {name!r} already exists (owned by {whose})") from None
    return bucket_dict(account_id, info)


def list_buckets(store: AdminStore, account_id: str | None = None) -> list[dict[str, Any]]:
    """The buckets of one account, or of every account (sorted by name)."""
    if account_id is None:
        owners = [found for found, _ in store.list_accounts()]
    else:
        require_account(store, account_id)
        owners = [account_id]
    out = [bucket_dict(owner, info) for owner in owners for info in store.list_buckets(owner)]
    out.sort(key=lambda bucket: bucket["name"])
    return out


def delete_bucket(store: AdminStore, name: str) -> dict[str, Any]:
    try:
        store.delete_bucket(name)
    except UnknownBucket:
        raise AdminError(f"no such bucket {name!r}") from None
    return {"name": name, "deleted": True}


# -- the demo -------------------------------------------------------------------------

def ensure_demo(store: AdminStore, region: str = DEFAULT_REGION) -> dict[str, Any]:
    """The demo account, a key and two buckets: created on the first run, reused after.

    Returns the account ID, the key (with its secret) and the demo buckets the
    account owns.  A demo bucket name someone else took is skipped.
    """
    cred = None
    if account_exists(store, DEMO_ACCOUNT_ID):
        cred = next((c for c in store.list_keys(DEMO_ACCOUNT_ID)
                     if c.active and c.user is None and c.session_token is None), None)
    else:
        store.add_account(DEMO_ACCOUNT_ID, display_name=DEMO_ACCOUNT_NAME)
    if cred is None:
        cred = store.add_key(DEMO_ACCOUNT_ID, new_access_key(), new_secret_key())
    buckets = []
    for name in DEMO_BUCKETS:
        try:
            store.add_bucket(DEMO_ACCOUNT_ID, name, region=region)
        except BucketNameTaken as exc:
            if exc.owner != DEMO_ACCOUNT_ID:
                continue
        buckets.append(name)
    return {"account_id": DEMO_ACCOUNT_ID, "display_name": DEMO_ACCOUNT_NAME,
            "access_key": cred.access_key, "secret_key": cred.secret_key, "region": region,
            "buckets": buckets}
