"""The two ends of a verified body: the bytes on the wire, and what the gateway reads.

:class:`ExactBody` reads the request's declared length from ``wsgi.input``
and no more (fewer is ``IncompleteBody``); :class:`VerifiedInput` is the
file-like object put in ``environ["wsgi.input"]``: it passes every piece it
reads through the body's checks, and judges them in the read that reaches
the end, before returning that read's bytes.  Neither keeps more than one
read's worth of the body.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from ..errors import IncompleteBody, S3Error
from .checks import Check

__all__ = ["BodySource", "ExactBody", "LineInput", "VerifiedInput"]

#: How much one read of the wire asks for when the caller asks for "all".
PIECE = 64 * 1024


class BodySource(Protocol):
    """The body as a stream of pieces: ``read`` returns ``b""`` only once ``at_end``."""

    at_end: bool

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (at least one unless at the end)."""


class ExactBody:
    """``length`` bytes of a raw input (all of it up to EOF if ``None``).

    Reads of less than :data:`PIECE` bytes and lines (an aws-chunked body's
    framing and its smaller chunks) are served from a read-ahead buffer of
    one piece, so that the raw input sees the same few large reads as a
    gateway reading the body itself: a server's input may copy what it holds
    on every read, however small.
    """

    def __init__(self, raw: Any, length: int | None) -> None:
        self.raw, self.left = raw, length
        self.buffer, self.pos = b"", 0  # read ahead; buffer[pos:] not yet handed out
        self.at_end = length == 0

    def _raw_read(self, size: int) -> bytes:
        if self.left is not None:
            size = min(size, self.left)
            if size <= 0:
                return b""
        data = self.raw.read(size)
        if not data:
            if self.left is not None:
                raise IncompleteBody()
            self.left = 0  # (the end of an input of unknown length)
        elif self.left is not None:
            self.left -= len(data)
        return data

    def _take(self, size: int) -> bytes:
        data = self.buffer[self.pos:self.pos + size]
        self.pos += len(data)
        if self.pos == len(self.buffer):
            self.buffer, self.pos = b"", 0
        self.at_end = not self.buffer and self.left == 0
        return data

    def read(self, size: int) -> bytes:
        if self.at_end or size <= 0:
            return b""
        if not self.buffer:
            if size >= PIECE:
                data = self._raw_read(size)
                self.at_end = self.left == 0
                return data
            self.buffer = self._raw_read(PIECE)
        return self._take(size)

    def readline(self, limit: int) -> bytes:
        """One line of at most ``limit`` bytes (less at the end of the body)."""
        cut = self.buffer.find(b"\n", self.pos, self.pos + limit)
        while cut < 0 and len(self.buffer) - self.pos < limit and self.left != 0:
            more = self._raw_read(PIECE)
            if not more:
                break
            self.buffer, self.pos = self.buffer[self.pos:] + more, 0
            cut = self.buffer.find(b"\n", 0, limit)
        return self._take(limit if cut < 0 else cut + 1 - self.pos)


class LineInput:
    """``readlines()`` and iteration, for a file-like input that has ``readline()``."""

    def readline(self, size: int | None = -1) -> bytes:
        raise NotImplementedError

    def readlines(self, hint: int = -1) -> list[bytes]:
        """The remaining lines (stopping once ``hint`` bytes are read, if given)."""
        lines: list[bytes] = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line


class VerifiedInput(LineInput):
    """A file-like ``wsgi.input`` that checks the body as it is read.

    The read that reaches the end raises the
    :class:`~s3service.errors.S3Error` of the first check that fails, instead
    of returning its bytes; every read after a failure raises it again.
    ``on_verified`` is called once, after every check has passed.
    """

    def __init__(self, source: BodySource, checks: Sequence[Check],
                 on_verified: Callable[[], None] = lambda: None) -> None:
        self.source, self.checks, self.on_verified = source, tuple(checks), on_verified
        self.failure: S3Error | None = None
        self.done = False
        self._pending = b""  # read from the source (and checked) but not yet returned

    def _pull(self, size: int) -> bytes:
        if self.failure is not None:
            raise self.failure
        try:
            data = self.source.read(size)
            for check in self.checks:
                check.update(data)
            if self.source.at_end and not self.done:
                for check in self.checks:
                    check.verify()
                self.done = True
                self.on_verified()
        except S3Error as error:
            self.failure = error
            raise
        return data

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of the body (all that is left if ``size`` is ``-1`` or ``None``)."""
        if size is None or size < 0:
            parts = [self._pending]
            self._pending = b""
            while not self.source.at_end:
                parts.append(self._pull(PIECE))
            if not self.done:  # (an empty body: nothing was pulled)
                self._pull(0)
            return b"".join(parts)
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        if size == 0 and not self.source.at_end:
            return b""
        data = b""
        while not data and not (self.source.at_end and self.done):
            data = self._pull(size)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        """One line (up to and with ``\\n``), of at most ``size`` bytes if given."""
        limit = -1 if size is None else size
        line = b""
        while limit < 0 or len(line) < limit:
            if not self._pending:
                if self.source.at_end and self.done:
                    break
                self._pending = self._pull(PIECE)
                continue
            want = PIECE if limit < 0 else limit - len(line)
            cut = self._pending.find(b"\n", 0, want)
            end = min(want, len(self._pending)) if cut < 0 else cut + 1
            line += self._pending[:end]
            self._pending = self._pending[end:]
            if cut >= 0:
                break
        return line
