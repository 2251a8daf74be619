"""Cross-origin resource sharing as S3 does it: per-bucket rules a browser's requests meet.

A bucket's owner stores a ``CORSConfiguration`` (PutBucketCors; the gateway
parses it with :func:`parse_cors` and keeps it in a
:class:`~s3service.backends.protocols.CORSStore`); the CORS layer
(:mod:`s3service.layers.cors`, the middleware's ``cors=`` parameter) answers
browsers' ``OPTIONS`` preflights from those rules, unauthenticated, and adds the
``Access-Control-*`` headers to the answers of the cross-origin requests a
rule allows.

* :mod:`.rules` -- :class:`CORSRule`, :class:`CORSConfiguration`, matching and headers;
* :mod:`.document` -- the XML of PutBucketCors and GetBucketCors;
* :mod:`.errors` -- ``CORSResponse``, ``BadRequest``, ``NoSuchCORSConfiguration``.
"""
from .document import parse_cors, render_cors, require_integrity
from .errors import BadRequest, CORSResponse, NoSuchCORSConfiguration
from .rules import CORSConfiguration, CORSRule

__all__ = ["BadRequest", "CORSConfiguration", "CORSResponse", "CORSRule",
           "NoSuchCORSConfiguration", "parse_cors", "render_cors", "require_integrity"]
