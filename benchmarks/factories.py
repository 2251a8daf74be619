"""Candidate factories for the shared ListBuckets harness (``../shared/bench``).

Each factory ``f(n)`` seeds the ``n`` buckets named ``harness.bucket_names(n)``
under one account and returns ``(wsgi_app, harness.SignedListBuckets(key, secret))``
as the harness's contract asks (see the docstring of ``harness.py``).

Use them from the shared harness::

    PYTHONPATH=benchmarks:../shared/bench python ../shared/bench/peers.py \\
        --peers bare,moto,swift-s3api --candidate s3service=factories:s3service_memory

The harness module is found on ``PYTHONPATH`` or, failing that, in
``$S3SERVICE_BENCH_HARNESS`` or the ``shared/bench`` folder next to this
checkout (``../../shared/bench`` from this file).
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from datetime import datetime, timezone

sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/


def _import_harness():
    if importlib.util.find_spec("harness") is None:
        here = os.path.dirname(os.path.abspath(__file__))
        folder = os.environ.get("S3SERVICE_BENCH_HARNESS") or os.path.normpath(
            os.path.join(here, "..", "..", "shared", "bench"))
        if not os.path.exists(os.path.join(folder, "harness.py")):
            raise ImportError("the shared bench harness (harness.py) is neither on PYTHONPATH "
                              "nor in %s; set S3SERVICE_BENCH_HARNESS" % folder) from None
        sys.path.insert(0, folder)
    return importlib.import_module("harness")


harness = _import_harness()

from s3service import S3ServiceMiddleware  # noqa: E402
from s3service.backends.memory import MemoryBackend  # noqa: E402

ACCOUNT_ID = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
DISPLAY_NAME = "bench"
ACCESS_KEY = "AKIAS3SERVICEBENCH01"
SECRET_KEY = "s3service/bench/secret/key/0123456789abcdef"
REGION = "us-east-1"
CREATED = datetime(2024, 1, 1, tzinfo=timezone.utc)


def gateway_app(environ, start_response):
    """The storage gateway behind the middleware: never reached by ListBuckets."""
    body = b"not found"
    start_response("404 Not Found", [("Content-Type", "text/plain"),
                                     ("Content-Length", str(len(body)))])
    return [body]


def memory_store(names, account_id=ACCOUNT_ID):
    """A MemoryBackend with one account, its key, and ``names`` as its buckets."""
    store = MemoryBackend()
    store.add_account(account_id, display_name=DISPLAY_NAME)
    store.add_key(account_id, ACCESS_KEY, SECRET_KEY)
    for name in names:
        store.add_bucket(account_id, name, created=CREATED, region=REGION)
    return store


def middleware(store, credentials=None, **options):
    """The middleware as a gateway would deploy it (path-style, one service host)."""
    return S3ServiceMiddleware(gateway_app, credentials=credentials or store, buckets=store,
                               region=REGION, service_hosts=["localhost"], **options)


def signer(endpoint="http://localhost"):
    return harness.SignedListBuckets(ACCESS_KEY, SECRET_KEY, endpoint=endpoint, region=REGION)


def s3service_memory(n):
    """s3service over its MemoryBackend, ``n`` buckets under one account."""
    store = memory_store(harness.bucket_names(n))
    return middleware(store), signer()


def has_metrics():
    """Whether this version of the middleware takes a ``metrics=`` store."""
    return "metrics" in inspect.signature(S3ServiceMiddleware.__init__).parameters


def s3service_metered(n):
    """Same as :func:`s3service_memory` with request metrics recorded (if supported)."""
    if not has_metrics():
        raise RuntimeError("S3ServiceMiddleware has no metrics= parameter in this version")
    store = memory_store(harness.bucket_names(n))  # a MemoryBackend is a metrics store too
    return middleware(store, metrics=store), signer()
