"""``python -m big_listing ARGS``: the ``s3service`` command, whose ``--db memory`` store holds
one account with ``BIG_LISTING_BUCKETS`` buckets.

Its key is ``BIG_LISTING_KEY`` / ``BIG_LISTING_SECRET``.  Everything else is
the real command, ``serve`` included (the store is made before the workers
are forked, as ``serve`` makes its own).  Needs this directory and the
repository root on ``sys.path``.
"""
from __future__ import annotations

import os
import sys

from s3service.backends.memory import MemoryBackend
from s3service.gateway import cli, server

ACCOUNT = "0" * 63 + "b"


def open_store(db: str | None = None) -> MemoryBackend:
    if db != "memory":
        raise SystemExit("big_listing: only --db memory")
    store = MemoryBackend()
    store.add_account(ACCOUNT, "big")
    store.add_key(ACCOUNT, os.environ["BIG_LISTING_KEY"], os.environ["BIG_LISTING_SECRET"])
    for i in range(int(os.environ["BIG_LISTING_BUCKETS"])):
        store.add_bucket(ACCOUNT, f"bucket-{i:07d}")
    return store


if __name__ == "__main__":
    server.open_store = open_store       # what the command opens its store with
    sys.exit(cli.main())
