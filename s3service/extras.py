"""Which ``pip install 's3service[EXTRA]'`` brings a module an optional feature imports.

The library itself needs only ``defusedxml``; each extra adds what one feature
imports.  A feature whose module is missing says the command that fixes it::

    >>> missing_extra_message(ModuleNotFoundError(name="sqlalchemy"))
    "the 'sql' extra is not installed (no module sqlalchemy): pip install 's3service[sql]'"
"""
from __future__ import annotations

__all__ = ["EXTRAS", "extra_for", "missing_extra_message"]

#: Top-level module name -> the extra that installs it.
EXTRAS: dict[str, str] = {
    "sqlalchemy": "sql",
    "psycopg": "postgres",
    "psycopg_binary": "postgres",
    "granian": "server",
    "paste": "paste",
    "awscrt": "checksums",
    "webtest": "testing",
    "webob": "testing",
    "botocore": "testing",
}


def extra_for(module: str | None) -> str | None:
    """The extra installing ``module`` (``"sqlalchemy.engine"`` -> ``"sql"``), or ``None``."""
    if not module:
        return None
    return EXTRAS.get(module.partition(".")[0])


def missing_extra_message(exc: ImportError) -> str | None:
    """One line naming the extra and the ``pip install`` to run, or ``None`` when the
    missing module is none of an extra's."""
    extra = extra_for(exc.name)
    if extra is None:
        return None
    return (f"the {extra!r} extra is not installed (no module {exc.name}): "
            f"pip install 's3service[{extra}]'")
