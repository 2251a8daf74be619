"""Storage backends: the protocols in :mod:`.base` and the stores that implement them."""
from .base import (
    AllowAuthenticated,
    Authorizer,
    BackendUnavailable,
    BucketAlreadyExists,
    BucketInfo,
    BucketStore,
    Credential,
    CredentialStore,
    NoSuchAccount,
    NoSuchBucket,
)

__all__ = [
    "AllowAuthenticated",
    "Authorizer",
    "BackendUnavailable",
    "BucketAlreadyExists",
    "BucketInfo",
    "BucketStore",
    "Credential",
    "CredentialStore",
    "NoSuchAccount",
    "NoSuchBucket",
]
