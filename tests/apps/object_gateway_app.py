"""``examples/objectgateway.py`` behind the middleware, for serving with gunicorn.

``gunicorn object_gateway_app:app``; the store is seeded as the echo
gateway's (``S3SERVICE_TEST_SEED``...) and the objects live under
``S3SERVICE_TEST_OBJECTS``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from echo_gateway import load_store

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

from objectgateway import make_app  # noqa: E402

app = make_app(os.environ["S3SERVICE_TEST_OBJECTS"], load_store(os.environ["S3SERVICE_TEST_SEED"]),
               region=os.environ.get("S3SERVICE_TEST_REGION", "us-east-1"))
