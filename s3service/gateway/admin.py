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
import string
from datetime import datetime
from typing import Any

from ..backends.base import BucketNameTaken, BucketInfo, Credential, UnknownAccount, UnknownBucket
from ..backends.protocols import AdminStore
from ..bucketnames import bucket_name_problem
from ..regions import DEFAULT_REGION

ACCESS_KEY_PREFIX = "AKIA"
ACCESS_KEY_LENGTH = 20
SECRET_KEY_LENGTH = 40
_ACCESS_KEY_ALPHABET = string.ascii_uppercase + string.digits
# AWS secrets also use "+" and "/"; plain alphanumerics are easier to paste into a shell.
_SECRET_ALPHABET = string.ascii_letters + string.digits

_ACCOUNT_ID = re.compile(r"[!-~]{1,128}")            # printable ASCII, no spaces
_USER_NAME = re.compile(r"[A-Za-z0-9+=,.@_\-]{1,64}")  # IAM's rule for user names
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


def new_access_key() -> str:
    """``AKIA`` and 16 random upper-case letters and digits (20 characters, like AWS's)."""
    size = ACCESS_KEY_LENGTH - len(ACCESS_KEY_PREFIX)
    return ACCESS_KEY_PREFIX + "".join(secrets.choice(_ACCESS_KEY_ALPHABET) for _ in range(size))


def new_secret_key() -> str:
    """40 random letters and digits (about 238 bits)."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_KEY_LENGTH))


# -- rendering ---------------------------------------------------------------------

def _time(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def key_dict(cred: Credential) -> dict[str, Any]:
    """A key as shown by ``key list``: never its secret."""
    return {"access_key": cred.access_key, "account_id": cred.account_id, "user": cred.user,
            "active": cred.active}


def bucket_dict(owner: str, info: BucketInfo) -> dict[str, Any]:
    return {"name": info.name, "owner": owner, "region": info.region,
            "created": _time(info.created)}


# -- checks --------------------------------------------------------------------------

def check_account_id(account_id: str) -> None:
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise AdminError(f"invalid account ID {account_id!r}: use 1 to 128 printable "
                         "characters, no spaces", exit_code=2)


def check_user_name(user: str) -> None:
    if not _USER_NAME.fullmatch(user):
        raise AdminError(f"invalid user name {user!r}: use 1 to 64 letters, digits or "
                         "+=,.@_-", exit_code=2)


def check_bucket_name(name: str) -> None:
    problem = bucket_name_problem(name)
    if problem is not None:
        raise AdminError(f"invalid bucket name {name!r}: {problem}", exit_code=2)


def check_region(region: str) -> None:
    if not _REGION.fullmatch(region):
        raise AdminError(f"invalid region {region!r}", exit_code=2)


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
    store.add_account(account_id, display_name=name)
    return {"account_id": account_id, "display_name": name}


def list_accounts(store: AdminStore) -> list[dict[str, Any]]:
    return [{"account_id": account_id, "display_name": name}
            for account_id, name in store.list_accounts()]


def create_user(store: AdminStore, account_id: str, user: str) -> dict[str, Any]:
    check_user_name(user)
    require_account(store, account_id)
    if user in store.list_users(account_id):
        raise AdminError(f"user {user!r} already exists in account {account_id!r}")
    try:
        store.add_user(account_id, user)
    except UnknownAccount:
        raise AdminError(f"unknown account {account_id!r}") from None
    return {"account_id": account_id, "user": user}


def list_users(store: AdminStore, account_id: str) -> list[dict[str, Any]]:
    try:
        names = store.list_users(account_id)
    except UnknownAccount:
        raise AdminError(f"unknown account {account_id!r}") from None
    return [{"account_id": account_id, "user": name} for name in names]


# -- keys ----------------------------------------------------------------------------

def create_key(store: AdminStore, account_id: str, user: str | None = None) -> dict[str, Any]:
    """A new access key and secret for the account or one of its users."""
    if user is not None:
        check_user_name(user)
        try:
            users = store.list_users(account_id)
        except UnknownAccount:
            raise AdminError(f"unknown account {account_id!r}") from None
        if user not in users:
            raise AdminError(f"unknown user {user!r} in account {account_id!r} "
                             "(create it with 's3service user create')")
    access_key, secret_key = new_access_key(), new_secret_key()
    try:
        store.add_key(account_id, access_key, secret_key, user=user)
    except UnknownAccount:
        raise AdminError(f"unknown account {account_id!r}") from None
    return {"access_key": access_key, "secret_key": secret_key, "account_id": account_id,
            "user": user}


def list_keys(store: AdminStore, account_id: str) -> list[dict[str, Any]]:
    try:
        return [key_dict(cred) for cred in store.list_keys(account_id)]
    except UnknownAccount:
        raise AdminError(f"unknown account {account_id!r}") from None


def set_key_active(store: AdminStore, access_key: str, active: bool) -> dict[str, Any]:
    try:
        store.set_key_active(access_key, active)
    except KeyError:
        raise AdminError(f"unknown access key {access_key!r}") from None
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
