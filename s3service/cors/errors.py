"""The errors S3 answers about CORS: a refused or malformed preflight, a bucket without rules."""
from __future__ import annotations

from ..errors import error_class

__all__ = ["BadRequest", "CORSResponse", "NoSuchCORSConfiguration"]

#: A preflight the bucket's rules do not allow (or a bucket without any).
CORSResponse = error_class("CORSResponse", 403, "This CORS request is not allowed. This is "
                           "usually because the evalution of Origin, request method / "
                           "Access-Control-Request-Method or Access-Control-Request-Headers "
                           "are not whitelisted by the resource's CORS spec.", __name__)
#: A preflight missing ``Origin`` or ``Access-Control-Request-Method``.
BadRequest = error_class("BadRequest", 400,
                         "Insufficient information. Origin request header needed.", __name__)
#: GetBucketCors on a bucket without a CORS configuration.
NoSuchCORSConfiguration = error_class("NoSuchCORSConfiguration", 404,
                                      "The CORS configuration does not exist", __name__)

#: :class:`CORSResponse`'s message for a bucket without a CORS configuration.
NOT_ENABLED = "CORS is not enabled for this bucket."
