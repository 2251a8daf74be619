"""Wildcard patterns of policies: ``*`` (any run of characters) and ``?`` (any one).

A pattern made by substituting policy variables marks the characters that
came from a value as literal by putting :data:`LITERAL` (NUL, which no
document may hold) before each ``*``, ``?`` or NUL of it.

Actions match case-insensitively (``s3:listallmybuckets`` is
``s3:ListAllMyBuckets``); ARNs and string conditions match case-sensitively.
"""
from __future__ import annotations

import re
from functools import lru_cache

from .errors import PolicyError

Pattern = re.Pattern[str]
LITERAL = "\x00"


@lru_cache(maxsize=4096)
def wildcard(pattern: str, ignore_case: bool = False) -> Pattern:
    """A regular expression matching whole strings like the policy pattern ``pattern``."""
    parts = []
    literal = False
    for char in pattern:
        if literal:
            parts.append(re.escape(char))
            literal = False
        elif char == LITERAL:
            literal = True
        elif char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches the policy pattern ``pattern`` as a whole."""
    return wildcard(pattern, ignore_case).fullmatch(value) is not None


def compile_action(action: str, line: int) -> Pattern:
    """An ``Action`` entry (``*`` or ``service:name``, wildcards allowed) as a pattern."""

    if action != "*":
        service, colon, name = action.partition(":")
        if not colon or not service or not name:
            raise PolicyError(line, f"action {action!r} is not \"service:action\" or \"*\"")
    return wildcard(action, True)


def compile_resource(resource: str, line: int) -> None:
    """Check a ``Resource`` entry: ``*`` or an ARN (``arn:partition:service:...``)."""

    if resource == "*":
        return
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        raise PolicyError(line, f"resource {resource!r} is not an ARN (arn:aws:s3:::NAME) or \"*\"")


def resource_matches(pattern: str, arn: str) -> bool:
    """Whether the ARN ``arn`` matches the ``Resource`` pattern ``pattern``.

    As IAM does, each of the six colon-separated parts is matched on its own
    (a ``*`` does not run across them), except that the last part, the
    resource itself, may hold colons.
    """
    if pattern == "*":
        return True
    wanted = pattern.split(":", 5)
    have = arn.split(":", 5)
    if len(wanted) != 6 or len(have) != 6:
        return False
    return all(matches(w, h) for w, h in zip(wanted, have))
