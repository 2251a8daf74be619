"""Checking AWS request signatures (V2 and V4, in the header or a presigned URL).

The one entry point is :func:`authenticate`::

    identity = authenticate(environ, store, region="us-east-1")  # None if anonymous

:func:`authenticate_request` also gives the seed a signed-chunk body's
signatures chain from (see :mod:`s3service.payload`).  An
:class:`Authenticator` keeps what both take (the credential store, region,
clock skew, service hosts) with the authorizer, for the middleware's layers.
"""
from __future__ import annotations

from .authenticator import Authenticator
from .dispatch import Authenticated, authenticate, authenticate_request

__all__ = ["Authenticated", "Authenticator", "authenticate", "authenticate_request"]
