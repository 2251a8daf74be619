"""The ``Condition`` element: operators, qualifiers and how each is evaluated.

A condition block maps operators to ``{key: value or [values]}``.  Every
operator in a block, and every key under an operator, must hold (AND); any
one of a key's values may match (OR).  Keys are case-insensitive.

Operators: ``String(Not)Equals``, ``String(Not)EqualsIgnoreCase``,
``String(Not)Like``; ``Numeric(Not)Equals``, ``NumericLessThan(Equals)``,
``NumericGreaterThan(Equals)``; the same six for ``Date``; ``Bool``;
``BinaryEquals``; ``IpAddress``/``NotIpAddress``; ``Arn(Not)Equals``,
``Arn(Not)Like``; ``Null``.  Each but ``Null`` takes an ``IfExists`` suffix (a
request without the key passes) and a ``ForAnyValue:`` or ``ForAllValues:``
qualifier for keys with several values.

A request without the key fails a condition, except that a negated operator
(``StringNotEquals``, ``NotIpAddress``...) passes and ``ForAllValues:``
passes, as in IAM.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .matching import ArnPattern, Glob, matches, resource_matches
from .variables import Lookup, has_variables, substitute

Compare = Callable[[str, str], bool]


# -- comparing one request value with one policy value ---------------------------------

def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> float:
    """A date as epoch seconds: ISO 8601 (``2026-01-01T00:00:00Z``) or a number of seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def _ordered(parse: Callable[[str], float], compare: Callable[[float, float], bool]) -> Compare:
    def check(have: str, want: str) -> bool:
        try:
            return compare(parse(have), parse(want))
        except (ValueError, OverflowError):
            return False
    return check


def _bool(have: str, want: str) -> bool:
    return have.lower() == want.lower()


def _binary(have: str, want: str) -> bool:
    try:
        return base64.b64decode(have, validate=True) == base64.b64decode(want, validate=True)
    except (binascii.Error, ValueError):
        return False


def _ip(have: str, want: str) -> bool:
    try:
        address = ipaddress.ip_address(have.strip())
        network = ipaddress.ip_network(want.strip(), strict=False)
    except ValueError:
        return False
    # A server listening on both stacks (``serve --host ::``) sees an IPv4
    # client as ::ffff:a.b.c.d: that client is in the IPv4 ranges.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.version == network.version and address in network


@dataclass(frozen=True)
class Operator:
    """A condition operator: how a request value is compared, and whether it is negated."""

    compare: Compare
    negated: bool = False
    variables: bool = False          # policy variables allowed in its values
    pattern: bool = False            # its values are wildcard patterns
    check: Callable[[str], Any] | None = None   # validates a policy value (raises ValueError)
    #: Compiles a pattern value once, with its policy (its ``matches(have)`` compares).
    compile: Callable[[str], Any] | None = None


def _check_bool(text: str) -> None:
    if text.lower() not in ("true", "false"):
        raise ValueError(f"{text!r} is not true or false")


def _check_binary(text: str) -> None:
    base64.b64decode(text, validate=True)


def _check_ip(text: str) -> None:
    ipaddress.ip_network(text.strip(), strict=False)


def _build() -> dict[str, Operator]:
    ops: dict[str, Operator] = {}
    equal: Compare = operator.eq
    ignore_case: Compare = lambda have, want: have.casefold() == want.casefold()  # noqa: E731
    like: Compare = lambda have, want: matches(want, have)  # noqa: E731
    for name, compare, pattern in (("Equals", equal, False), ("EqualsIgnoreCase", ignore_case, False),
                                   ("Like", like, True)):
        compiler = Glob if pattern else None
        ops["String" + name] = Operator(compare, variables=True, pattern=pattern, compile=compiler)
        ops["StringNot" + name] = Operator(compare, True, variables=True, pattern=pattern,
                                           compile=compiler)
    for kind, parse in (("Numeric", _number), ("Date", _date)):
        ops[kind + "Equals"] = Operator(_ordered(parse, operator.eq), check=parse)
        ops[kind + "NotEquals"] = Operator(_ordered(parse, operator.eq), True, check=parse)
        for name, compare in (("LessThan", operator.lt), ("LessThanEquals", operator.le),
                              ("GreaterThan", operator.gt), ("GreaterThanEquals", operator.ge)):
            ops[kind + name] = Operator(_ordered(parse, compare), check=parse)
    ops["Bool"] = Operator(_bool, check=_check_bool)
    ops["BinaryEquals"] = Operator(_binary, check=_check_binary)
    ops["IpAddress"] = Operator(_ip, check=_check_ip)
    ops["NotIpAddress"] = Operator(_ip, True, check=_check_ip)
    arn_like: Compare = lambda have, want: resource_matches(want, have)  # noqa: E731
    for name in ("Equals", "Like"):
        ops["Arn" + name] = Operator(arn_like, variables=True, pattern=True, compile=ArnPattern)
        ops["ArnNot" + name] = Operator(arn_like, True, variables=True, pattern=True,
                                        compile=ArnPattern)
    return ops


