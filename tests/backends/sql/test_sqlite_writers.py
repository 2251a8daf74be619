"""SQLite: writers that read first wait their turn instead of failing at once.

In WAL mode a transaction begun deferred reads from a snapshot; if another
connection commits before it writes, SQLite refuses its write at once
("database is locked", no busy wait), which the store would answer as 503.
Each test runs such writers in eight threads over two stores of one file.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from s3service.backends.sql import SQLBackend
from s3service.cors import CORSConfiguration, CORSRule

ACCOUNT = "a" * 64
RULES = CORSConfiguration((CORSRule(allowed_methods=("GET",), allowed_origins=("*",)),))
POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", ' \
         '"Resource": "*"}]}'


@pytest.fixture
def stores(tmp_path) -> tuple[SQLBackend, SQLBackend]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    first, second = SQLBackend(url), SQLBackend(url)
    first.add_account(ACCOUNT)
    for number in range(4):
        first.add_bucket(ACCOUNT, f"bucket-{number}")
        first.add_user(ACCOUNT, f"user-{number}")
    return first, second


def run_together(stores: tuple[SQLBackend, SQLBackend],
                 write: Callable[[SQLBackend, int], None], times: int = 40) -> None:
    failures: list[BaseException] = []

    def writer(store: SQLBackend, number: int) -> None:
        try:
            for _ in range(times):
                write(store, number)
        except BaseException as exc:       # (collected: the assertion shows them)
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(store, number))
               for number in range(4) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_cors_rules_written_together_all_succeed(stores):
    def write(store: SQLBackend, number: int) -> None:
        store.put_bucket_cors(f"bucket-{number}", RULES, owner=ACCOUNT)
        store.delete_bucket_cors(f"bucket-{number}", owner=ACCOUNT)

    run_together(stores, write)
    assert all(stores[0].bucket_cors(f"bucket-{number}") is None for number in range(4))


def test_users_and_policies_changed_together_all_succeed(stores):
    def write(store: SQLBackend, number: int) -> None:
        store.set_user_active(ACCOUNT, f"user-{number}", False)
        store.put_policy(ACCOUNT, f"policy-{number}", POLICY)
        store.set_user_active(ACCOUNT, f"user-{number}", True)

    run_together(stores, write, times=20)
    assert [user.active for user in stores[0].describe_users(ACCOUNT)] == [True] * 4
