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
from typing import Any

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

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

    def chunk(self, data: bytes, data_sha256: str | None = None) -> str:
        """The next chunk's signature (``data_sha256``: its data's hash, if known)."""
        self.previous = _hmac_hex(self.key, "\n".join([
            "AWS4-HMAC-SHA256-PAYLOAD", self.amz_date, self.scope, self.previous, EMPTY,
            data_sha256 or hashlib.sha256(data).hexdigest()]))
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


class StreamingSigV4(botocore.auth.S3SigV4Auth):
    """botocore's S3 signer, for a body sent as aws-chunked (``mode`` is the payload hash)."""

    def __init__(self, *args: Any, mode: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mode = mode

    def payload(self, request: Any) -> str:
        return self.mode


def sign_streaming(method: str, url: str, access_key: str, secret: str, region: str,
                   headers: dict[str, str], mode: str) -> tuple[dict[str, str], ChunkSigner]:
    """The request's headers signed by botocore for ``mode``, and the chain its chunks
    continue (seeded by that signature)."""
    request = AWSRequest(method=method, url=url, headers=headers)
    StreamingSigV4(Credentials(access_key, secret), "s3", region, mode=mode).add_auth(request)
    amz_date = request.headers["X-Amz-Date"]
    seed = request.headers["Authorization"].rsplit("Signature=", 1)[1]
    signer = ChunkSigner(derived_key(secret, amz_date[:8], region), amz_date,
                         f"{amz_date[:8]}/{region}/s3/aws4_request", seed)
    return dict(request.headers.items()), signer


def encoded_length(data_length: int, chunk_size: int, signed: bool) -> int:
    """The length of an aws-chunked body without trailer (as :func:`encode` writes it)."""
    sizes = [chunk_size] * (data_length // chunk_size)
    if data_length % chunk_size:
        sizes.append(data_length % chunk_size)
    extension = len(";chunk-signature=") + 64 if signed else 0
    framing = sum(len(f"{size:x}") + extension + 4 for size in sizes)
    return data_length + framing + 1 + extension + 2 + 2


class RepeatedChunks:
    """A raw ``wsgi.input`` streaming ``count`` signed chunks of the same ``data``,
    made as they are read (so a body of any size costs one chunk of memory)."""

    def __init__(self, data: bytes, count: int, signer: ChunkSigner) -> None:
        self.frames = self._frames(data, count, signer)
        self.buffer = b""

    @staticmethod
    def _frames(data: bytes, count: int, signer: ChunkSigner) -> Iterator[bytes]:
        digest = hashlib.sha256(data).hexdigest()
        for _ in range(count):
            yield f"{len(data):x};chunk-signature={signer.chunk(data, digest)}\r\n".encode()
            yield data
            yield b"\r\n"
        yield f"0;chunk-signature={signer.chunk(b'')}\r\n\r\n".encode()

    def _fill(self) -> bool:
        if not self.buffer:
            self.buffer = next(self.frames, b"")
        return bool(self.buffer)

    def read(self, size: int = -1) -> bytes:
        if not self._fill():
            return b""
        if size < 0:
            size = len(self.buffer)
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out

    def readline(self, limit: int = -1) -> bytes:
        line = b""
        while self._fill() and not line.endswith(b"\n") and (limit < 0 or len(line) < limit):
            cut = self.buffer.find(b"\n")
            end = len(self.buffer) if cut < 0 else cut + 1
            if limit >= 0:
                end = min(end, limit - len(line))
            line += self.buffer[:end]
            self.buffer = self.buffer[end:]
        return line
