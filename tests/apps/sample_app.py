"""The sample gateway (tests/sample/gateway.py) for gunicorn, on the SQLite store named by
``S3SERVICE_SAMPLE_DB``, with nothing chosen but the store: the default authorizer."""
from __future__ import annotations

import os

from s3service.backends import SQLBackend
from tests.sample.gateway import make_app

# No credential cache: a policy the test adds applies to the next request.
app = make_app(SQLBackend(os.environ["S3SERVICE_SAMPLE_DB"], credential_cache_seconds=0))
