"""How the ``s3service`` command prints: JSON with ``--json``, else text for people."""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

__all__ = ["emit", "printable", "table"]


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print ``data`` as JSON with ``--json``, else ``text``."""
    if args.json:
        print(json.dumps(data, indent=None, sort_keys=False))
    elif text:
        print(text)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]],
          empty: str) -> str:
    """Rows as aligned text columns (``columns``: (key, heading) pairs)."""
    if not rows:
        return empty
    cells = [[heading for _, heading in columns]]
    for row in rows:
        cells.append(["-" if row[key] is None else printable(str(row[key])) for key, _ in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
                     for line in cells)


def printable(text: str) -> str:
    """``text`` with what a terminal would act on (escape sequences, newlines) as ``\\x1b``, ``\\n``...

    Display names and policy names are the tenants' to choose; a table shows
    them as they are, not as commands to the operator's terminal.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
                   for char in text)
