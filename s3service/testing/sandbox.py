"""A throw-away store for a test: one account, its root key, one IAM user and its key."""
from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from ..backends.memory import MemoryBackend
from ..backends.protocols import AdminStore
from ..regions import DEFAULT_REGION

__all__ = ["Keys", "Sandbox", "sandbox"]


@dataclass(frozen=True)
class Keys:
    """An access key and its secret (and session token, for temporary credentials)."""

    access_key: str
    secret_key: str
    session_token: str | None = None

    def __repr__(self) -> str:         # a test's output never shows the secret
        return f"Keys({self.access_key!r})"


def new_keys() -> Keys:
    """A fresh random access key (``AKIA...``, 20 characters) and 40-character secret."""
    return Keys("AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)[:40])


@dataclass
class Sandbox:
    """A store (by default a new :class:`~s3service.backends.memory.MemoryBackend`) with
    one account in it.

    ``root`` is the account's own key (it may do everything); ``user`` is the
    key of the IAM user ``user_name``, who has no policy yet, so may do
    nothing under the default authorizer until :meth:`allow` says what.
    """

    store: AdminStore
    account_id: str
    display_name: str
    root: Keys
    user_name: str
    user: Keys

    def allow(self, actions: str | Iterable[str], resource: str | Iterable[str] = "*",
              *, name: str = "allow") -> None:
        """Give the IAM user an inline policy allowing ``actions`` on ``resource``."""
        document = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Action": [actions] if isinstance(actions, str) else list(actions),
            "Resource": [resource] if isinstance(resource, str) else list(resource)}]}
        self.store.put_user_policy(self.account_id, self.user_name, name, json.dumps(document))

    def add_bucket(self, name: str, *, region: str = DEFAULT_REGION) -> None:
        """Create the bucket ``name`` for the account."""
        self.store.add_bucket(self.account_id, name, region=region)


def sandbox(*, display_name: str = "tester", user_name: str = "alice",
            store: AdminStore | None = None) -> Sandbox:
    """A new account (random 64-hex canonical ID) with a root key, and an IAM user with a key,
    in ``store`` (default: a new :class:`~s3service.backends.memory.MemoryBackend`; any
    :class:`~s3service.backends.protocols.AdminStore`, such as an ``SQLBackend``)."""
    if store is None:
        store = MemoryBackend()
    account_id = secrets.token_hex(32)
    store.add_account(account_id, display_name=display_name)
    root, user = new_keys(), new_keys()
    store.add_key(account_id, root.access_key, root.secret_key)
    store.add_user(account_id, user_name)
    store.add_key(account_id, user.access_key, user.secret_key, user=user_name)
    return Sandbox(store, account_id, display_name, root, user_name, user)
