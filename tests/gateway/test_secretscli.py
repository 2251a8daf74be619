"""``s3service secrets`` and ``--secrets-key-file``: one-line refusals, exit statuses, rotation.

(serve with encrypted secrets, on SQLite and PostgreSQL: tests/integration/test_secrets_serve.py.)
"""
from __future__ import annotations

import json
import os

from tests.helpers.cliserver import run_cli


def _ok(*args: str) -> dict:
    result = run_cli("--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _one_line_error(result, status: int, text: str) -> None:
    assert result.returncode == status, (result.stdout, result.stderr)
    assert result.stderr.startswith("s3service: error: ") and text in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_refusals_are_one_line(tmp_path):
    db = f"sqlite:///{tmp_path / 's.db'}"
    key_file = tmp_path / "k"
    account = _ok("--db", db, "account", "create")["account_id"]
    _one_line_error(run_cli("--db", db, "secrets", "encrypt"), 2, "--secrets-key-file")
    _one_line_error(run_cli("--db", db, "--secrets-key-file", str(key_file), "key", "list",
                            account), 2, "cannot read")
    key_file.write_text("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    key_file.chmod(0o644)
    _one_line_error(run_cli("--db", db, "--secrets-key-file", str(key_file), "secrets", "status"),
                    2, "readable or writable by other users")
    _one_line_error(run_cli("--db", db, "serve", "--secrets-key-file", str(key_file)),
                    2, "readable or writable by other users")
    key_file.chmod(0o600)
    _ok("--db", db, "--secrets-key-file", str(key_file), "key", "create", account)
    # Without the key: no plaintext key among encrypted ones, no secret shown.
    _one_line_error(run_cli("--db", db, "key", "create", account), 1, "no secrets key was given")
    _one_line_error(run_cli("--db", db, "key", "list", account), 1, "stored encrypted")
    assert _ok("--db", db, "account", "list")[0]["account_id"] == account   # the rest works


def test_rotation_with_new_key_and_encrypt(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    key_file = str(tmp_path / "keys")
    account = _ok("--db", db, "account", "create")["account_id"]
    first = _ok("secrets", "new-key", key_file)["key_id"]
    assert os.stat(key_file).st_mode & 0o777 == 0o600
    with_key = ("--db", db, "--secrets-key-file", key_file)
    made = _ok(*with_key, "key", "create", account)
    second = _ok("secrets", "new-key", key_file)["key_id"]
    assert _ok(*with_key, "secrets", "status") == [{"key_id": first, "secret_keys": 1}]
    assert _ok(*with_key, "secrets", "encrypt") == {"encrypted": 1, "key_id": second}
    assert _ok(*with_key, "secrets", "status") == [{"key_id": second, "secret_keys": 1}]
    with open(key_file) as handle:
        lines = handle.read().split()
    with open(key_file, "w") as handle:                 # the old key's line can go now
        handle.write(lines[0] + "\n")
    keys = _ok(*with_key, "key", "list", account)
    assert [k["access_key"] for k in keys] == [made["access_key"]]
    assert made["secret_key"] not in json.dumps(keys)          # (key list never shows them)
