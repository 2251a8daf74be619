"""Storage: the protocols a store implements (:mod:`.protocols`), the values they
pass (:mod:`.base`), and the bundled stores, one package per engine
(:mod:`.memory`, :mod:`.sql`)."""
from .base import (
    AllowAuthenticated,
    Authorizer,
    BackendUnavailable,
    BucketNameTaken,
    BucketInfo,
    Credential,
    UnknownAccount,
    UnknownBucket,
)
from .protocols import (
    AdminStore,
    BucketDirectory,
    BucketStore,
    CredentialStore,
    MetricsStore,
    PolicySource,
    PolicyStore,
)

__all__ = [
    "AdminStore",
    "AllowAuthenticated",
    "Authorizer",
    "BackendUnavailable",
    "BucketDirectory",
    "BucketNameTaken",
    "BucketInfo",
    "BucketStore",
    "Credential",
    "CredentialStore",
    "MetricsStore",
    "PolicySource",
    "PolicyStore",
    "UnknownAccount",
    "UnknownBucket",
]
