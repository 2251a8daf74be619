"""IAM policy documents: parsed, checked, and every mistake reported with its line.

A document is JSON with ``Version`` (``2012-10-17``; ``2008-10-17`` is
accepted too, without policy variables, as AWS does) and ``Statement``: one
statement or a list of them.  Each statement has ``Effect`` (``Allow`` or
``Deny``), exactly one of ``Action``/``NotAction``, exactly one of
``Resource``/``NotResource``, and optionally ``Sid`` and ``Condition``.
``Principal`` belongs to resource policies, not to identity policies, and is
refused.  :func:`parse_policy` raises :class:`PolicyError` naming the line and
the reason of the first mistake it finds; given ``known_keys``, a condition
key or policy variable naming a key no request has is one.
"""
from __future__ import annotations

import json
import json.decoder
import json.scanner
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .conditions import Condition, parse_condition_block
from .errors import PolicyError
from .matching import ArnPattern, Pattern, compile_action, compile_resource
from .variables import variable_keys

#: Tells whether a condition key is one a request may have (see
#: :func:`s3service.authorization.known_condition_keys`).
KnownKeys = Callable[[str], bool]

VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_KEYS = {"Version", "Id", "Statement"}
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                   "Condition"}
MAX_DOCUMENT = 128 * 1024


class _Object(dict):
    """A JSON object that knows the line it starts on."""

    line = 0


def _load(text: str) -> Any:
    """``json.loads`` keeping each object's line, refusing duplicate keys."""
    decoder = json.JSONDecoder()

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[Any, int]:
        text, end = s_and_end
        line = text.count("\n", 0, end) + 1
        pairs, after = json.decoder.JSONObject(s_and_end, *args[:3], list, *args[4:])
        found = _Object()
        found.line = line
        for key, value in pairs:
            if key in found:
                raise PolicyError(line, f"duplicate key {key!r}")
            found[key] = value
        return found, after

    decoder.parse_object = parse_object  # type: ignore[assignment]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    try:
        return decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(exc.lineno, f"not valid JSON: {exc.msg}") from None


@dataclass(frozen=True)
class Statement:
    """One statement: who it matches and what it decides."""

    effect: str                       # "Allow" or "Deny"
    sid: str | None
    actions: tuple[Pattern, ...]
    not_action: bool
    resources: tuple[str, ...]        # raw patterns: they may hold policy variables
    not_resource: bool
    conditions: tuple[Condition, ...]
    line: int
    index: int                        # position in the document, from 0
    variables: bool                   # whether resources or conditions use ${...}
    #: ``resources`` compiled, each once with its policy; None for one with a
    #: variable, compiled after substitution.
    resource_patterns: tuple[ArnPattern | None, ...] = field(default=(), compare=False, repr=False)

    def describe(self) -> str:
        """``Sid "X"`` or ``statement 2``, with its line, for people."""
        name = f'Sid "{self.sid}"' if self.sid else f"statement {self.index + 1}"
        return f"{name} (line {self.line})"


@dataclass(frozen=True)
class Policy:
    """A parsed document and the name it is stored under."""

    name: str
    version: str
    statements: tuple[Statement, ...]

    @property
    def has_conditions(self) -> bool:
        return any(statement.conditions for statement in self.statements)


