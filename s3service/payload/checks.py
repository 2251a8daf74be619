"""What a body must hash to: each check is fed the body's bytes, then judged once at its end.

A check whose expected value arrives only after the body (a trailing
checksum) is given it with :meth:`ChecksumCheck.expect` before
:meth:`verify`.
"""
from __future__ import annotations

import base64
import hashlib
from typing import Protocol

from ..errors import BadDigest, InvalidRequest, XAmzContentSHA256Mismatch
from .checksums import new_checksum

__all__ = ["Check", "ChecksumCheck", "Md5Check", "Sha256Check", "check_sha256"]


class Check(Protocol):
    """One property of the body: ``update`` with every piece, ``verify`` at the end
    (raises the :class:`~s3service.errors.S3Error` S3 answers when it does not hold)."""

    def update(self, data: bytes) -> None:
        """Take the next piece of the body."""

    def verify(self) -> None:
        """Check the whole body; raise if it is not what was declared."""


class Sha256Check:
    """``x-amz-content-sha256``: the body's SHA-256 in hex."""

    def __init__(self, expected_hex: str) -> None:
        self.expected = expected_hex.lower()
        self.hash = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self.hash.update(data)

    def verify(self) -> None:
        check_sha256(self.expected, self.hash.hexdigest())


def check_sha256(expected_hex: str, computed_hex: str) -> None:
    """Raise ``XAmzContentSHA256Mismatch`` unless the declared hex SHA-256 is the computed one."""
    expected = expected_hex.lower()
    if computed_hex != expected:
        raise XAmzContentSHA256Mismatch(ClientComputedContentSHA256=expected,
                                        S3ComputedContentSHA256=computed_hex)


class Md5Check:
    """``Content-MD5``: the body's MD5, base64-encoded (already checked to be 16 bytes)."""

    def __init__(self, expected: bytes) -> None:
        self.expected = expected
        self.hash = hashlib.md5()

    def update(self, data: bytes) -> None:
        self.hash.update(data)

    def verify(self) -> None:
        computed = self.hash.digest()
        if computed != self.expected:
            raise BadDigest(ExpectedDigest=base64.b64encode(self.expected).decode("ascii"),
                            CalculatedDigest=base64.b64encode(computed).decode("ascii"))


class ChecksumCheck:
    """An ``x-amz-checksum-<algorithm>`` value, sent as a header or a trailer.

    ``value`` is the base64 text once known, which :attr:`verified` repeats
    after a successful :meth:`verify`.
    """

    def __init__(self, algorithm: str, expected: bytes | None = None,
                 value: str | None = None) -> None:
        self.algorithm = algorithm
        self.expected, self.value = expected, value
        self.checksum = new_checksum(algorithm)
        self.verified = False

    def expect(self, expected: bytes, value: str) -> None:
        """The expected digest (and its text), as the trailer gave it."""
        self.expected, self.value = expected, value

    def update(self, data: bytes) -> None:
        self.checksum.update(data)

    def verify(self) -> None:
        if self.expected is None:
            raise InvalidRequest(f"The trailer x-amz-checksum-{self.algorithm.lower()} was "
                                 "declared but not sent.")
        if self.checksum.digest() != self.expected:
            raise BadDigest(f"The {self.algorithm} you specified did not match the calculated "
                            "checksum.")
        self.verified = True
