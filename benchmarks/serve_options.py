"""The gunicorn settings ``s3service serve`` runs with, read without serving.

Usage (the same arguments as the ``s3service`` command)::

    python benchmarks/serve_options.py OUT.json [--db URL] serve --port P [serve flags...]

It runs the ``s3service`` console script's own entry point with these
arguments, all of it as shipped (argument defaults, checks, opening the
store), except that ``s3service.gateway.server.run_gunicorn`` (where ``serve``
hands gunicorn its settings) is replaced by a function that writes the
settings to ``OUT.json`` and returns instead of serving.  So whatever defaults
the product ships today (workers, worker class, threads, log level...) are
what comes out, with nothing hard-coded here.

``OUT.json`` holds::

    {"entry_point": "s3service.gateway.cli:main",
     "options": {...},        # the settings that can be written as JSON
     "not_copied": [...],     # names of the others (hooks: functions)
     "effective": {"workers": 1, "worker_class": "sync", "threads": 1}}

``effective`` is what gunicorn makes of the options (its own defaults for the
ones left out; ``sync`` with more than one thread is ``gthread``).

Run it in a process of its own: the command configures logging.  Exit
status: 0 done; 1 the command failed (its message is on stderr); 2 usage; 4
the command never reached ``run_gunicorn`` (the product changed how it starts
gunicorn: ``deployed.py`` then asks for
``--workers/--worker-class/--gunicorn-threads``).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/

SCRIPT = "s3service"
FALLBACK_ENTRY_POINT = "s3service.gateway.cli:main"
EXIT_FAILED = 1
EXIT_NOT_REACHED = 4


class CommandFailed(RuntimeError):
    """The ``s3service`` command exited with an error before serving."""


class NotReached(RuntimeError):
    """The command returned without handing gunicorn its settings through ``run_gunicorn``."""


def entry_point() -> tuple[str, Callable[[Sequence[str]], int]]:
    """The ``s3service`` console script's function (``module:attr``, the function)."""
    for point in metadata.entry_points(group="console_scripts"):
        if point.name == SCRIPT:
            return point.value, point.load()
    from s3service.gateway.cli import main

    return FALLBACK_ENTRY_POINT, main


def capture(argv: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Run the ``s3service`` command ``argv`` up to gunicorn; returns (entry point, options).

    Raises :class:`CommandFailed` or :class:`NotReached`.
    """
    from s3service.gateway import server

    captured: list[dict[str, Any]] = []

    def record(app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
        captured.append(dict(options))

    name, main = entry_point()
    server.run_gunicorn = record
    status = main(list(argv))
    if status:
        raise CommandFailed(f"the s3service command exited with status {status}")
    if not captured:
        raise NotReached("s3service serve did not call s3service.gateway.server.run_gunicorn")
    return name, captured[0]


def effective(options: dict[str, Any]) -> dict[str, Any]:
    """Workers, worker class and threads as gunicorn resolves ``options``."""
    from gunicorn.config import Config

    config = Config()
    for name, value in options.items():
        if value is not None and name in config.settings:
            config.set(name, value)
    return {"workers": config.workers, "worker_class": config.worker_class_str,
            "threads": config.threads}


def is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: serve_options.py OUT.json [s3service arguments...]", file=sys.stderr)
        return 2
    out, command = args[0], args[1:]
    try:
        name, options = capture(command)
    except CommandFailed as exc:
        print(f"serve_options: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except NotReached as exc:
        print(f"serve_options: {exc}", file=sys.stderr)
        return EXIT_NOT_REACHED
    result = {
        "entry_point": name,
        "options": {key: value for key, value in options.items() if is_json(value)},
        "not_copied": sorted(key for key, value in options.items() if not is_json(value)),
        "effective": effective(options),
    }
    with open(out, "w") as file:
        json.dump(result, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
