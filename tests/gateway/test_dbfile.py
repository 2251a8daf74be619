"""``--db-file PATH`` (a file other users cannot read) and ``$S3SERVICE_DB``: the database URL.

Run in this process (``cliserver.run_cli``) on a real SQLite file.
"""
from __future__ import annotations

import os

from tests.helpers.cliserver import run_cli


def test_the_url_from_a_file_or_the_environment(tmp_path, make_sql_url):
    url = make_sql_url("sqlite")
    assert run_cli("--db", url, "account", "create", "a" * 64).returncode == 0
    secret_file = tmp_path / "db-url"
    secret_file.write_text(url + "\nignored\n")
    os.chmod(secret_file, 0o600)
    listed = run_cli("--db-file", str(secret_file), "account", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "a" * 64 in listed.stdout
    assert run_cli("account", "list", "--db-file", str(secret_file)).returncode == 0

    os.chmod(secret_file, 0o644)
    refused = run_cli("--db-file", str(secret_file), "account", "list")
    assert refused.returncode == 2
    assert refused.stderr.startswith("s3service: error: ") and "readable by every user" \
        in refused.stderr and url not in refused.stderr
    os.chmod(secret_file, 0o600)
    both = run_cli("--db", url, "--db-file", str(secret_file), "account", "list")
    assert both.returncode == 2 and "not both" in both.stderr
    missing = run_cli("--db-file", str(tmp_path / "nothing"), "account", "list")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    empty = tmp_path / "empty"
    empty.write_text("\n")
    os.chmod(empty, 0o600)
    assert run_cli("--db-file", str(empty), "account", "list").returncode == 2

    from_env = run_cli("account", "list", "--json", env={"S3SERVICE_DB": url})
    assert from_env.returncode == 0 and "a" * 64 in from_env.stdout
