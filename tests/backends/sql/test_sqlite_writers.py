"""SQLite: writers that read first wait their turn instead of failing at once.

In WAL mode a transaction begun deferred reads from a snapshot; if another
connection commits before it writes, SQLite refuses its write at once
("database is locked", no busy wait), which the store would answer as 503.
"""
from __future__ import annotations

import threading

from s3service.backends.sql import SQLBackend
from s3service.cors import CORSConfiguration, CORSRule

RULES = CORSConfiguration((CORSRule(allowed_methods=("GET",), allowed_origins=("*",)),))


def test_cors_writers_in_two_stores_on_one_file_all_succeed(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    first, second = SQLBackend(url), SQLBackend(url)
    account = "a" * 64
    first.add_account(account)
    for number in range(4):
        first.add_bucket(account, f"bucket-{number}")
    failures: list[BaseException] = []

    def write(store: SQLBackend, bucket: str) -> None:
        try:
            for _ in range(40):
                store.put_bucket_cors(bucket, RULES, owner=account)
                store.delete_bucket_cors(bucket, owner=account)
        except BaseException as exc:       # (collected: the assertion below shows them)
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(store, f"bucket-{number}"))
               for number in range(4) for store in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert all(first.bucket_cors(f"bucket-{number}") is None for number in range(4))
