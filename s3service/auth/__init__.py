"""Checking AWS request signatures (V2 and V4, in the header or a presigned URL).

The one entry point is :func:`authenticate`::

    identity = authenticate(environ, store, region="us-east-1")  # None if anonymous

:func:`authenticate_request` also gives the seed a signed-chunk body's
signatures chain from (see :mod:`s3service.payload`).
"""
from __future__ import annotations

from .dispatch import Authenticated, authenticate, authenticate_request

__all__ = ["Authenticated", "authenticate", "authenticate_request"]
