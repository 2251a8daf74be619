"""Making a SigV4 presigned URL, as an SDK's ``generate_presigned_url`` does.

For tools and demos that have no SDK at hand: anything that can fetch a URL
can then call the service::

    url = presign("GET", "http://127.0.0.1:8000/", "AKIDEXAMPLE", "secret",
                  region="us-east-1", expires=3600)
"""
from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

from .common import uri_encode_path
from .sigv4 import (ALGORITHM, UNSIGNED_PAYLOAD, canonical_query, canonical_request, signature,
                    signing_key, string_to_sign)

__all__ = ["presign"]


def presign(method: str, url: str, access_key: str, secret_key: str, *, region: str,
            expires: int = 3600, now: float | None = None) -> str:
    """``url`` with the query parameters of a SigV4 presigned request, valid ``expires`` seconds.

    Only the ``Host`` header is signed; the payload is ``UNSIGNED-PAYLOAD``.
    ``url`` must not have a query string of its own.
    """
    parts = urlsplit(url)
    if parts.query:
        raise ValueError("presign() takes a URL without a query string")
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    query = [("X-Amz-Algorithm", ALGORITHM), ("X-Amz-Credential", f"{access_key}/{scope}"),
             ("X-Amz-Date", amz_date), ("X-Amz-Expires", str(int(expires))),
             ("X-Amz-SignedHeaders", "host")]
    path = unquote(parts.path or "/")
    request = canonical_request(method, path, query, {"host": parts.netloc}, ["host"],
                                UNSIGNED_PAYLOAD)
    key = signing_key(secret_key, amz_date[:8], region, "s3")
    query.append(("X-Amz-Signature", signature(key, string_to_sign(amz_date, scope, request))))
    return f"{parts.scheme}://{parts.netloc}{uri_encode_path(path)}?{canonical_query(query)}"
