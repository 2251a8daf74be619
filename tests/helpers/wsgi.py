"""Calling a WSGI app in-process, without webtest in between."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def call(app: Callable[[dict, Any], Iterable[bytes]], environ: dict
         ) -> tuple[str, dict[str, str], bytes]:
    """``app``'s answer to ``environ``: its status line, headers and whole body."""
    answered: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answered["status"], answered["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response))
    return answered["status"], answered["headers"], body
