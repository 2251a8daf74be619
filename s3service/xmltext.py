"""Escaping text for the XML documents S3 sends."""
from __future__ import annotations

import re

# Characters XML 1.0 cannot carry at all (not even as references): C0 controls
# other than tab/newline/return, lone surrogates, U+FFFE and U+FFFF.
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPECIAL = re.compile("[&<>\"'\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;",
                          "\r": "&#13;"})


def escape(text: str) -> str:
    """Escape ``text`` for an XML element or attribute; unrepresentable characters become U+FFFD."""
    if _SPECIAL.search(text) is None:  # the common case: nothing to do
        return text
    if _INVALID.search(text):
        text = _INVALID.sub("\ufffd", text)
    return text.translate(_ESCAPES)


def element(name: str, text: str) -> str:
    """``<name>text</name>`` with ``text`` escaped."""
    return f"<{name}>{escape(text)}</{name}>"
