"""``aws-chunked`` bodies: decoded as read, each chunk's signature checked against its chain.

The wire form (``Content-Encoding: aws-chunked``)::

    <size hex>[;chunk-signature=<sig>]\\r\\n <size bytes> \\r\\n   (repeated)
    0[;chunk-signature=<sig>]\\r\\n
    [<trailer name>:<value>\\r\\n ...] [x-amz-trailer-signature:<sig>\\r\\n]
    \\r\\n

Chunk ``n``'s signature signs its data chained to chunk ``n-1``'s (the
request's own signature seeds the chain), and the trailer's signs its
lines chained to the final chunk's (:mod:`s3service.auth.sigv4`).  Data is
handed out as it arrives; a chunk's signature is checked by the read that
ends the chunk, and the final chunk, the trailer and its signature by the
read that ends the data, before it returns.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from ..auth.sigv4 import SeedSignature, chunk_string_to_sign, trailer_string_to_sign
from ..errors import IncompleteBody, InvalidRequest, SignatureDoesNotMatch
from .body import ExactBody

__all__ = ["AwsChunkedBody", "ChunkChain", "TRAILER_SIGNATURE"]

TRAILER_SIGNATURE = "x-amz-trailer-signature"
_SIGNATURE = b"chunk-signature="
#: The longest chunk header or trailer line read (a 64-digit signature fits many times).
MAX_LINE = 4096
MAX_TRAILERS = 16
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _malformed(what: str) -> InvalidRequest:
    return InvalidRequest(f"The aws-chunked body is malformed: {what}.")


class ChunkChain:
    """The running signature chain of one body, checked link by link."""

    def __init__(self, seed: SeedSignature, access_key: str) -> None:
        self.seed, self.access_key = seed, access_key
        self.previous = seed.seed

    def _check(self, string_to_sign: str, provided: str) -> None:
        expected = hmac.digest(self.seed.key, string_to_sign.encode("utf-8"), "sha256").hex()
        if not hmac.compare_digest(expected, provided):
            raise SignatureDoesNotMatch(access_key=self.access_key,
                                        string_to_sign=string_to_sign, provided=provided)
        self.previous = expected

    def check_chunk(self, data_sha256: str, provided: str) -> None:
        """Check one chunk's signature; raises ``SignatureDoesNotMatch``."""
        self._check(chunk_string_to_sign(self.seed.amz_date, self.seed.scope, self.previous,
                                         data_sha256), provided)

    def check_trailer(self, canonical: bytes, provided: str) -> None:
        """Check the trailer's signature over its canonical lines."""
        self._check(trailer_string_to_sign(self.seed.amz_date, self.seed.scope, self.previous,
                                           hashlib.sha256(canonical).hexdigest()), provided)


class AwsChunkedBody:
    """The decoded data of an ``aws-chunked`` body (a :class:`~.body.BodySource`).

    ``chain`` checks chunk (and trailer) signatures; ``None`` for an unsigned
    body, whose chunk headers carry none.  ``trailers`` names the trailer
    headers the request declared (``x-amz-trailer``); ``on_trailer(name,
    value)`` gets each one.  ``decoded_length`` is how many data bytes the
    request declared (``x-amz-decoded-content-length``).
    """

    def __init__(self, raw: ExactBody, *, chain: ChunkChain | None, decoded_length: int,
                 trailers: frozenset[str] = frozenset(),
                 on_trailer: Callable[[str, str], None] = lambda name, value: None) -> None:
        self.raw, self.chain, self.trailers, self.on_trailer = raw, chain, trailers, on_trailer
        self.decoded_left = decoded_length
        self.left = 0           # data bytes left in the current chunk
        self.started = False
        self.at_end = False
        self.signature = ""     # the current chunk's, as sent
        self.hash = hashlib.sha256()

    def read(self, size: int) -> bytes:
        if self.at_end:
            return b""
        if not self.started:
            self.started = True
            self._next_chunk()
            if self.at_end:
                return b""
        if size <= 0:
            return b""
        data = self.raw.read(min(size, self.left))
        if not data:
            raise IncompleteBody()
        if self.chain is not None:
            self.hash.update(data)
        self.left -= len(data)
        if self.left == 0:
            self._end_chunk()
        return data

    def _line(self) -> bytes:
        line = self.raw.readline(MAX_LINE + 2)
        if not line.endswith(b"\r\n"):
            if len(line) >= MAX_LINE + 2:
                raise _malformed("a line is too long")
            raise IncompleteBody()
        return line[:-2]

    def _next_chunk(self) -> None:
        size_text, semicolon, extension = self._line().partition(b";")
        if not size_text or len(size_text) > 16 or not _HEX.issuperset(size_text):
            raise _malformed("a chunk size is not hexadecimal")
        size = int(size_text, 16)
        if self.chain is not None:
            if not extension.startswith(_SIGNATURE):
                raise _malformed("a chunk has no chunk-signature")
            self.signature = extension[len(_SIGNATURE):].decode("ascii", "replace")
        if size > self.decoded_left:
            raise _malformed("the chunks hold more than x-amz-decoded-content-length")
        self.decoded_left -= size
        self.left = size
        self.hash = hashlib.sha256()
        if size == 0:
            self._finish()

    def _end_chunk(self) -> None:
        end = self.raw.read(2)
        if len(end) == 1:
            end += self.raw.read(1)
        if end != b"\r\n":
            raise _malformed("a chunk's data does not end with CRLF")
        if self.chain is not None:
            self.chain.check_chunk(self.hash.hexdigest(), self.signature)
        self._next_chunk()

    def _finish(self) -> None:
        """The final (empty) chunk: check it, read the trailer, and end."""
        if self.decoded_left:
            raise IncompleteBody()
        if self.chain is not None:
            self.chain.check_chunk(self.hash.hexdigest(), self.signature)
        canonical = []
        seen: set[str] = set()
        trailer_signature = None
        for _ in range(MAX_TRAILERS + 2):
            line = self._line()
            if not line:
                break
            name, colon, value = line.decode("utf-8", "replace").partition(":")
            name, value = name.strip().lower(), value.strip()
            if not colon:
                raise _malformed("a trailer line has no colon")
            # Were a second value to win, what was checked and what the gateway keeps could differ.
            if name in seen:
                raise _malformed(f"the trailer {name} is given twice")
            seen.add(name)
            if name == TRAILER_SIGNATURE and self.chain is not None:
                trailer_signature = value
            elif name in self.trailers:
                canonical.append(f"{name}:{value}\n")
                self.on_trailer(name, value)
            else:
                raise InvalidRequest(f"The trailer {name} was not declared in x-amz-trailer.")
        else:
            raise _malformed("too many trailer lines")
        if self.chain is not None and self.trailers:
            if trailer_signature is None:
                raise _malformed("the trailer has no x-amz-trailer-signature")
            self.chain.check_trailer("".join(canonical).encode("utf-8"), trailer_signature)
        if self.raw.read(1):  # (of a body of unknown length, this reads its end)
            raise _malformed("data follows the final chunk")
        self.at_end = True
