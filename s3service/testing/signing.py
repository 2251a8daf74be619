"""Requests signed as S3 clients sign them: by botocore, the AWS SDK for Python's core.

One function, :func:`sign`, signs a request's method, URL, headers and body
with SigV4 or SigV2, in an ``Authorization`` header or presigned in the URL,
and with the payload hash S3 clients send (the body's SHA-256,
``UNSIGNED-PAYLOAD``, or an ``aws-chunked`` streaming body, its chunks signed
in the chain the request's signature seeds).  Nothing goes on the network::

    signed = sign("PUT", "http://s3.example.com/photos/cat.jpg", keys, body=b"...")
    signed.headers      # Authorization, X-Amz-Date, X-Amz-Content-SHA256, ...
    signed.body         # the body to send (aws-chunked for a streaming payload)
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..regions import DEFAULT_REGION
from .chunked import ChunkSigner, crc32_base64, encode_chunked, signing_key
from .sandbox import Keys

__all__ = ["PAYLOADS", "SignedRequest", "sign"]

#: The payload hashes a request may be signed with (``payload=``):
#: ``"signed"`` the body's SHA-256 (what SDKs send over HTTP);
#: ``"unsigned"`` ``UNSIGNED-PAYLOAD``;
#: ``"streaming"`` ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``, an aws-chunked body of signed chunks;
#: ``"streaming-trailer"`` the same with a signed trailing CRC32 checksum;
#: ``"unsigned-trailer"`` ``STREAMING-UNSIGNED-PAYLOAD-TRAILER``, aws-chunked with a CRC32 trailer.
PAYLOADS = {
    "signed": None,
    "unsigned": "UNSIGNED-PAYLOAD",
    "streaming": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "streaming-trailer": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "unsigned-trailer": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
}
CHECKSUM_TRAILER = "x-amz-checksum-crc32"


@dataclass
class SignedRequest:
    """What a client sends: ``method``, ``url`` (with the signature when presigned),
    ``headers`` (name, value pairs) and ``body``."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def _botocore() -> Any:
    try:
        import botocore.auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
    except ImportError as exc:
        raise ImportError("s3service.testing signs with botocore: "
                          "pip install 's3service[testing]'", name=exc.name) from None
    return botocore.auth, AWSRequest, Credentials


def sign(method: str, url: str, keys: Keys, *, body: bytes = b"",
         headers: Mapping[str, str] | None = None, region: str = DEFAULT_REGION,
         signature: str = "v4", presign: bool = False, expires: int = 3600,
         payload: str = "signed", chunk_size: int = 65536,
         auth_path: str | None = None) -> SignedRequest:
    """``method url`` signed with ``keys`` as an S3 client signs it.

    :param url: as sent, percent-encoded (``http://s3.example.com/photos/a%20b``);
        its host (with a port unless the scheme's default) is the ``Host`` signed.
    :param signature: ``"v4"`` (AWS4-HMAC-SHA256) or ``"v2"`` (HMAC-SHA1).
    :param presign: sign the query string (a presigned URL) rather than add
        an ``Authorization`` header; the headers given are still sent.
    :param payload: a key of :data:`PAYLOADS` (SigV4 header signing only, but
        ``"signed"``); a streaming payload sends ``body`` aws-chunked in
        ``chunk_size`` pieces, with ``Content-Encoding: aws-chunked`` and
        ``x-amz-decoded-content-length``.
    :param auth_path: SigV2's resource for a virtual-hosted URL
        (``/photos/cat.jpg`` for ``http://photos.s3.example.com/cat.jpg``).
    """
    auth, AWSRequest, Credentials = _botocore()
    if signature not in ("v2", "v4"):
        raise ValueError(f"signature: expected 'v2' or 'v4'; got {signature!r}")
    if payload not in PAYLOADS:
        raise ValueError(f"payload: expected one of {', '.join(PAYLOADS)}; got {payload!r}")
    if payload != "signed" and (signature == "v2" or presign):
        raise ValueError(f"payload={payload!r} needs SigV4 in an Authorization header")
    mode = PAYLOADS[payload]
    streaming = payload not in ("signed", "unsigned")
    sent_headers = dict(headers or {})
    if streaming:
        sent_headers["Content-Encoding"] = ",".join(
            filter(None, ["aws-chunked", sent_headers.pop("Content-Encoding", "")]))
        sent_headers["x-amz-decoded-content-length"] = str(len(body))
        if payload.endswith("trailer"):
            sent_headers["x-amz-trailer"] = CHECKSUM_TRAILER
    credentials = Credentials(keys.access_key, keys.secret_key, keys.session_token)
    request = AWSRequest(method=method, url=url, data=b"" if streaming else body,
                         headers=sent_headers)
    if auth_path is not None:
        request.auth_path = auth_path
    signer: Any
    if signature == "v2":
        signer = (auth.HmacV1QueryAuth(credentials, expires=expires) if presign
                  else auth.HmacV1Auth(credentials))
    elif presign:
        signer = auth.S3SigV4QueryAuth(credentials, "s3", region, expires=expires)
    elif mode is None:
        signer = auth.S3SigV4Auth(credentials, "s3", region)
    else:
        signer = _FixedPayload(auth.S3SigV4Auth, mode)(credentials, "s3", region)
    signer.add_auth(request)
    if streaming:
        body = _chunked(request.headers, keys, region, payload, body, chunk_size)
        request.headers["Content-Length"] = str(len(body))
    sent = list(sent_headers.items()) if presign else list(request.headers.items())
    return SignedRequest(method, request.url, sent, body)


def _FixedPayload(base: Any, mode: str) -> Any:
    """botocore's S3 SigV4 signer with ``mode`` as the payload hash."""
    return type("FixedPayloadSigV4", (base,), {"payload": lambda self, request: mode})


def _chunked(headers: Any, keys: Keys, region: str, payload: str, body: bytes,
             chunk_size: int) -> bytes:
    trailer = (CHECKSUM_TRAILER, crc32_base64(body)) if payload.endswith("trailer") else None
    signer = None
    if payload.startswith("streaming"):
        amz_date = headers["X-Amz-Date"]
        seed = headers["Authorization"].rsplit("Signature=", 1)[1]
        signer = ChunkSigner(signing_key(keys.secret_key, amz_date[:8], region), amz_date,
                             f"{amz_date[:8]}/{region}/s3/aws4_request", seed)
    return encode_chunked(body, chunk_size, signer, trailer)
