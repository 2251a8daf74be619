"""The AWS query protocol IAM and STS speak: form parameters in, XML out (pure functions).

A request is ``Action=CreateUser&Version=2010-05-08&UserName=alice``; a list
parameter is numbered members (``ActionNames.member.1=...``).  An answer is
``<ActionResponse xmlns=...><ActionResult>...</ActionResult><ResponseMetadata>
<RequestId>...`` and an error IAM's ``<ErrorResponse>``.  Results are given as
plain values: a dict is elements in order, a list is ``<member>`` elements,
``None`` is left out, a bool is ``true``/``false``, a datetime ISO 8601 UTC.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from ..errors import XML_DECLARATION
from ..xmltext import element, escape
from .errors import ValidationError

__all__ = ["IAM_NAMESPACE", "STS_NAMESPACE", "error_document", "member_list", "page",
           "policy_text", "render", "required", "timestamp"]

IAM_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
#: Items a list answers at most when the request gives no ``MaxItems`` (IAM's default).
DEFAULT_MAX_ITEMS = 100


def timestamp(when: datetime) -> str:
    """``2024-01-02T03:04:05Z``."""
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def policy_text(document: str) -> str:
    """A policy document as IAM sends it: URL-encoded (SDKs decode it)."""
    return quote(document, safe="")


def required(params: Mapping[str, str], name: str) -> str:
    """The parameter ``name``; ``ValidationError`` if it is missing or empty."""
    value = params.get(name)
    if not value:
        raise ValidationError(f"1 validation error detected: Value null at '{name}' failed to "
                              "satisfy constraint: Member must not be null")
    return value


def member_list(params: Mapping[str, str], name: str) -> list[str]:
    """The members of the list parameter ``name`` (``name.member.1``...), in their order."""
    prefix = f"{name}.member."
    numbered = []
    for key, value in params.items():
        if key.startswith(prefix) and key[len(prefix):].isdigit():
            numbered.append((int(key[len(prefix):]), value))
    return [value for _, value in sorted(numbered)]


def page(items: Sequence[Any], params: Mapping[str, str]) -> tuple[list[Any], dict[str, Any]]:
    """One page of ``items`` (``MaxItems``, ``Marker``) and the elements saying what follows."""
    try:
        size = int(params.get("MaxItems") or DEFAULT_MAX_ITEMS)
        start = int(params.get("Marker") or 0)
    except ValueError:
        raise ValidationError("MaxItems and Marker must be numbers") from None
    if not 1 <= size <= 1000 or start < 0:
        raise ValidationError("MaxItems must be between 1 and 1000")
    end = start + size
    truncated = end < len(items)
    return list(items[start:end]), {"IsTruncated": truncated,
                                    "Marker": str(end) if truncated else None}


def _xml(value: Any) -> str:
    if isinstance(value, Mapping):
        return "".join(f"<{name}>{_xml(child)}</{name}>" for name, child in value.items()
                       if child is not None)
    if isinstance(value, (list, tuple)):
        return "".join(f"<member>{_xml(child)}</member>" for child in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return timestamp(value)
    return escape(str(value))


def render(action: str, result: Mapping[str, Any] | None, request_id: str,
           namespace: str = IAM_NAMESPACE) -> bytes:
    """The answer of ``action`` carrying ``result`` (``None``: an action that answers nothing)."""
    body = "" if result is None else f"<{action}Result>{_xml(result)}</{action}Result>"
    return (f'{XML_DECLARATION}<{action}Response xmlns="{namespace}">{body}'
            f"<ResponseMetadata>{element('RequestId', request_id)}</ResponseMetadata>"
            f"</{action}Response>").encode("utf-8")


def error_document(code: str, message: str, request_id: str, *, sender: bool = True,
                   namespace: str = IAM_NAMESPACE) -> bytes:
    """IAM's ``<ErrorResponse>``."""
    kind = "Sender" if sender else "Receiver"
    return (f'{XML_DECLARATION}<ErrorResponse xmlns="{namespace}"><Error>'
            f"{element('Type', kind)}{element('Code', code)}{element('Message', message)}"
            f"</Error>{element('RequestId', request_id)}</ErrorResponse>").encode("utf-8")
