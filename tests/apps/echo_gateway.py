"""A stand-in storage gateway behind :class:`S3ServiceMiddleware`, for serving with gunicorn.

``gunicorn echo_gateway:app`` (with this directory and the repository root
on ``sys.path``).  The gateway answers every request that reaches it with
``200`` and a JSON description of what arrived: method, path, query, host,
the identity the middleware put in ``environ["s3service.identity"]`` and how
many body bytes it could read.  The same JSON, base64url-encoded, is in the
``X-Echo`` response header; a ``PUT`` is answered with an empty body (as S3
answers PutObject) and the header alone.

Configured from the environment, so every worker builds the same app:

``S3SERVICE_TEST_SEED``
    a JSON file ``{"accounts": [{"id", "display_name"}], "keys": [{"account",
    "access_key", "secret_key", "user"?, "active"?, "session_token"?,
    "expires"?}], "buckets": [{"account", "name", "created"?, "region"?}]}``
    (times in ISO 8601 with an offset).
``S3SERVICE_TEST_AUTH_ALL``
    ``1`` turns on ``authenticate_all``.
``S3SERVICE_TEST_SERVICE_HOSTS``
    comma-separated service host names (default ``s3.localtest``).
``S3SERVICE_TEST_REGION``
    the endpoint's region (default ``us-east-1``).
``S3SERVICE_TEST_CLOCK_SKEW``
    allowed clock skew in seconds (default 900).
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
from datetime import datetime
from typing import Any

from s3service import AllowAuthenticated, S3ServiceMiddleware
from s3service.backends.memory import MemoryBackend

IDENTITY_KEY = "s3service.identity"
REQUEST_ID_KEY = "s3service.request_id"


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def load_store(path: str, store: Any = None) -> Any:
    """``store`` (a new MemoryBackend by default) holding what the seed file at ``path`` describes."""
    with open(path, encoding="utf-8") as f:
        seed = json.load(f)
    if store is None:
        store = MemoryBackend()
    for account in seed.get("accounts", ()):
        store.add_account(account["id"], display_name=account.get("display_name", ""))
    for key in seed.get("keys", ()):
        store.add_key(key["account"], key["access_key"], key["secret_key"],
                      user=key.get("user"), active=key.get("active", True),
                      session_token=key.get("session_token"), expires=_when(key.get("expires")))
    for bucket in seed.get("buckets", ()):
        store.add_bucket(bucket["account"], bucket["name"], created=_when(bucket.get("created")),
                         region=bucket.get("region", "us-east-1"))
    return store


def _describe_identity(identity: object) -> object:
    if identity is None:
        return None
    if dataclasses.is_dataclass(identity):
        return dataclasses.asdict(identity)
    return repr(identity)


def gateway(environ: dict, start_response) -> list[bytes]:
    """Answer anything with what arrived, reading the whole body first."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    digest = hashlib.sha256()
    received = 0
    while received < length:
        chunk = stream.read(min(65536, length - received))
        if not chunk:
            break
        digest.update(chunk)
        received += len(chunk)
    answer = {
        "gateway": "echo",
        "pid": os.getpid(),
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO"),
        "script_name": environ.get("SCRIPT_NAME", ""),
        "query": environ.get("QUERY_STRING", ""),
        "host": environ.get("HTTP_HOST"),
        "content_length": environ.get("CONTENT_LENGTH"),
        "body_bytes": received,
        "body_sha256": digest.hexdigest(),
        "has_identity": IDENTITY_KEY in environ,
        "identity": _describe_identity(environ.get(IDENTITY_KEY)),
        "request_id": environ.get(REQUEST_ID_KEY),
        "authorization": environ.get("HTTP_AUTHORIZATION"),
    }
    body = json.dumps(answer, ensure_ascii=True).encode("ascii")
    headers = [("Content-Type", "application/json"),
               ("X-Echo", base64.urlsafe_b64encode(body).decode("ascii"))]
    if answer["method"] == "PUT":
        # As S3 answers PutObject: no body (SDKs take a 200 with a body they
        # cannot parse for an error).  The description is in X-Echo.
        body = b""
    headers.append(("Content-Length", str(len(body))))
    start_response("200 OK", headers)
    return [body]


def make_app(env: dict | None = None) -> S3ServiceMiddleware:
    env = os.environ if env is None else env
    seed = env.get("S3SERVICE_TEST_SEED")
    if not seed:
        raise RuntimeError("S3SERVICE_TEST_SEED must name the seed JSON file")
    store = load_store(seed)
    hosts = [h for h in env.get("S3SERVICE_TEST_SERVICE_HOSTS", "s3.localtest").split(",") if h]
    return S3ServiceMiddleware(
        gateway, credentials=store, buckets=store,
        region=env.get("S3SERVICE_TEST_REGION", "us-east-1"),
        service_hosts=hosts,
        clock_skew=float(env.get("S3SERVICE_TEST_CLOCK_SKEW", "900")),
        authenticate_all=env.get("S3SERVICE_TEST_AUTH_ALL") == "1",
        # What is served here is tested for signatures, not policies: IAM users may do all.
        authorizer=AllowAuthenticated(),
    )


app = make_app()
