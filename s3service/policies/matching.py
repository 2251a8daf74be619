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

from .errors import PolicyError

LITERAL = "\x00"


class Glob:
    """A policy pattern, compiled: :meth:`fullmatch` tells whether a whole value matches.

    Compiling is cheap (a run without ``?`` is kept as text and found with
    ``str.find``), so that patterns are compiled with what holds them (a
    parsed policy) rather than kept in a cache that every tenant shares.
    """

    __slots__ = ("pattern", "_runs", "_starred")

    def __init__(self, pattern: str, ignore_case: bool = False) -> None:
        self.pattern = pattern
        runs: list[list[str | None]] = [[]]     # None: "?"
        literal = False
        for char in pattern:
            if literal:
                runs[-1].append(char)
                literal = False
            elif char == LITERAL:
                literal = True
            elif char == "*":
                runs.append([])
            elif char == "?":
                runs[-1].append(None)
            else:
                runs[-1].append(char)
        self._runs = tuple((_compile_run(run, ignore_case), len(run)) for run in runs)
        self._starred = len(runs) > 1

    def fullmatch(self, value: str) -> bool:
        """Whether ``value`` as a whole matches the pattern."""
        runs = self._runs
        first, first_length = runs[0]
        if not self._starred:
            return len(value) == first_length and _at(first, value, 0)
        last, last_length = runs[-1]
        end = len(value) - last_length
        if end < first_length or not _at(first, value, 0) or not _at(last, value, end):
            return False
        position = first_length
        for run, length in runs[1:-1]:
            if isinstance(run, str):
                found = value.find(run, position, end)
                if found < 0:
                    return False
                position = found + length
            else:
                match = run.search(value, position, end)
                if match is None:
                    return False
                position = match.end()
        return True

    matches = fullmatch     # (as ArnPattern's: conditions hold either)

    def __repr__(self) -> str:
        return f"Glob({self.pattern!r})"


def _compile_run(run: list[str | None], ignore_case: bool) -> "str | re.Pattern[str]":
    # Either way it matches exactly len(run) characters, in time linear in its length.
    if not ignore_case and None not in run:
        return "".join(run)                                      # type: ignore[arg-type]
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join("." if char is None else re.escape(char) for char in run), flags)


def _at(run: "str | re.Pattern[str]", value: str, position: int) -> bool:
    if isinstance(run, str):
        return value.startswith(run, position)
    return run.match(value, position) is not None


class ArnPattern:
    """A ``Resource`` (or ``ArnLike``) pattern, compiled: ``*`` or six colon-separated globs.

    As IAM does, each of the six parts is matched on its own (a ``*`` does not
    run across them), except that the last part, the resource itself, may
    hold colons.
    """

    __slots__ = ("pattern", "_parts")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._parts: tuple[Glob, ...] | None = None
        if pattern != "*":
            parts = pattern.split(":", 5)
            self._parts = tuple(Glob(part) for part in parts) if len(parts) == 6 else ()

    def matches(self, arn: str) -> bool:
        """Whether the ARN ``arn`` matches."""
        return self.matches_parts(arn.split(":", 5))

    def matches_parts(self, have: list[str]) -> bool:
        """Whether the ARN split as ``arn.split(":", 5)`` matches (split once for many patterns)."""
        parts = self._parts
        if parts is None:
            return True
        if len(parts) != 6 or len(have) != 6:
            return False
        return all(part.fullmatch(value) for part, value in zip(parts, have))

    def __repr__(self) -> str:
        return f"ArnPattern({self.pattern!r})"


#: What :func:`compile_action` gives: a compiled ``Action`` pattern.
Pattern = Glob


def wildcard(pattern: str, ignore_case: bool = False) -> Glob:
    """The compiled form of the policy pattern ``pattern``."""
    return Glob(pattern, ignore_case)


def matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches the policy pattern ``pattern`` as a whole."""
    return Glob(pattern, ignore_case).fullmatch(value)


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
    """Whether the ARN ``arn`` matches the ``Resource`` pattern ``pattern`` (see :class:`ArnPattern`)."""
    return ArnPattern(pattern).matches(arn)
