"""Storage: the protocols a store implements (:mod:`.protocols`), the values they
pass (:mod:`.base`), and the bundled stores, one package per engine
(:mod:`.memory`, :mod:`.sql`): ``from s3service.backends import MemoryBackend,
SQLBackend`` (the latter needs ``pip install 's3service[sql]'``)."""
from typing import Any

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
from .memory import MemoryBackend
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
    "MemoryBackend",
    "MetricsStore",
    "PolicySource",
    "PolicyStore",
    "SQLBackend",
    "UnknownAccount",
    "UnknownBucket",
]


def __getattr__(name: str) -> Any:
    # SQLBackend is imported on first use: it needs SQLAlchemy, an extra.
    if name == "SQLBackend":
        from .sql import SQLBackend
        return SQLBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
