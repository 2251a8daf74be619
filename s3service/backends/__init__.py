"""Storage backends: the protocols in :mod:`.base` and the stores that implement them."""
from .base import (
    AllowAuthenticated,
    Authorizer,
    BackendUnavailable,
    BucketNameTaken,
    BucketInfo,
    BucketStore,
    Credential,
    CredentialStore,
    UnknownAccount,
    UnknownBucket,
)

__all__ = [
    "AllowAuthenticated",
    "Authorizer",
    "BackendUnavailable",
    "BucketNameTaken",
    "BucketInfo",
    "BucketStore",
    "Credential",
    "CredentialStore",
    "UnknownAccount",
    "UnknownBucket",
]
