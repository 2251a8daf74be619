"""``examples/objectgateway.py`` behind the middleware, for serving with gunicorn.

``gunicorn object_gateway_app:app``; the objects live under
``S3SERVICE_TEST_OBJECTS`` and the store is an SQLite file beside them, which
every worker shares (who owns which bucket must be the same in all of them),
seeded once, by the first worker, as the echo gateway's store is
(``S3SERVICE_TEST_SEED``...).
"""
from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

from echo_gateway import load_store

from s3service.backends.sql import SQLBackend

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

from objectgateway import make_app  # noqa: E402


def shared_store(objects: Path, seed_path: str) -> SQLBackend:
    store = SQLBackend(f"sqlite:///{objects.with_name(objects.name + '-store.db')}")
    with open(objects.with_name(objects.name + "-store.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not store.list_accounts():
            load_store(seed_path, store)
    return store


app = make_app(os.environ["S3SERVICE_TEST_OBJECTS"],
               shared_store(Path(os.environ["S3SERVICE_TEST_OBJECTS"]),
                            os.environ["S3SERVICE_TEST_SEED"]),
               region=os.environ.get("S3SERVICE_TEST_REGION", "us-east-1"))
