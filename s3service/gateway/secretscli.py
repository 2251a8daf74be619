"""The ``s3service secrets`` commands: secret keys encrypted at rest.

Usage::

    s3service secrets new-key PATH      (a new key first in PATH, created 0600)
    s3service --secrets-key-file PATH secrets encrypt
    s3service [--secrets-key-file PATH] secrets status

To start encrypting: ``new-key`` makes the key file, ``encrypt`` seals every
secret key stored in plaintext, and from then on every command and ``serve``
is given the file (``--secrets-key-file`` or ``$S3SERVICE_SECRETS_KEY_FILE``).
To rotate: ``new-key`` on the same file puts a new key first (the old ones
stay, to open what they sealed), ``encrypt`` re-seals every secret under it,
and the old lines can then be deleted.  See :mod:`s3service.backends.secretbox`.
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from ..backends.protocols import AdminStore
from ..backends.secretbox import KeyFileError, add_key_to_file
from .admin import AdminError
from .output import emit, table

Command = Callable[[Any, str, Any, str], argparse.ArgumentParser]
EXIT_USAGE = 2


def register(commands: Any, command: Command, group: Callable[[Any, str, str], Any]) -> None:
    """Add the ``secrets`` commands to the ``s3service`` parser."""
    secrets = group(commands, "secrets", "encrypt the secret keys stored in the database")
    sub = command(secrets, "new-key", cmd_new_key,
                  "write a new encryption key first in PATH (created readable by you only; "
                  "keys already there stay, to decrypt what they encrypted)")
    sub.add_argument("path", metavar="PATH")
    command(secrets, "encrypt", cmd_encrypt,
            "encrypt every secret key stored in plaintext, and re-encrypt those under an "
            "older key, with the first key of --secrets-key-file")
    command(secrets, "status", cmd_status,
            "count the secret keys stored in plaintext and under each key id")


def _sql_store(store: AdminStore) -> Any:
    from ..backends.sql import SQLBackend

    if not isinstance(store, SQLBackend):
        raise AdminError("only an SQL database keeps secret keys at rest", EXIT_USAGE)
    return store


def cmd_new_key(args: argparse.Namespace, store: AdminStore) -> None:
    try:
        ident = add_key_to_file(args.path)
    except (KeyFileError, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AdminError(f"cannot write {args.path}: {reason}", EXIT_USAGE) from None
    emit(args, {"path": os.path.abspath(args.path), "key_id": ident},
         f"new key {ident} first in {args.path}: give it with --secrets-key-file, then run "
         f"`s3service secrets encrypt`")


def cmd_encrypt(args: argparse.Namespace, store: AdminStore) -> None:
    from ..backends.sql.sealing import check_openable, seal_all

    sql = _sql_store(store)
    if sql.secrets is None:
        raise AdminError("give the key file with --secrets-key-file (or "
                         "$S3SERVICE_SECRETS_KEY_FILE)", EXIT_USAGE)
    check_openable(sql)             # every row must open before any is rewritten
    done = seal_all(sql)
    emit(args, {"encrypted": done, "key_id": sql.secrets.current},
         f"encrypted {done} secret keys with key {sql.secrets.current}")


def cmd_status(args: argparse.Namespace, store: AdminStore) -> None:
    from ..backends.sql.sealing import census

    counts = census(_sql_store(store))
    rows = [{"key_id": key or "(plaintext)", "secret_keys": count}
            for key, count in sorted(counts.items(), key=lambda item: item[0] or "")]
    emit(args, rows, table(rows, [("key_id", "KEY ID"), ("secret_keys", "SECRET KEYS")],
                           "no secret keys"))
