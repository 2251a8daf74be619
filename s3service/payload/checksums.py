"""The flexible checksums S3 accepts (``x-amz-checksum-<algorithm>``), computed as data streams.

CRC32, SHA-1 and SHA-256 come from the standard library; CRC32C and CRC64NVME
from ``awscrt`` (the ``checksums`` extra), which botocore itself uses for them.
Values travel base64-encoded, the CRCs as big-endian integers.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable
from typing import Protocol

from ..errors import InvalidRequest, NotImplemented_

__all__ = ["ALGORITHMS", "Checksum", "HEADER_PREFIX", "algorithm_of_header", "decode_value",
           "new_checksum"]

HEADER_PREFIX = "x-amz-checksum-"
#: Each algorithm's name as S3 writes it, by the lowercase suffix of its header.
ALGORITHMS = {"crc32": "CRC32", "crc32c": "CRC32C", "crc64nvme": "CRC64NVME", "sha1": "SHA1",
              "sha256": "SHA256"}
_DIGEST_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}


class Checksum(Protocol):
    """A running checksum: ``update`` with each piece of data, then ``digest`` once."""

    def update(self, data: bytes) -> None:
        """Add ``data`` to what the checksum covers."""

    def digest(self) -> bytes:
        """The checksum of all data so far, as S3 encodes it before base64."""


class _Crc:
    """A CRC kept as an integer, for ``function(data, previous) -> int``."""

    def __init__(self, function: Callable[[bytes, int], int], size: int) -> None:
        self.function, self.size, self.value = function, size, 0

    def update(self, data: bytes) -> None:
        self.value = self.function(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(self.size, "big")


def _awscrt(name: str) -> Callable[[bytes, int], int]:
    try:
        from awscrt import checksums
    except ImportError:  # the optional extra is not installed
        raise NotImplemented_(f"This server cannot compute {ALGORITHMS[name]} checksums "
                              "(install s3service[checksums]).") from None
    return getattr(checksums, name)


def new_checksum(algorithm: str) -> Checksum:
    """A new running checksum for ``algorithm`` (``"CRC32"``... as in :data:`ALGORITHMS`)."""
    if algorithm == "CRC32":
        return _Crc(zlib.crc32, 4)
    if algorithm in ("CRC32C", "CRC64NVME"):
        return _Crc(_awscrt(algorithm.lower()), _DIGEST_SIZES[algorithm])
    if algorithm == "SHA1":
        return hashlib.sha1()
    if algorithm == "SHA256":
        return hashlib.sha256()
    raise InvalidRequest(f"Checksum algorithm {algorithm} is not supported.")


def algorithm_of_header(name: str) -> str | None:
    """The algorithm a header (lowercase ``x-amz-checksum-crc32``...) carries, else ``None``."""
    if not name.startswith(HEADER_PREFIX):
        return None
    return ALGORITHMS.get(name[len(HEADER_PREFIX):])


def decode_value(algorithm: str, value: str, where: str) -> bytes:
    """The digest a base64 checksum ``value`` stands for; ``InvalidRequest`` naming
    ``where`` it came from if it is not one."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _DIGEST_SIZES[algorithm]:
        raise InvalidRequest(f"Value for {where} header is invalid.")
    return raw
