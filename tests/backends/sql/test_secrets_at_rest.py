"""Secret keys encrypted at rest in the SQL store, on real SQLite files and real PostgreSQL.

What is checked is what the database holds (read behind the store's back),
and that the store still gives the right secrets: written sealed with a key,
plaintext rows of older databases still read, ``seal_all`` sealing and
re-sealing them, and a store without the key refusing rather than
answering wrongly.
"""
from __future__ import annotations

import base64
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.pool import NullPool

from s3service.backends.base import BackendUnavailable
from s3service.backends.secretbox import MARK, SecretBox, SecretUnreadable, key_id
from s3service.backends.sql import SQLBackend
from s3service.backends.sql.schema import access_keys
from s3service.backends.sql.sealing import census, check_openable, seal_all

ACCOUNT = "c" * 64
SECRETS = {f"AKIAATREST{i:010d}": f"Sealed/Secret+{i:04d}/0000000000000000000000" for i in range(5)}
KEY_1, KEY_2 = bytes(range(32)), bytes(range(100, 132))


def _stored(url: str) -> dict[str, str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(access_keys.c.access_key, access_keys.c.secret_key)).all())
    finally:
        engine.dispose()


@pytest.fixture
def stores():
    made: list[SQLBackend] = []

    def make(url: str, *keys: bytes) -> SQLBackend:
        store = SQLBackend(url, credential_cache_seconds=0,
                           secrets=SecretBox(keys) if keys else None)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def _fill(store: SQLBackend) -> None:
    store.add_account(ACCOUNT, display_name="at rest")
    for access_key, secret in SECRETS.items():
        store.add_key(ACCOUNT, access_key, secret)


def test_written_sealed_and_read_back(sql_url, stores):
    store = stores(sql_url, KEY_1)
    _fill(store)
    stored = _stored(sql_url)
    for access_key, secret in SECRETS.items():
        assert stored[access_key].startswith(f"{MARK}{key_id(KEY_1)}$")
        assert secret not in stored[access_key]
        assert store.get_credential(access_key).secret_key == secret
    assert {c.secret_key for c in store.list_keys(ACCOUNT)} == set(SECRETS.values())
    assert census(store) == {key_id(KEY_1): len(SECRETS)}
    # Another process's store, with the same key file, reads them too.
    assert stores(sql_url, KEY_1).get_credential(next(iter(SECRETS))).secret_key == \
        next(iter(SECRETS.values()))


def test_plaintext_rows_read_then_sealed_and_rotated(sql_url, stores):
    _fill(stores(sql_url))                             # an older database: plaintext
    assert _stored(sql_url) == SECRETS
    store = stores(sql_url, KEY_1)
    assert check_openable(store) == len(SECRETS)       # readable; all plaintext
    assert store.get_credential("AKIAATREST0000000001").secret_key == SECRETS["AKIAATREST0000000001"]

    assert seal_all(store) == len(SECRETS)
    assert census(store) == {key_id(KEY_1): len(SECRETS)}
    assert not set(_stored(sql_url).values()) & set(SECRETS.values())
    assert seal_all(store) == 0                        # nothing left to do

    rotated = stores(sql_url, KEY_2, KEY_1)            # a new key first, the old one after it
    assert rotated.get_credential("AKIAATREST0000000002").secret_key == SECRETS["AKIAATREST0000000002"]
    assert seal_all(rotated) == len(SECRETS)
    assert census(rotated) == {key_id(KEY_2): len(SECRETS)}
    only_new = stores(sql_url, KEY_2)                  # the old line can go now
    assert check_openable(only_new) == 0
    for access_key, secret in SECRETS.items():
        assert only_new.get_credential(access_key).secret_key == secret


def test_without_the_key_sealed_secrets_are_refused(sql_url, stores):
    _fill(stores(sql_url, KEY_1))
    for store in (stores(sql_url), stores(sql_url, KEY_2)):
        with pytest.raises(SecretUnreadable) as raised:
            check_openable(store)
        assert key_id(KEY_1) in str(raised.value)
        with pytest.raises(BackendUnavailable) as raised:   # a request gets 503, not a wrong key
            store.get_credential("AKIAATREST0000000000")
        assert not any(secret in str(raised.value) for secret in SECRETS.values())


def test_a_sealed_secret_moved_to_another_row_does_not_open(sql_url, stores):
    store = stores(sql_url, KEY_1)
    _fill(store)
    stored = _stored(sql_url)
    engine = create_engine(sql_url, poolclass=NullPool)
    with engine.begin() as conn:                       # an attacker who may write the database
        conn.execute(update(access_keys).where(access_keys.c.access_key == "AKIAATREST0000000001")
                     .values(secret_key=stored["AKIAATREST0000000000"]))
    engine.dispose()
    with pytest.raises(SecretUnreadable, match="altered, or moved"):
        store.get_credential("AKIAATREST0000000001")
    assert store.get_credential("AKIAATREST0000000000").secret_key == SECRETS["AKIAATREST0000000000"]


def test_no_plaintext_secret_in_the_sqlite_files_after_sealing(tmp_path, stores):
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    _fill(stores(url))
    for access_key, secret in SECRETS.items():         # replaced rows leave old bytes behind
        stores(url).add_key(ACCOUNT, access_key, secret)

    def leaked() -> list[str]:
        files = b"".join(path.read_bytes() for path in tmp_path.glob("keys.db*"))
        return [s for s in SECRETS.values()
                if s.encode() in files or base64.b64encode(s.encode()) in files]

    assert leaked()                                    # (the check can see them)
    store = stores(url, KEY_1)
    seal_all(store)
    store.close()
    assert leaked() == []
    for access_key, secret in SECRETS.items():
        assert stores(url, KEY_1).get_credential(access_key).secret_key == secret


def test_a_secret_too_long_to_seal_is_refused_before_writing(sql_url, stores):
    store = stores(sql_url, KEY_1)
    store.add_account(ACCOUNT)
    with pytest.raises(ValueError, match="too long"):
        store.add_key(ACCOUNT, "AKIATOOLONG", "x" * 200)
    assert store.get_credential("AKIATOOLONG") is None
    with pytest.raises(ValueError, match="may not start"):
        stores(sql_url).add_key(ACCOUNT, "AKIALOOKSSEALED", MARK + "0000")


def test_create_app_takes_the_key_file_from_the_environment(tmp_path, stores, monkeypatch):
    """What gunicorn runs (``s3service.gateway.server:create_app()``): refused without the key."""
    from s3service.backends.secretbox import ENV_KEY_FILE, add_key_to_file, read_key_file
    from s3service.gateway import server

    url = f"sqlite:///{tmp_path / 'app.db'}"
    key_file = str(tmp_path / "secrets.key")
    add_key_to_file(key_file)
    _fill(stores(url, *read_key_file(key_file)))
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)
    with pytest.raises(SecretUnreadable, match="no secrets key was given"):
        server.create_app(url)
    monkeypatch.setenv(ENV_KEY_FILE, key_file)
    assert server.create_app(url) is not None
