"""The one account every benchmark seeds its stores with, and seeding a store with it."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

ACCOUNT_ID = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
DISPLAY_NAME = "bench"
ACCESS_KEY = "AKIAS3SERVICEBENCH01"
SECRET_KEY = "s3service/bench/secret/key/0123456789abcdef"
REGION = "us-east-1"
CREATED = datetime(2024, 1, 1, tzinfo=timezone.utc)


def seed(store: Any, names: Iterable[str], account_id: str = ACCOUNT_ID) -> None:
    """Give ``store`` the account, its key and exactly ``names`` as its buckets.

    Buckets the account had before (an earlier size on the same database) go first.
    """
    store.add_account(account_id, display_name=DISPLAY_NAME)
    store.add_key(account_id, ACCESS_KEY, SECRET_KEY)
    for info in list(store.list_buckets(account_id)):
        store.delete_bucket(info.name)
    for name in names:
        store.add_bucket(account_id, name, created=CREATED, region=REGION)
