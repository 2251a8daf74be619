"""``aws-chunked`` bodies as an S3 client writes them: signed chunks, or unsigned with a
trailing checksum.

Written from the S3 documentation's description of the format, apart from
:mod:`s3service.payload`, which decodes and checks such bodies.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import zlib

__all__ = ["ChunkSigner", "encode_chunked", "signing_key"]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    """SigV4's derived key for ``date`` (``YYYYMMDD``), ``region`` and ``service``."""
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def crc32_base64(data: bytes) -> str:
    """``data``'s CRC32 as S3's ``x-amz-checksum-crc32`` gives it (base64 of 4 bytes)."""
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode("ascii")


class ChunkSigner:
    """The chain of chunk signatures continuing a request's own (seed) signature."""

    def __init__(self, key: bytes, amz_date: str, scope: str, seed: str) -> None:
        self.key, self.amz_date, self.scope, self.previous = key, amz_date, scope, seed

    def chunk(self, data: bytes) -> str:
        """The signature of the next chunk, ``data``."""
        self.previous = hmac.new(self.key, "\n".join([
            "AWS4-HMAC-SHA256-PAYLOAD", self.amz_date, self.scope, self.previous,
            EMPTY_SHA256, hashlib.sha256(data).hexdigest()]).encode("utf-8"),
            hashlib.sha256).hexdigest()
        return self.previous

    def trailer(self, lines: str) -> str:
        """The signature of the trailer ``lines`` (each ending in ``\\n``)."""
        self.previous = hmac.new(self.key, "\n".join([
            "AWS4-HMAC-SHA256-TRAILER", self.amz_date, self.scope, self.previous,
            hashlib.sha256(lines.encode("utf-8")).hexdigest()]).encode("utf-8"),
            hashlib.sha256).hexdigest()
        return self.previous


def encode_chunked(data: bytes, chunk_size: int = 65536, signer: ChunkSigner | None = None,
                   trailer: tuple[str, str] | None = None) -> bytes:
    """``data`` framed as an ``aws-chunked`` body.

    With ``signer`` each chunk carries its ``chunk-signature``; ``trailer``
    (``(name, value)``, e.g. ``("x-amz-checksum-crc32", crc32_base64(data))``)
    is sent after the last chunk, signed when ``signer`` is given.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size: expected a positive number of bytes")
    pieces = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)]
    out: list[bytes] = []
    for piece in [*pieces, b""]:
        head = f"{len(piece):x}"
        if signer is not None:
            head += ";chunk-signature=" + signer.chunk(piece)
        out.append(head.encode("ascii") + b"\r\n" + piece + (b"\r\n" if piece else b""))
    if trailer is not None:
        line = f"{trailer[0]}:{trailer[1]}"
        out.append(line.encode("ascii") + b"\r\n")
        if signer is not None:
            out.append(f"x-amz-trailer-signature:{signer.trailer(line + chr(10))}\r\n"
                       .encode("ascii"))
    out.append(b"\r\n")
    return b"".join(out)
