"""``s3service serve`` with secret keys encrypted at rest (``--secrets-key-file``).

On a real SQLite file and on real PostgreSQL: keys made and encrypted with
the ``s3service`` command, a real ``serve`` (two granian workers) given the
key file, boto3 listing with SigV4 and SigV2; the database files (SQLite's,
and the PostgreSQL cluster's tables and WAL) hold no secret key in plaintext; a database holding encrypted keys is refused at
start, in one line, when the key is not given.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cliserver import run_cli, start_server  # noqa: F401 (a fixture)

from .conftest import _boto3_session


def cli_json(*args: str, env: dict[str, str] | None = None) -> dict:
    result = run_cli("--json", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _listed(endpoint: str, access_key: str, secret: str, signature: str = "s3v4") -> list[str]:
    from botocore.config import Config

    config = Config(signature_version=signature, s3={"addressing_style": "path"},
                    retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                    read_timeout=30)
    s3 = _boto3_session().client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                 aws_access_key_id=access_key, aws_secret_access_key=secret,
                                 config=config)
    return [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_serve_sqlite_with_encrypted_secrets(tmp_path, start_server):
    db = f"sqlite:///{tmp_path / 'keys.db'}"
    key_file = str(tmp_path / "secrets.key")
    old = cli_json("--db", db, "account", "create", "--name", "older")["account_id"]
    plain = cli_json("--db", db, "key", "create", old)          # before encryption: plaintext
    cli_json("--db", db, "bucket", "create", old, "older-bucket")
    assert cli_json("secrets", "new-key", key_file)["key_id"]
    assert cli_json("--db", db, "--secrets-key-file", key_file,
                    "secrets", "encrypt")["encrypted"] == 1
    account = cli_json("--db", db, "--secrets-key-file", key_file,
                       "account", "create")["account_id"]
    new = cli_json("--db", db, "key", "create", account, "--secrets-key-file", key_file)
    cli_json("--db", db, "bucket", "create", account, "newer-bucket")

    files = b"".join(path.read_bytes() for path in tmp_path.glob("keys.db*"))
    for key in (plain, new):
        assert key["secret_key"].encode() not in files

    refused = run_cli("--db", db, "serve")                      # no key: refused at start
    assert refused.returncode == 1
    assert refused.stderr.startswith("s3service: error: the database holds 2 encrypted")
    assert len(refused.stderr.strip().splitlines()) == 1

    server = start_server(db, "--workers", "2", "--secrets-key-file", key_file)
    server.wait_ready()
    assert _listed(server.endpoint, plain["access_key"], plain["secret_key"]) == ["older-bucket"]
    assert _listed(server.endpoint, new["access_key"], new["secret_key"], "s3") == ["newer-bucket"]
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as wrong:
        _listed(server.endpoint, new["access_key"], plain["secret_key"])
    assert wrong.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    files = b"".join(path.read_bytes() for path in tmp_path.glob("keys.db*"))
    for key in (plain, new):
        assert key["secret_key"].encode() not in files


def _cluster_files(postgres_server) -> bytes:
    """Every file of the throw-away cluster (tables, WAL), after a checkpoint wrote them."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(postgres_server.url, poolclass=NullPool,
                           isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CHECKPOINT"))
    engine.dispose()
    found = []
    for path in (postgres_server.tmpdir / "data").rglob("*"):
        if path.is_file():
            found.append(path.read_bytes())
    return b"".join(found)


def test_serve_postgresql_with_the_key_file_from_the_environment(make_sql_url, tmp_path,
                                                                 start_server, postgres_server):
    db = make_sql_url("postgresql")
    key_file = str(tmp_path / "secrets.key")
    cli_json("secrets", "new-key", key_file)
    env = {"S3SERVICE_SECRETS_KEY_FILE": key_file}
    account = cli_json("--db", db, "account", "create", env=env)["account_id"]
    key = cli_json("--db", db, "key", "create", account, env=env)
    cli_json("--db", db, "bucket", "create", account, "pg-sealed", env=env)
    status = cli_json("--db", db, "secrets", "status")
    assert [row["key_id"] for row in status] != ["(plaintext)"] and len(status) == 1

    refused = run_cli("--db", db, "serve")
    assert refused.returncode == 1 and "no secrets key was given" in refused.stderr

    server = start_server(db, "--workers", "2", env=env)
    server.wait_ready()
    for _ in range(4):                                          # (both workers, likely)
        assert _listed(server.endpoint, key["access_key"], key["secret_key"]) == ["pg-sealed"]

    if postgres_server.tmpdir is not None:                      # (not an outside server)
        files = _cluster_files(postgres_server)
        assert key["access_key"].encode() in files              # (the check sees the rows)
        assert key["secret_key"].encode() not in files
