"""``python -m cli_credential_cache ARGS``: the ``s3service`` command, with SQL stores that
cache credentials for ``S3SERVICE_TEST_CREDENTIAL_CACHE`` seconds (not the default 5 s).

For tests that wait out the cache (a disabled key refused by every worker of
every server): everything else is the real command, ``serve`` included.  Needs
this directory and the repository root on ``sys.path``.
"""
from __future__ import annotations

import os
import sys

from s3service.backends.sql import SQLBackend
from s3service.gateway import cli, server

CACHE_SECONDS = float(os.environ["S3SERVICE_TEST_CREDENTIAL_CACHE"])
_open_store = server.open_store


def open_store(db: str | None = None):
    url = db or os.environ.get(server.ENV_DB) or server.DEFAULT_DB
    if url == "memory":
        return _open_store(url)
    return SQLBackend(url, credential_cache_seconds=CACHE_SECONDS)


if __name__ == "__main__":
    server.open_store = open_store       # what the command opens its store with
    sys.exit(cli.main())