def parse_policy(text: str | bytes, name: str = "", known_keys: KnownKeys | None = None) -> Policy:
    """Parse and check a policy document; raises :class:`PolicyError` on the first mistake.

    With ``known_keys``, a condition or policy variable on a key it does not
    know is a mistake (as it is when a policy is created): a condition on a
    key no request has never holds, so a Deny on it would never apply.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyError(0, "not UTF-8 text") from None
    if len(text) > MAX_DOCUMENT:
        raise PolicyError(0, f"longer than {MAX_DOCUMENT} characters")
    if not text.strip():
        raise PolicyError(1, "the document is empty")
    root = _load(text)
    if not isinstance(root, _Object):
        raise PolicyError(1, "the document must be a JSON object")
    _no_unknown_keys(root, _TOP_KEYS, "the document")
    version = root.get("Version")
    if version is None:
        raise PolicyError(root.line, 'missing "Version" (use "2012-10-17")')
    if version not in VERSIONS:
        raise PolicyError(root.line, f'unsupported Version {version!r} (use "2012-10-17")')
    if "Statement" not in root:
        raise PolicyError(root.line, 'missing "Statement"')
    raw = root["Statement"]
    raw_list = raw if isinstance(raw, list) else [raw]
    if not raw_list:
        raise PolicyError(root.line, '"Statement" is empty')
    statements = []
    sids: set[str] = set()
    for index, item in enumerate(raw_list):
        statement = _statement(item, index, version, root.line, known_keys)
        if statement.sid is not None:
            if statement.sid in sids:
                raise PolicyError(statement.line, f"duplicate Sid {statement.sid!r}")
            sids.add(statement.sid)
        statements.append(statement)
    return Policy(name=name, version=version, statements=tuple(statements))


def _statement(item: Any, index: int, version: str, parent_line: int,
               known_keys: KnownKeys | None) -> Statement:
    if not isinstance(item, _Object):
        raise PolicyError(parent_line, f"statement {index + 1} is not a JSON object")
    line = item.line
    if "Principal" in item or "NotPrincipal" in item:
        raise PolicyError(line, "Principal is for resource policies, not identity policies")
    _no_unknown_keys(item, _STATEMENT_KEYS, "a statement")
    sid = item.get("Sid")
    if sid is not None and (not isinstance(sid, str) or not sid.isalnum() or not sid.isascii()):
        raise PolicyError(line, f"Sid must be letters and digits only, not {sid!r}")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(line, f'Effect must be "Allow" or "Deny", not {effect!r}')
    action_key = _one_of(item, "Action", "NotAction")
    resource_key = _one_of(item, "Resource", "NotResource")
    actions = tuple(compile_action(a, line) for a in _strings(item, action_key, line))
    resources = tuple(_strings(item, resource_key, line))
    for resource in resources:
        compile_resource(resource, line)          # checks its shape now
    uses_variables = version == "2012-10-17" and any("${" in r for r in resources)
    conditions: tuple[Condition, ...] = ()
    if "Condition" in item:
        block = item["Condition"]
        block_line = block.line if isinstance(block, _Object) else line
        try:
            conditions = parse_condition_block(block, substitute=version == "2012-10-17")
        except ValueError as exc:
            raise PolicyError(block_line, str(exc)) from None
        uses_variables = uses_variables or any(c.variables for c in conditions)
        if known_keys is not None:
            for condition in conditions:
                where = block[condition.operator]
                key_line = where.line if isinstance(where, _Object) else block_line
                _known(known_keys, {condition.key}, key_line,
                       f"condition key in {condition.operator}")
                if condition.variables:
                    for value in condition.values:
                        _known(known_keys, variable_keys(value), key_line, "policy variable")
    if known_keys is not None and uses_variables:
        for resource in resources:
            _known(known_keys, variable_keys(resource), line, "policy variable")
    return Statement(effect=effect, sid=sid, actions=actions, not_action=action_key == "NotAction",
                     resources=resources,
                     not_resource=resource_key == "NotResource", conditions=conditions,
                     line=line, index=index, variables=uses_variables,
                     resource_patterns=tuple(None if uses_variables and "${" in resource
                                             else ArnPattern(resource) for resource in resources))


def _known(known_keys: KnownKeys, keys: set[str], line: int, what: str) -> None:
    for key in sorted(keys):
        if not known_keys(key):
            raise PolicyError(line, f"unknown {what}: {key!r} is a key no request has here, "
                                    "so the statement would never apply as written")


def _one_of(item: _Object, key: str, negated: str) -> str:
    if key in item and negated in item:
        raise PolicyError(item.line, f"a statement has {key} or {negated}, not both")
    if key not in item and negated not in item:
        raise PolicyError(item.line, f"a statement needs {key} or {negated}")
    return key if key in item else negated


def _strings(item: _Object, key: str, line: int) -> list[str]:
    value = item[key]
    values = value if isinstance(value, list) else [value]
    if not values:
        raise PolicyError(line, f"{key} is empty")
    for one in values:
        if not isinstance(one, str) or not one:
            raise PolicyError(line, f"{key} must be a non-empty string or list of them, "
                                    f"not {one!r}")
    return values


def _no_unknown_keys(item: _Object, known: set[str], what: str) -> None:
    for key in item:
        if key not in known:
            raise PolicyError(item.line, f"unknown key {key!r} in {what}")
