"""The bare app of ``deployed.py``: a server answering every request with one recorded response.

``deployed.py`` fetches one real ListBuckets answer from ``s3service serve``,
saves its status, headers and body chunks in a JSON file, and runs this module
under granian with the very settings ``s3service serve`` runs with, or under
stock gunicorn with sync workers (as many as serve has)::

    python benchmarks/replay_app.py granian RESPONSE.json OPTIONS.json
    python benchmarks/replay_app.py gunicorn RESPONSE.json OPTIONS.json

``RESPONSE.json`` holds ``{"status": "200 OK", "headers": [[name, value], ...],
"chunks": [base64, ...]}``: the headers the app sent (not the ones the server
adds itself: Server, Date, Connection, Transfer-Encoding) and the body in the
pieces it came in, so that the server frames it exactly as it framed the real
one (``Content-Length``, or the same chunks).  ``OPTIONS.json`` is granian's
``Server`` settings as ``serve_options.to_json`` writes them, or gunicorn's
(``bind``, ``workers``, ``worker_class``...).

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
    # A body sent with its length is one piece (granian sends a list whole); a
    # chunked one goes out in the same pieces as the recorded answer.
    with_length = any(name.lower() == "content-length" for name, _ in headers)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response(status, list(headers))
        return list(chunks) if with_length else iter(chunks)

    return app


def run_granian(response_path: str, options: dict[str, Any]) -> None:
    """Serve :func:`make_app` of ``response_path`` under granian with ``options`` (JSON)."""
    from s3service.gateway.server import run_granian as run  # the same runner serve uses
    from serve_options import from_json

    app = make_app(response_path)
    run(lambda: app, from_json(options))


def run_gunicorn(response_path: str, options: dict[str, Any]) -> None:
    """Serve :func:`make_app` of ``response_path`` under stock gunicorn with ``options``."""
    from gunicorn.app.base import BaseApplication

    app = make_app(response_path)

    class Bare(BaseApplication):
        def load_config(self) -> None:
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self) -> WSGIApp:
            return app

    Bare(prog="replay_app").run()


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    runners = {"granian": run_granian, "gunicorn": run_gunicorn}
    if len(args) != 3 or args[0] not in runners:
        raise SystemExit("usage: replay_app.py granian|gunicorn RESPONSE.json OPTIONS.json")
    with open(args[2]) as file:
        options = json.load(file)
    runners[args[0]](args[1], options)


if __name__ == "__main__":
    main()
