"""The bundled gateway on an in-memory store whose one account has ``BIG_LISTING_BUCKETS`` buckets.

Its key is ``BIG_LISTING_KEY`` / ``BIG_LISTING_SECRET``; each gunicorn worker
builds the same store when it imports this module.
"""
import os

from s3service.backends.memory import MemoryBackend
from s3service.gateway import make_app

ACCOUNT = "0" * 63 + "b"

store = MemoryBackend()
store.add_account(ACCOUNT, "big")
store.add_key(ACCOUNT, os.environ["BIG_LISTING_KEY"], os.environ["BIG_LISTING_SECRET"])
for i in range(int(os.environ["BIG_LISTING_BUCKETS"])):
    store.add_bucket(ACCOUNT, f"bucket-{i:07d}")

app = make_app(store)
