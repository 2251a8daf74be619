"""The SQL store's secret keys at rest: what is sealed with which key, sealing them all.

The sealing itself is :mod:`s3service.backends.secretbox`'s; the store seals
what it writes and opens what it reads.  This module answers the operator's
questions about the rows already there (``s3service secrets status``), seals
the plaintext ones and re-seals those under an older key (``s3service
secrets encrypt``), and refuses to start a server that could not open them.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select, update

from ..secretbox import ENV_KEY_FILE, ID_CHARS, MARK, SecretBox, SecretUnreadable
from .schema import access_keys
from .store import SQLBackend

#: Rows re-sealed per transaction by :func:`seal_all`.
BATCH = 500


def census(store: SQLBackend) -> dict[str | None, int]:
    """How many secret keys are sealed with each key id (``None``: plaintext)."""
    sealed = access_keys.c.secret_key.startswith(MARK, autoescape=True)
    kind = case((sealed, func.substr(access_keys.c.secret_key, len(MARK) + 1, ID_CHARS)),
                else_=None)
    with store._transaction() as conn:
        rows = conn.execute(select(kind, func.count()).group_by(kind)).all()
    return {key: count for key, count in rows}


def check_openable(store: SQLBackend) -> int:
    """Raise :class:`SecretUnreadable` unless every sealed secret opens with the store's box.

    Returns how many secrets are stored in plaintext.  For a server's start:
    refused there in one line rather than with ``503`` on every request.
    """
    found = census(store)
    plaintext = found.get(None, 0)
    counts = {key: count for key, count in found.items() if key is not None}
    box = store.secrets
    if counts and box is None:
        raise SecretUnreadable(f"the database holds {sum(counts.values())} encrypted secret "
                               f"keys (key ids {', '.join(sorted(counts))}) and no secrets key "
                               f"was given (--secrets-key-file or ${ENV_KEY_FILE})")
    missing = sorted(set(counts) - (box.key_ids if box else frozenset()))
    if missing:
        raise SecretUnreadable(f"{sum(counts[k] for k in missing)} secret keys are sealed with "
                               f"key ids {', '.join(missing)}, which the secrets key file does "
                               f"not hold")
    return plaintext


def seal_all(store: SQLBackend) -> int:
    """Seal every plaintext secret, and re-seal every one under an older key; returns how many.

    Each row is rewritten only if it still holds what was read (a key
    replaced meanwhile is left to its new value), in transactions of
    :data:`BATCH` rows.
    """
    box: SecretBox | None = store.secrets
    if box is None:
        raise SecretUnreadable(f"no secrets key was given (--secrets-key-file or ${ENV_KEY_FILE})")
    current = f"{MARK}{box.current}$"
    with store._transaction() as conn:
        names = list(conn.execute(select(access_keys.c.access_key)
                                  .where(~access_keys.c.secret_key.startswith(current,
                                                                              autoescape=True))
                                  .order_by(access_keys.c.access_key)).scalars())
    done = 0
    for start in range(0, len(names), BATCH):
        with store._transaction(writing=True) as conn:
            rows = conn.execute(select(access_keys.c.access_key, access_keys.c.secret_key)
                                .where(access_keys.c.access_key.in_(names[start:start + BATCH])))
            for access_key, stored in rows.all():
                if box.is_current(stored):
                    continue
                sealed = box.seal(access_key, box.open(access_key, stored))
                done += conn.execute(update(access_keys)
                                     .where(access_keys.c.access_key == access_key,
                                            access_keys.c.secret_key == stored)
                                     .values(secret_key=sealed)).rowcount
    store._cache_drop()
    if done:
        rewrite_table(store)
    return done


def rewrite_table(store: SQLBackend) -> None:
    """Rewrite the keys' storage so the values replaced leave no bytes behind in the database.

    An UPDATE leaves the old row's bytes in free space (SQLite) or in a dead
    row version (PostgreSQL) until they happen to be reused.  SQLite's
    ``VACUUM`` rewrites the whole file, and the WAL is then emptied;
    PostgreSQL's ``VACUUM FULL`` rewrites the table (holding its lock for as
    long: milliseconds for thousands of keys).  Copies made before (backups,
    PostgreSQL's WAL archive) keep what they hold.
    """
    raw = store.engine.raw_connection()
    try:
        driver: Any = raw.dbapi_connection
        if store.engine.dialect.name == "sqlite":
            driver.isolation_level = None
            cursor = driver.cursor()
            cursor.execute("VACUUM")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        elif store.engine.dialect.name == "postgresql":
            driver.rollback()
            driver.autocommit = True
            try:
                driver.cursor().execute(f"VACUUM FULL {access_keys.name}")
            finally:
                driver.autocommit = False
    finally:
        raw.close()
