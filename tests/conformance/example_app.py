"""``examples/objectgateway.py`` for gunicorn, on the store the runner made with the CLI.

``S3TESTS_DB`` names the store (an SQLAlchemy URL), ``S3TESTS_OBJECTS`` the
directory of objects; every worker opens the same store.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from s3service.backends.sql import SQLBackend

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

from objectgateway import make_app  # noqa: E402

app = make_app(os.environ["S3TESTS_OBJECTS"], SQLBackend(os.environ["S3TESTS_DB"]))
