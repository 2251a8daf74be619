"""The granian settings ``s3service serve`` runs with, read without serving.

Usage (the same arguments as the ``s3service`` command)::

    python benchmarks/serve_options.py OUT.json [--db URL] serve --port P [serve flags...]

It runs the ``s3service`` console script's own entry point with these
arguments, all of it as shipped (argument defaults, checks, opening the
store), except that ``s3service.gateway.server.run_granian`` (where ``serve``
hands granian its settings) is replaced by a function that writes the
settings to ``OUT.json`` and returns instead of serving.  So whatever defaults
the product ships today (workers, threads, HTTP settings, log level...) are
what comes out, with nothing hard-coded here.

``OUT.json`` holds::

    {"entry_point": "s3service.gateway.cli:main",
     "options": {...},        # granian's Server keyword arguments, as JSON (to_json)
     "effective": {"workers": 2, "threads": 32}}

:func:`from_json` turns ``options`` back into what granian's ``Server`` takes.

Run it in a process of its own: the command configures logging.  Exit
status: 0 done; 1 the command failed (its message is on stderr); 2 usage; 4
the command never reached ``run_granian`` (the product changed how it starts
its server).
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
    """The command returned without handing granian its settings through ``run_granian``."""


def entry_point() -> tuple[str, Callable[[Sequence[str]], int]]:
    """The ``s3service`` console script's function (``module:attr``, the function)."""
    for point in metadata.entry_points(group="console_scripts"):
        if point.name == SCRIPT:
            return point.value, point.load()
    from s3service.gateway.cli import main

    return FALLBACK_ENTRY_POINT, main


def capture(argv: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Run the ``s3service`` command ``argv`` up to granian; returns (entry point, options).

    Raises :class:`CommandFailed` or :class:`NotReached`.
    """
    from s3service.gateway import server

    captured: list[dict[str, Any]] = []

    def record(app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
        captured.append(dict(options))

    name, main = entry_point()
    server.run_granian = record
    status = main(list(argv))
    if status:
        raise CommandFailed(f"the s3service command exited with status {status}")
    if not captured:
        raise NotReached("s3service serve did not call s3service.gateway.server.run_granian")
    return name, captured[0]


def effective(options: dict[str, Any]) -> dict[str, Any]:
    """Workers and threads per worker (granian's defaults for those left out)."""
    return {"workers": options.get("workers", 1), "threads": options.get("blocking_threads")}


#: granian's settings that are enums, and the ones that are dataclasses.
_ENUMS = {"interface": "Interfaces", "http": "HTTPModes", "ssl_protocol_min": "SSLProtocols",
          "runtime_mode": "RuntimeModes", "loop": "Loops", "log_level": "LogLevels"}
_SETTINGS = {"http1_settings": "HTTP1Settings", "http2_settings": "HTTP2Settings"}


def to_json(options: dict[str, Any]) -> dict[str, Any]:
    """granian's ``Server`` keyword arguments as JSON values (enums by value, settings as dicts)."""
    import dataclasses
    from enum import Enum
    from pathlib import PurePath

    def plain(value: Any) -> Any:
        if isinstance(value, Enum):
            return value.value
        if dataclasses.is_dataclass(value):
            return dataclasses.asdict(value)
        if isinstance(value, PurePath):
            return str(value)
        return value

    return {name: plain(value) for name, value in options.items()}


def from_json(options: dict[str, Any]) -> dict[str, Any]:
    """What :func:`to_json` wrote, as granian's ``Server`` takes it."""
    from pathlib import Path

    from granian import constants, http, log

    rebuilt = dict(options)
    for name, kind in _ENUMS.items():
        if rebuilt.get(name) is not None:
            enum = getattr(log if kind == "LogLevels" else constants, kind)
            rebuilt[name] = enum(rebuilt[name])
    for name, kind in _SETTINGS.items():
        if rebuilt.get(name) is not None:
            rebuilt[name] = getattr(http, kind)(**rebuilt[name])
    for name in ("ssl_cert", "ssl_key"):
        if rebuilt.get(name) is not None:
            rebuilt[name] = Path(rebuilt[name])
    return rebuilt


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
    result = {"entry_point": name, "options": to_json(options),
              "effective": effective(options)}
    with open(out, "w") as file:
        json.dump(result, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
