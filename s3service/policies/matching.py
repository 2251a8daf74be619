"""Wildcard patterns of policies: ``*`` (any run of characters) and ``?`` (any one).

A pattern made by substituting policy variables marks the characters that
came from a value as literal by putting :data:`LITERAL` (NUL, which no
document may hold) before each ``*``, ``?`` or NUL of it.

Actions match case-insensitively (``s3:listallmybuckets`` is
``s3:ListAllMyBuckets``); ARNs and string conditions match case-sensitively.

A value is matched in time proportional to its length times the pattern's,
whatever the two hold: the request's bucket, key or prefix is the caller's to
choose, and a backtracking matcher (``*`` as ``.*`` in a regular expression)
takes time exponential in the number of stars on a value crafted against them.
Between the stars, a pattern is a run of characters and ``?`` that matches
exactly as many characters as it is long; so the first run must match at the
start, the last at the end, and each one between at the leftmost place it
fits after the one before: a later place could only leave less room for the
rest.
"""
from __future__ import annotations

import re
from functools import lru_cache

from .errors import PolicyError

LITERAL = "\x00"


class Glob:
    """A policy pattern, compiled: :meth:`fullmatch` tells whether a whole value matches."""

    __slots__ = ("pattern", "_runs", "_starred")

    def __init__(self, pattern: str, ignore_case: bool = False) -> None:
        self.pattern = pattern
        flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
        runs: list[list[str]] = [[]]
        literal = False
        for char in pattern:
            if literal:
                runs[-1].append(re.escape(char))
                literal = False
            elif char == LITERAL:
                literal = True
            elif char == "*":
                runs.append([])
            elif char == "?":
                runs[-1].append(".")
            else:
                runs[-1].append(re.escape(char))
        # Each run is a regular expression without repetition: it matches in time
        # linear in its length, and always exactly len(run) characters.
        self._runs = [(re.compile("".join(run), flags), len(run)) for run in runs]
        self._starred = len(runs) > 1

    def fullmatch(self, value: str) -> bool:
        """Whether ``value`` as a whole matches the pattern."""
        runs = self._runs
        first, first_length = runs[0]
        if not self._starred:
            return len(value) == first_length and first.match(value) is not None
        last, last_length = runs[-1]
        end = len(value) - last_length
        if end < first_length or first.match(value) is None or last.match(value, end) is None:
            return False
        position = first_length
        for run, _ in runs[1:-1]:
            found = run.search(value, position, end)
            if found is None:
                return False
            position = found.end()
        return True

    def __repr__(self) -> str:
        return f"Glob({self.pattern!r})"


#: What :func:`compile_action` gives: a compiled ``Action`` pattern.
Pattern = Glob


@lru_cache(maxsize=4096)
def wildcard(pattern: str, ignore_case: bool = False) -> Glob:
    """The compiled form of the policy pattern ``pattern``."""
    return Glob(pattern, ignore_case)


def matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches the policy pattern ``pattern`` as a whole."""
    return wildcard(pattern, ignore_case).fullmatch(value)


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
