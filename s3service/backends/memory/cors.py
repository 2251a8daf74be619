"""The CORS store (:class:`~..protocols.CORSStore`) of :class:`~.memory.MemoryBackend`."""
from __future__ import annotations

import threading

from ...cors.rules import CORSConfiguration
from ..base import UnknownBucket


class MemoryCORS:
    """Each bucket's CORS configuration, in a dict.

    A mixin: the class using it has ``_lock`` and ``_owners`` (bucket name ->
    account id), calls :meth:`_init_cors`, and calls :meth:`_drop_cors` when a
    bucket is deleted.
    """

    _lock: threading.Lock
    _owners: dict[str, str]

    def _init_cors(self) -> None:
        self._cors: dict[str, CORSConfiguration] = {}

    def _drop_cors(self, bucket: str) -> None:
        self._cors.pop(bucket, None)

    def _owned(self, bucket: str, owner: str | None) -> None:
        found = self._owners.get(bucket)
        if found is None or (owner is not None and found != owner):
            raise UnknownBucket(bucket)

    def bucket_cors(self, bucket: str) -> CORSConfiguration | None:
        """The bucket's CORS configuration, or ``None``."""
        with self._lock:
            return self._cors.get(bucket)

    def put_bucket_cors(self, bucket: str, configuration: CORSConfiguration, *,
                        owner: str | None = None) -> None:
        """Set the bucket's CORS configuration (``owner``: only if that account owns it)."""
        with self._lock:
            self._owned(bucket, owner)
            self._cors[bucket] = configuration

    def delete_bucket_cors(self, bucket: str, *, owner: str | None = None) -> None:
        """Remove the bucket's CORS configuration (``owner``: only if that account owns it)."""
        with self._lock:
            self._owned(bucket, owner)
            self._cors.pop(bucket, None)
