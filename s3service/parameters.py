"""Checks of what an embedder passes to a constructor, made once, when it is made.

A wrong argument fails at once with a ``TypeError`` (wrong kind of thing) or a
``ValueError`` (right kind, wrong value) that names the parameter and what
was expected, rather than as a ``500`` on the first request::

    S3ServiceMiddleware(app, credentials=object(), buckets=store)
    TypeError: credentials: expected a CredentialStore
    (s3service.backends.protocols.CredentialStore); got object, which has no
    get_credential() method
"""
from __future__ import annotations

from collections.abc import Iterable

__all__ = ["check_bool", "check_callable", "check_hosts", "check_names", "check_number",
           "check_optional_number", "check_protocol", "check_secret", "check_text",
           "protocol_methods"]


def _kind(value: object) -> str:
    return type(value).__name__


def protocol_methods(protocol: type) -> tuple[str, ...]:
    """The public methods a ``typing.Protocol`` class declares, its bases' included."""
    names: list[str] = []
    for cls in reversed(protocol.__mro__):
        if cls is object or cls.__name__ in ("Protocol", "Generic"):
            continue
        names.extend(n for n, v in vars(cls).items()
                     if not n.startswith("_") and callable(v) and n not in names)
    return tuple(names)


def check_protocol(name: str, value: object, protocol: type) -> None:
    """``value`` has every method of ``protocol``; else a ``TypeError`` naming the first missing."""
    for method in protocol_methods(protocol):
        if not callable(getattr(value, method, None)):
            article = "an" if protocol.__name__[0] in "AEIOU" else "a"
            raise TypeError(f"{name}: expected {article} {protocol.__name__} "
                            f"({protocol.__module__}.{protocol.__qualname__}); got "
                            f"{_kind(value)}, which has no {method}() method")


def check_callable(name: str, value: object, what: str) -> None:
    """``value`` is callable (a WSGI app...), else a ``TypeError``."""
    if not callable(value):
        raise TypeError(f"{name}: expected {what}; got {_kind(value)}, which is not callable")


def check_bool(name: str, value: object) -> bool:
    """``value`` is a bool (``1``/``"yes"`` are refused: a typo would turn a check off)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected True or False; got {value!r}")
    return value


def check_text(name: str, value: object, *, empty: bool = False) -> str:
    """``value`` is a str (non-empty unless ``empty``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a string; got {_kind(value)}")
    if not empty and not value.strip():
        raise ValueError(f"{name}: expected a non-empty string; got {value!r}")
    return value


def check_number(name: str, value: object, *, minimum: float = 0.0,
                 positive: bool = False) -> float:
    """``value`` as a float: a finite real number (not a bool), at least ``minimum``
    (above it if ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number; got {value!r}")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{name}: expected a finite number; got {value!r}")
    if number < minimum or (positive and number <= minimum):
        relation = "above" if positive else "at least"
        raise ValueError(f"{name}: expected a number {relation} {minimum:g}; got {value!r}")
    return number


def check_optional_number(name: str, value: object, *, minimum: float = 0.0,
                          positive: bool = False) -> float | None:
    """As :func:`check_number`, ``None`` passing (and named in the message)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number or None; got {value!r}")
    return check_number(name, value, minimum=minimum, positive=positive)


def check_names(name: str, value: object, what: str = "name") -> tuple[str, ...]:
    """A list (tuple, set...) of strings as a tuple; a single string is refused.

    A string is itself a sequence of strings, so taking one for a list would
    silently use its characters; :func:`check_hosts` takes one host instead.
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name}: expected a list of {what}s; got the single string "
                        f"{value!r} (write [{value!r}])")
    if not isinstance(value, Iterable):
        raise TypeError(f"{name}: expected a list of {what}s; got {_kind(value)}")
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name}: expected a list of {what}s (strings); "
                            f"it holds {item!r}")
    return items


def check_hosts(name: str, value: object) -> tuple[str, ...]:
    """Host names: a list of them, or one as a string (``"s3.example.com"`` is one host)."""
    if isinstance(value, str):
        value = [value]
    hosts = check_names(name, value, "host name")
    for host in hosts:
        if any(c.isspace() for c in host.strip()) or "/" in host:
            raise ValueError(f"{name}: expected host names such as 's3.example.com'; "
                             f"got {host!r}")
    return hosts


def check_secret(name: str, value: object) -> bytes | None:
    """A key given as str or bytes (``None`` passes), as bytes; an empty one is refused."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes):
        raise TypeError(f"{name}: expected str, bytes or None; got {_kind(value)}")
    if not value:
        raise ValueError(f"{name}: expected a non-empty key (None for the default)")
    return value

