"""A bucket's CORS rules, and which of them lets a cross-origin request through.

Pure values and functions: :class:`CORSRule` and :class:`CORSConfiguration`
(what PutBucketCors stores), :meth:`CORSConfiguration.match` (S3's first
matching rule) and the response headers a matching rule gives
(:func:`preflight_headers`, :func:`actual_headers`).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ALLOWED_METHODS", "CORSConfiguration", "CORSRule", "VARY", "actual_headers",
           "preflight_headers", "wildcard_match"]

#: The only methods a CORS rule may allow (S3 refuses any other in PutBucketCors).
ALLOWED_METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")

#: What S3 says an answer to a cross-origin request varies by.
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


def wildcard_match(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern``, in which one ``*`` stands for any characters."""
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == text
    return (len(text) >= len(head) + len(tail) and text.startswith(head)
            and text.endswith(tail))


@dataclass(frozen=True)
class CORSRule:
    """One ``<CORSRule>``: which origins may send which methods, with which headers."""

    allowed_methods: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None

    def origin_pattern(self, origin: str) -> str | None:
        """The first of the rule's origins ``origin`` matches, or ``None``."""
        for pattern in self.allowed_origins:
            if wildcard_match(pattern, origin):
                return pattern
        return None

    def allows_headers(self, headers: Sequence[str]) -> bool:
        """Whether every one of ``headers`` (as a preflight lists them) is allowed."""
        patterns = [pattern.lower() for pattern in self.allowed_headers]
        return all(any(wildcard_match(pattern, name.lower()) for pattern in patterns)
                   for name in headers)


@dataclass(frozen=True)
class CORSConfiguration:
    """A bucket's CORS configuration: its rules, in the order they are tried."""

    rules: tuple[CORSRule, ...]

    def match(self, origin: str, method: str, headers: Sequence[str] = ()
              ) -> tuple[CORSRule, str] | None:
        """The first rule allowing ``origin`` to send ``method`` with ``headers``, and the
        origin pattern that matched (``*``: any origin); ``None`` if no rule does."""
        for rule in self.rules:
            if method not in rule.allowed_methods or not rule.allows_headers(headers):
                continue
            pattern = rule.origin_pattern(origin)
            if pattern is not None:
                return rule, pattern
        return None

    def to_json(self) -> str:
        """The configuration as JSON, how stores keep it (:meth:`from_json` reads it back)."""
        return json.dumps([{"id": rule.id, "methods": rule.allowed_methods,
                            "origins": rule.allowed_origins, "headers": rule.allowed_headers,
                            "expose": rule.expose_headers, "max_age": rule.max_age_seconds}
                           for rule in self.rules], separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CORSConfiguration:
        return cls(tuple(CORSRule(allowed_methods=tuple(item["methods"]),
                                  allowed_origins=tuple(item["origins"]),
                                  allowed_headers=tuple(item["headers"]),
                                  expose_headers=tuple(item["expose"]),
                                  max_age_seconds=item["max_age"], id=item["id"])
                         for item in json.loads(text)))


def _common(rule: CORSRule, origin: str, pattern: str) -> list[tuple[str, str]]:
    headers = [("Access-Control-Allow-Origin", "*" if pattern == "*" else origin),
               ("Access-Control-Allow-Methods", ", ".join(rule.allowed_methods))]
    if pattern != "*":          # (a wildcard answer may not carry credentials)
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if rule.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ", ".join(rule.expose_headers)))
    if rule.max_age_seconds is not None:
        headers.append(("Access-Control-Max-Age", str(rule.max_age_seconds)))
    return headers


def preflight_headers(rule: CORSRule, origin: str, pattern: str,
                      requested_headers: Sequence[str]) -> list[tuple[str, str]]:
    """The headers answering a preflight ``rule`` allowed (``pattern``: its matching origin)."""
    headers = _common(rule, origin, pattern)
    if requested_headers:
        headers.append(("Access-Control-Allow-Headers", ", ".join(requested_headers)))
    headers.append(("Vary", VARY))
    return headers


def actual_headers(rule: CORSRule, origin: str, pattern: str) -> list[tuple[str, str]]:
    """The headers added to the answer of a cross-origin request ``rule`` allows."""
    return [*_common(rule, origin, pattern), ("Vary", VARY)]