OPERATORS: dict[str, Operator] = _build()
QUALIFIERS = {"ForAnyValue": "any", "ForAllValues": "all"}


# -- parsed conditions ---------------------------------------------------------------

@dataclass(frozen=True)
class Condition:
    """One key under one operator: ``StringLike: {"s3:prefix": ["home/", "home/*"]}``."""

    operator: str                    # as written, e.g. "ForAnyValue:StringLikeIfExists"
    base: str                        # "StringLike", or "Null"
    qualifier: str | None            # "any", "all" or None
    if_exists: bool
    key: str                         # lower case
    values: tuple[str, ...]
    variables: bool                  # whether a value holds a policy variable
    #: ``values`` compiled with the policy, for a pattern operator without variables.
    compiled: tuple[Any, ...] | None = field(default=None, compare=False, repr=False)

    def holds(self, lookup: Lookup) -> bool:
        """Whether the request (its keys through ``lookup``) satisfies this condition."""
        have = lookup(self.key)
        if self.base == "Null":
            absent = not have
            return any((value.lower() == "true") == absent for value in self.values)
        op = OPERATORS[self.base]
        if not have:
            if self.if_exists or self.qualifier == "all":
                return True
            return op.negated and self.qualifier is None
        compiled = self.compiled
        if compiled is not None:
            def one(value: str) -> bool:
                found = any(pattern.matches(value) for pattern in compiled)
                return not found if op.negated else found
        else:
            wanted = self.values
            if self.variables:
                wanted = tuple(w for w in (substitute(v, lookup, pattern=op.pattern)
                                           for v in self.values) if w is not None)

            def one(value: str) -> bool:
                found = any(op.compare(value, want) for want in wanted)
                return not found if op.negated else found

        if self.qualifier == "all":
            return all(one(value) for value in have)
        if self.qualifier == "any" or not op.negated:
            return any(one(value) for value in have)
        return all(one(value) for value in have)   # a negated operator: none may match


def parse_condition_block(block: Any, *, substitute: bool = True) -> tuple[Condition, ...]:
    """The conditions of a ``Condition`` element; raises ValueError saying what is wrong."""
    if not isinstance(block, dict):
        raise ValueError("Condition must be a JSON object")
    found = []
    for written, keys in block.items():
        base, qualifier, if_exists = _split_operator(written)
        if not isinstance(keys, dict) or not keys:
            raise ValueError(f"condition operator {written} needs an object of keys and values")
        for key, raw in keys.items():
            values = raw if isinstance(raw, list) else [raw]
            if not values:
                raise ValueError(f"{written}: key {key!r} has no values")
            texts = []
            for value in values:
                if isinstance(value, bool):
                    value = "true" if value else "false"
                elif isinstance(value, (int, float)):
                    value = str(value)
                if not isinstance(value, str) or "\x00" in value:
                    raise ValueError(f"{written}: key {key!r} has a value that is not a string, "
                                     f"number or boolean: {value!r}")
                _check_value(base, written, key, value)
                texts.append(value)
            op = OPERATORS.get(base)
            variables = bool(substitute and op is not None and op.variables
                             and any(has_variables(t) for t in texts))
            compiled = None
            if op is not None and op.compile is not None and not variables:
                compiled = tuple(op.compile(text) for text in texts)
            found.append(Condition(operator=written, base=base, qualifier=qualifier,
                                   if_exists=if_exists, key=key.lower(), values=tuple(texts),
                                   variables=variables, compiled=compiled))
    return tuple(found)


def _split_operator(written: str) -> tuple[str, str | None, bool]:
    qualifier = None
    name = written
    if ":" in written:
        prefix, _, name = written.partition(":")
        if prefix not in QUALIFIERS:
            raise ValueError(f"unknown condition qualifier {prefix!r} "
                             "(ForAnyValue or ForAllValues)")
        qualifier = QUALIFIERS[prefix]
    if_exists = name.endswith("IfExists")
    base = name[:-len("IfExists")] if if_exists else name
    if base == "Null":
        if if_exists or qualifier is not None:
            raise ValueError(f"{written}: Null takes neither IfExists nor a qualifier")
        return base, None, False
    if base not in OPERATORS:
        raise ValueError(f"unknown condition operator {written!r}")
    return base, qualifier, if_exists


def _check_value(base: str, written: str, key: str, value: str) -> None:
    if base == "Null":
        check: Callable[[str], Any] | None = _check_bool
    else:
        check = OPERATORS[base].check
    if check is None:
        return
    try:
        check(value)
    except (ValueError, binascii.Error, OverflowError):
        raise ValueError(f"{written}: {value!r} is not a valid value for key {key!r}") from None
