"""Raw HTTP for the integration tests: botocore-signed requests (``signing``) sent byte for byte.

``http.client`` is driven with ``putrequest``/``putheader`` so that exactly the
headers given are sent (no implicit ``Host``, ``Accept-Encoding`` or
``Content-Length``), which lets a test send malformed or extra headers.
"""
from __future__ import annotations

import hashlib
import http.client
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import defusedxml.ElementTree as SafeET
from tests.helpers.signing import presigned_url, signed_headers

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    _xml: object = field(default=None, repr=False)

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def xml(self):
        if self._xml is None:
            self._xml = SafeET.fromstring(self.body)
        return self._xml

    def error(self) -> dict[str, str]:
        """The children of an ``<Error>`` document, as ``{tag: text}`` (text ``""`` if empty)."""
        root = self.xml
        assert root.tag == "Error", f"not an Error document: {self.body[:300]!r}"
        out: dict[str, str] = {}
        for child in root:
            assert len(child) == 0, f"<{child.tag}> has children"
            assert child.tag not in out, f"<{child.tag}> appears twice"
            out[child.tag] = child.text or ""
        return out


def send(base_url: str, method: str, target: str, headers=(), body: bytes = b"",
         timeout: float = 10.0) -> Response:
    """Send exactly ``method target`` with ``headers`` (name, value pairs) to ``base_url``."""
    parts = urlsplit(base_url)
    assert parts.hostname == "127.0.0.1", "integration traffic goes to 127.0.0.1 only"
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        items = headers.items() if hasattr(headers, "items") else headers
        for name, value in items:
            conn.putheader(name, value)
        conn.endheaders(body if body else None)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.reason, list(resp.getheaders()), data)
    finally:
        conn.close()


def _target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + ("?" + parts.query if parts.query else "")


def _epoch(when: datetime | None) -> float | None:
    return None if when is None else when.timestamp()


def _signed(version: str, method: str, url: str, access_key: str, secret_key: str, *,
            token: str | None, headers, body: bytes, when: datetime | None, host: str | None,
            **options) -> list[tuple[str, str]]:
    """The signed request's headers, with ``Host`` (``host`` or the URL's) and Content-Length."""
    out = signed_headers(method, url, access_key, secret_key, version=version,
                         headers={"Host": host or urlsplit(url).netloc, **dict(headers)},
                         body=body, session_token=token, at=_epoch(when), **options)
    if body:
        out.append(("Content-Length", str(len(body))))
    return out


def sign_v4(method: str, url: str, access_key: str, secret_key: str, *, token: str | None = None,
            region: str = "us-east-1", headers=(), body: bytes = b"",
            when: datetime | None = None, host: str | None = None) -> list[tuple[str, str]]:
    """Headers of a SigV4 (header auth) request, as botocore's S3 signer makes them."""
    return _signed("v4", method, url, access_key, secret_key, token=token, region=region,
                   headers=headers, body=body, when=when, host=host)


def sign_v2(method: str, url: str, access_key: str, secret_key: str, *, token: str | None = None,
            headers=(), body: bytes = b"", when: datetime | None = None,
            host: str | None = None) -> list[tuple[str, str]]:
    """Headers of a SigV2 (``Authorization: AWS key:sig``) request."""
    return _signed("v2", method, url, access_key, secret_key, token=token, headers=headers,
                   body=body, when=when, host=host)


def presign_v4(url: str, access_key: str, secret_key: str, *, expires: int = 300,
               token: str | None = None, region: str = "us-east-1",
               when: datetime | None = None, method: str = "GET") -> str:
    """A SigV4 presigned URL (query auth) for ``url``."""
    return presigned_url(method, url, access_key, secret_key, version="v4", expires=expires,
                         session_token=token, region=region, at=_epoch(when),
                         headers={"Host": urlsplit(url).netloc})


def presign_v2(url: str, access_key: str, secret_key: str, *, expires: int = 300,
               token: str | None = None, method: str = "GET") -> str:
    """A SigV2 presigned URL; ``Expires`` is now + ``expires`` (negative: already expired)."""
    return presigned_url(method, url, access_key, secret_key, version="v2", expires=expires,
                         session_token=token)


def target_of(url: str) -> str:
    """The request target (path and query) of a full URL."""
    return _target(url)
