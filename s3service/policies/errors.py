"""The one error a policy document can be refused with."""
from __future__ import annotations

__all__ = ["PolicyError"]


class PolicyError(ValueError):
    """A malformed policy document: ``line`` (1-based, 0 if unknown) and ``reason``."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line = line
        self.reason = reason
