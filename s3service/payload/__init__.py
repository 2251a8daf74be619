"""Payload integrity: a request's body checked against what its headers and signature declare.

With ``authenticate_all=True`` the middleware calls :func:`verify_payload`
after the signature check, which replaces ``environ["wsgi.input"]`` with a
:class:`VerifiedInput` that streams the body (constant memory) and checks, as
the gateway reads:

* a hex ``x-amz-content-sha256`` (:class:`~.checks.Sha256Check`);
* ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`` and
  ``STREAMING-UNSIGNED-PAYLOAD-TRAILER``: the ``aws-chunked`` framing, decoded,
  with each chunk's and the trailer's signature (:mod:`.chunked`);
* an ``x-amz-checksum-*`` header or trailer (:mod:`.checksums`);
* ``Content-MD5``.

The read that reaches the end of the body raises the S3 error of a failed
check before returning; the middleware answers it as S3 would if the gateway
lets it propagate.  ``environ["s3service.payload"]`` is the
:class:`PayloadReport`: what is checked, and (``verified``) whether it all
held.
"""
from __future__ import annotations

from .body import ExactBody, VerifiedInput
from .request import PAYLOAD_KEY, PayloadReport, verify_payload

__all__ = ["ExactBody", "PAYLOAD_KEY", "PayloadReport", "VerifiedInput", "verify_payload"]
