"""Checking AWS request signatures (V2 and V4, in the header or a presigned URL).

The one entry point is :func:`authenticate`::

    identity = authenticate(environ, store, region="us-east-1")  # None if anonymous
"""
from __future__ import annotations

from .dispatch import authenticate

__all__ = ["authenticate"]
