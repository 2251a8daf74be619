"""Policy variables: ``${aws:username}`` in a ``Resource`` or a string condition.

``${key}`` is replaced by the request's single value of the condition key
``key`` (keys are case-insensitive); ``${key, 'default'}`` falls back to
``default`` when the request has none.  ``${*}``, ``${?}`` and ``${$}`` stand
for the characters themselves (a literal ``*`` in a ``StringLike`` pattern).
A variable with no value and no default makes the element it is in match
nothing, as in IAM.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from .matching import LITERAL

#: Looks up a condition key (lower case): its values, or None when absent.
Lookup = Callable[[str], "tuple[str, ...] | None"]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'([^']*)'\s*$")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


def has_variables(text: str) -> bool:
    """Whether ``text`` holds a ``${...}``."""
    return _VARIABLE.search(text) is not None


def substitute(text: str, lookup: Lookup, *, pattern: bool) -> str | None:
    """``text`` with its variables replaced, or ``None`` if one has no value.

    With ``pattern``, the substituted characters are marked literal (see
    :mod:`.matching`) so that a ``*`` in a user name stays a ``*``.
    """
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        inner = match.group(1)
        if inner in _SPECIAL:
            value = _SPECIAL[inner]
        else:
            default = _DEFAULT.match(inner)
            key = (default.group(1) if default else inner.strip()).lower()
            values = lookup(key)
            if values is not None and len(values) == 1:
                value = values[0]
            elif default is not None:
                value = default.group(2)
            else:
                missing = True
                return ""
        if not pattern:
            return value
        return "".join(LITERAL + c if c in "*?" + LITERAL else c for c in value)

    result = _VARIABLE.sub(replace, text)
    return None if missing else result


def variable_keys(text: str) -> set[str]:
    """The condition keys (lower case) the variables of ``text`` name."""
    found = set()
    for inner in _VARIABLE.findall(text):
        if inner in _SPECIAL:
            continue
        default = _DEFAULT.match(inner)
        found.add((default.group(1) if default else inner.strip()).lower())
    return found
