"""The in-memory store: one process's accounts, keys, buckets, policies and metrics.

:class:`MemoryBackend` (:mod:`.store`) implements every protocol of
:mod:`s3service.backends.protocols`, with its policies (:mod:`.policies`) and
metrics (:mod:`.metrics`) as parts of its own::

    from s3service.backends.memory import MemoryBackend

    store = MemoryBackend()
    store.add_account("79a59df9...", display_name="Test")
    store.add_key("79a59df9...", "AKIDEXAMPLE", "secret")
"""
from .metrics import MemoryMetrics
from .policies import MemoryPolicies
from .store import CopiedStoreWarning, MemoryBackend

__all__ = ["CopiedStoreWarning", "MemoryBackend", "MemoryMetrics", "MemoryPolicies"]
