"""The bare app of ``deployed.py``: gunicorn answering every request with one recorded response.

``deployed.py`` fetches one real ListBuckets answer from ``s3service serve``,
saves its status, headers and body chunks in a JSON file, and runs this module
under gunicorn with the very settings ``s3service serve`` runs with::

    python benchmarks/replay_app.py RESPONSE.json OPTIONS.json

``RESPONSE.json`` holds ``{"status": "200 OK", "headers": [[name, value], ...],
"chunks": [base64, ...]}``: the headers the app sent (not the ones gunicorn
adds itself: Server, Date, Connection, Transfer-Encoding) and the body in the
pieces it came in, so that gunicorn frames it exactly as it framed the real
one (``Content-Length``, or the same chunks).  ``OPTIONS.json`` is a dict of
gunicorn settings (``bind``, ``workers``, ``worker_class``...).

The app does nothing else: no parsing, no signature check, no store.  It is
the floor that ``s3service serve`` is compared with.
"""
from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def save_response(path: str, status: str, headers: Sequence[tuple[str, str]],
                  chunks: Sequence[bytes]) -> None:
    """Write a response (status line text, app headers, body chunks) to ``path`` as JSON."""
    data = {"status": status,
            "headers": [[name, value] for name, value in headers],
            "chunks": [base64.b64encode(chunk).decode("ascii") for chunk in chunks]}
    with open(path, "w") as file:
        json.dump(data, file)


def load_response(path: str) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """Read back what :func:`save_response` wrote."""
    with open(path) as file:
        data = json.load(file)
    headers = [(name, value) for name, value in data["headers"]]
    chunks = [base64.b64decode(chunk) for chunk in data["chunks"]]
    return data["status"], headers, chunks


def make_app(path: str) -> WSGIApp:
    """A WSGI app answering every request with the response saved at ``path``."""
    status, headers, chunks = load_response(path)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response(status, list(headers))
        return list(chunks)

    return app


def run(response_path: str, options: dict[str, Any]) -> None:
    """Serve :func:`make_app` of ``response_path`` under gunicorn with ``options``."""
    from s3service.gateway.server import run_gunicorn  # the same runner serve uses

    app = make_app(response_path)
    run_gunicorn(lambda: app, options)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        raise SystemExit("usage: replay_app.py RESPONSE.json OPTIONS.json")
    with open(args[1]) as file:
        options = json.load(file)
    run(args[0], options)


if __name__ == "__main__":
    main()
