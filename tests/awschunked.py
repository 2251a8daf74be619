"""Test helper: ``aws-chunked`` bodies as a client writes them (signed or not, with a trailer).

Written from the S3 documentation's description of the format, independently
of :mod:`s3service.payload`, whose decoder these bodies test.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import zlib
from collections.abc import Iterator

EMPTY = hashlib.sha256(b"").hexdigest()


def _hmac_hex(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def derived_key(secret: str, date: str, region: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


class ChunkSigner:
    """The chain of chunk signatures from a request's seed signature."""

    def __init__(self, key: bytes, amz_date: str, scope: str, seed: str) -> None:
        self.key, self.amz_date, self.scope, self.previous = key, amz_date, scope, seed

    def chunk(self, data: bytes) -> str:
        self.previous = _hmac_hex(self.key, "\n".join([
            "AWS4-HMAC-SHA256-PAYLOAD", self.amz_date, self.scope, self.previous, EMPTY,
            hashlib.sha256(data).hexdigest()]))
        return self.previous

    def trailer(self, lines: str) -> str:
        self.previous = _hmac_hex(self.key, "\n".join([
            "AWS4-HMAC-SHA256-TRAILER", self.amz_date, self.scope, self.previous,
            hashlib.sha256(lines.encode()).hexdigest()]))
        return self.previous


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def encode(data: bytes, chunk_size: int, signer: ChunkSigner | None = None,
           trailer: tuple[str, str] | None = None) -> bytes:
    """``data`` as an aws-chunked body; ``trailer`` is ``(name, value)``."""
    out = []
    for piece in [*pieces(data, chunk_size), b""]:
        head = f"{len(piece):x}"
        if signer is not None:
            head += ";chunk-signature=" + signer.chunk(piece)
        out.append(head.encode() + b"\r\n" + piece + (b"\r\n" if piece else b""))
    if trailer is not None:
        line = f"{trailer[0]}:{trailer[1]}"
        out.append(line.encode() + b"\r\n")
        if signer is not None:
            out.append(f"x-amz-trailer-signature:{signer.trailer(line + chr(10))}\r\n".encode())
    out.append(b"\r\n")
    return b"".join(out)
