"""A stand-in storage gateway with metering on, on the SQL store: for the metrics HTTP tests.

``gunicorn metered_gateway:app`` (with this directory and the repository root on
``sys.path``).  The gateway reads and drops PUT bodies (reporting them as stored
objects of their bucket, owned by the account the store names) and answers
``GET /<bucket>/<name>-<n>`` with ``n`` bytes.  The middleware authenticates
every request (``authenticate_all``), so signed ones count for their account
and user too.

Environment:

``S3SERVICE_TEST_METRICS_DB``
    the SQLAlchemy URL of the (already seeded) store, shared by every server.
``S3SERVICE_TEST_METRICS_FLUSH``
    seconds between metrics flushes (default 10).
``S3SERVICE_TEST_METRICS_ADMINS``
    the operator accounts (spaces), who may read the service level.
"""
from __future__ import annotations

import os

from s3service import AllowAuthenticated, S3ServiceMiddleware
from s3service.backends.sql import SQLBackend


def gateway(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    if method == "PUT":
        data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if path.count("/") > 1:
            bucket = path[1:].partition("/")[0]
            found = store.get_bucket(bucket)
            environ["s3service.metrics"].record_storage(
                len(data), 1, bucket=bucket, account=None if found is None else found[0])
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]
    if method == "GET":
        _, _, size = path.rpartition("-")
        body = b"g" * (int(size) if size.isdigit() else 0)
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    start_response("204 No Content", [])
    return []


store = SQLBackend(os.environ["S3SERVICE_TEST_METRICS_DB"])
app = S3ServiceMiddleware(gateway, credentials=store, buckets=store, metrics=store,
                          metrics_flush_interval=float(
                              os.environ.get("S3SERVICE_TEST_METRICS_FLUSH", "10")),
                          metrics_admins=os.environ.get("S3SERVICE_TEST_METRICS_ADMINS",
                                                        "").split(),
                          authenticate_all=True,
                          authorizer=AllowAuthenticated())   # metering is tested, not IAM
