"""Asking an endpoint for ListMetrics over HTTP, signed with SigV4 -- no SDK needed.

The request is ``POST /?Action=ListMetrics&Version=20160815`` with a JSON
body, signed for the service named ``s3`` (not ``utapi``: the endpoint is the
S3 endpoint) in the endpoint's region::

    answer = list_metrics("http://127.0.0.1:8000", {"timeRange": [start, end],
                          "accounts": ["79a59df9..."]}, access_key="AKIA...",
                          secret_key="...", region="us-east-1")

:class:`MetricsRequestError` carries the endpoint's ``{"code", "message"}``
answer when it refuses.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from ..auth.sigv4 import ALGORITHM, canonical_request, signature, signing_key, string_to_sign

__all__ = ["MetricsRequestError", "QUERY", "SIGNING_SERVICE", "list_metrics", "signed_headers"]

#: The service name a ListMetrics request is signed for.
SIGNING_SERVICE = "s3"
#: ListMetrics' query parameters.
QUERY = (("Action", "ListMetrics"), ("Version", "20160815"))


class MetricsRequestError(Exception):
    """The endpoint refused the request (``status``, and its error ``code`` and ``message``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.status, self.code, self.message = status, code, message


def signed_headers(host: str, query: tuple[tuple[str, str], ...], body: bytes, *,
                   access_key: str, secret_key: str, region: str,
                   session_token: str | None = None, now: float | None = None
                   ) -> dict[str, str]:
    """The headers of a SigV4-signed ``POST /`` to ``host`` with ``query`` and ``body``."""
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
    if session_token:
        headers["x-amz-security-token"] = session_token
    names = sorted(headers)
    scope = f"{amz_date[:8]}/{region}/{SIGNING_SERVICE}/aws4_request"
    request = canonical_request("POST", "/", query, headers, names, payload)
    key = signing_key(secret_key, amz_date[:8], region, SIGNING_SERVICE)
    headers["authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature(key, string_to_sign(amz_date, scope, request))}")
    headers["content-type"] = "application/json"
    return headers


def list_metrics(endpoint: str, request: dict[str, Any], *, access_key: str, secret_key: str,
                 region: str, session_token: str | None = None, timeout: float = 30.0,
                 verify: bool = True) -> list[dict[str, Any]]:
    """ListMetrics' answer (one object per entity) for ``request`` (its JSON body).

    ``endpoint``: ``http(s)://host[:port]``.  Raises :class:`MetricsRequestError`
    when the endpoint refuses, :class:`OSError` when it cannot be reached.
    """
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) endpoint URL: {endpoint!r}")
    body = json.dumps(request, separators=(",", ":")).encode("utf-8")
    headers = signed_headers(parts.netloc, QUERY, body, access_key=access_key,
                             secret_key=secret_key, region=region,
                             session_token=session_token)
    if parts.scheme == "https":
        context = ssl.create_default_context() if verify else ssl._create_unverified_context()
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", "/?" + "&".join(f"{k}={v}" for k, v in QUERY), body=body,
                     headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    try:
        answer = json.loads(data)
    except ValueError:
        answer = None
    if response.status != 200:
        if isinstance(answer, dict):
            raise MetricsRequestError(response.status, str(answer.get("code", "")),
                                      str(answer.get("message", "")))
        raise MetricsRequestError(response.status, "",
                                  f"HTTP {response.status} {response.reason}")
    if not isinstance(answer, list):
        raise MetricsRequestError(response.status, "", "the answer is not ListMetrics' JSON")
    return answer
