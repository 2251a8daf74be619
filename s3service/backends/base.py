"""The errors a store raises, and the face of the store interface.

A store that cannot be reached raises :class:`BackendUnavailable` (answered
``503 ServiceUnavailable``); the admin calls raise :class:`UnknownAccount`,
:class:`UnknownBucket` and :class:`BucketNameTaken`.

The records a store hands over (:class:`~.records.Credential`,
:class:`~.records.BucketInfo`) and the protocols it implements
(:mod:`.protocols`) are importable from here too, where they once lived::

    from s3service.backends.base import BucketInfo, Credential, CredentialStore
"""
from __future__ import annotations

# (the authorizer protocols lived here once too)
from ..authorization import AllowAuthenticated, Authorizer, ContextAuthorizer
from .protocols import BucketStore, CredentialStore
from .records import BucketInfo, Credential, s3_timestamp

__all__ = ["AllowAuthenticated", "Authorizer", "BackendUnavailable", "BucketInfo",
           "BucketNameTaken", "BucketStore", "ContextAuthorizer", "Credential",
           "CredentialStore", "UnknownAccount", "UnknownBucket", "s3_timestamp"]


class BackendUnavailable(Exception):
    """The store cannot be reached just now; the client may retry (503)."""


class UnknownAccount(LookupError):
    """An admin call named an account that does not exist."""


class UnknownBucket(LookupError):
    """An admin call named a bucket that does not exist."""


class BucketNameTaken(Exception):
    """A bucket name is taken (bucket names are global); ``owner`` is the owning account."""

    def __init__(self, name: str, owner: str) -> None:
        super().__init__(name)
        self.name = name
        self.owner = owner
