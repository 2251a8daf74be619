"""S3's rules for bucket names (general purpose buckets).

Example::

    from s3service.bucketnames import validate_bucket_name
    from s3service.errors import InvalidBucketName

    validate_bucket_name("photos-2024")          # fine: returns None
    try:
        validate_bucket_name("My_Bucket")
    except InvalidBucketName as exc:
        print(exc.reason)                        # "... lowercase letters ..."

The error carries S3's own message (what a client sees in the ``<Error>``
document) and, in ``reason``, which rule the name broke (for humans: the CLI
prints it).
"""
from __future__ import annotations

import re

from .errors import InvalidBucketName

MIN_LENGTH = 3
MAX_LENGTH = 63

# Reserved by S3 for its own features (IDNs, access points, Multi-Region
# Access Points, directory buckets, S3 Tables, documentation examples).
RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

_ALLOWED = re.compile(r"[a-z0-9.\-]+")
_IP_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def bucket_name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid bucket name, or ``None`` when it is."""
    if not isinstance(name, str):
        return "Bucket name must be a string"
    if not MIN_LENGTH <= len(name) <= MAX_LENGTH:
        return f"Bucket name must be between {MIN_LENGTH} and {MAX_LENGTH} characters long"
    if not name.isascii() or _ALLOWED.fullmatch(name) is None:
        return ("Bucket name can contain only lowercase letters, digits, dots (.) "
                "and hyphens (-)")
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "Bucket name must begin and end with a letter or a digit"
    if ".." in name:
        return "Bucket name must not contain two adjacent dots"
    if _IP_ADDRESS.fullmatch(name):
        return "Bucket name must not be formatted as an IP address"
    for prefix in RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"Bucket name must not start with the reserved prefix {prefix!r}"
    for suffix in RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"Bucket name must not end with the reserved suffix {suffix!r}"
    return None


def is_valid_bucket_name(name: object) -> bool:
    return bucket_name_problem(name) is None


def validate_bucket_name(name: object) -> None:
    """Raise :class:`~s3service.errors.InvalidBucketName` unless ``name`` follows S3's rules."""
    problem = bucket_name_problem(name)
    if problem is not None:
        error = InvalidBucketName(BucketName=name if isinstance(name, str) else repr(name))
        error.reason = problem  # type: ignore[attr-defined]
        raise error
