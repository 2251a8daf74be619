"""What every SQL store here does with database errors: name an outage, retry a race.

:class:`OutageGuard` turns "the database cannot be reached" into
:class:`~..base.BackendUnavailable` (answered as 503), with a message that
never shows the password; :func:`retry` runs a piece of work again when it
loses a race with another process (a duplicate key, a table created
meanwhile).  Used by :mod:`.sql` and :mod:`.metrics`.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..base import BackendUnavailable

__all__ = ["DDL_ATTEMPTS", "DDL_PAUSE", "OutageGuard", "retry", "safe_url", "url_secrets"]

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

#: Creating tables races with other processes creating them: this many tries,
#: ``DDL_PAUSE``, then twice that, ... seconds apart.
DDL_ATTEMPTS = 12
DDL_PAUSE = 0.05


MASK = "***"
_MASKED = "S3SERVICEMASKEDVALUE"      # (what SQLAlchemy renders unquoted, then replaced)


def _secret_param(name: str) -> bool:
    """Whether a URL query parameter holds a secret (``password``, ``sslpassword``, ``pwd``...)."""
    name = name.lower()
    return any(word in name for word in ("password", "passwd", "pwd", "secret", "token"))


def url_secrets(url: str | URL) -> list[str]:
    """The secrets a database URL holds: its password, and the values of secret parameters.

    Drivers take a password as a query parameter too
    (``postgresql://u@h/db?password=...``, ``sslpassword``, ``pwd``...); each
    value is given as it is and as it reads percent-encoded, longest first.
    """
    url = make_url(url)
    values = [str(url.password)] if url.password else []
    for name, value in url.query.items():
        if _secret_param(name):
            values.extend(value if isinstance(value, tuple) else (value,))
    found = {text for value in values if value for text in (value, quote(value, safe=""))}
    return sorted(found, key=len, reverse=True)


def safe_url(url: str | URL) -> str:
    """A database URL fit to show: its password and every secret query parameter ``***``."""
    url = make_url(url)
    secret = {name for name in url.query if _secret_param(name)}
    if secret:
        url = url.update_query_dict({name: _MASKED for name in secret})
    return url.render_as_string(hide_password=True).replace(_MASKED, MASK)


class OutageGuard:
    """``with guard:`` raises :class:`~..base.BackendUnavailable` when the database is unreachable.

    Unreachable means :class:`~sqlalchemy.exc.OperationalError`,
    :class:`~sqlalchemy.exc.InterfaceError`, a pool timeout, or any
    :class:`~sqlalchemy.exc.DBAPIError` that invalidated its connection; every
    other exception passes unchanged.  The message reads ``database <url>
    unavailable: <error type>: <first line of the error>``, with the URL's
    password -- in its user part or a query parameter such as ``?password=``
    (:func:`url_secrets`) -- hidden and replaced by ``***`` wherever the error
    quotes it; the original exception is kept as ``__cause__``.

    Holds no state but the URL (``safe_url`` is it with its passwords hidden, :func:`safe_url`):
    one guard serves every thread and every use.
    """

    def __init__(self, url: str | URL) -> None:
        url = make_url(url)
        self._secrets = url_secrets(url)
        self.safe_url = safe_url(url)

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)) or (
                isinstance(exc, DBAPIError) and exc.connection_invalidated):
            raise self.unavailable(exc) from exc

    def unavailable(self, exc: BaseException) -> BackendUnavailable:
        """The :class:`~..base.BackendUnavailable` telling that ``exc`` is an outage."""
        orig = getattr(exc, "orig", None) or exc
        text = str(orig).strip()
        first = text.splitlines()[0] if text else ""
        for secret in self._secrets:
            first = first.replace(secret, MASK)
        return BackendUnavailable(f"database {self.safe_url} unavailable: "
                                  f"{type(orig).__name__}: {first}")


def retry(work: Callable[[], T], *, on: type[E] | tuple[type[E], ...], attempts: int,
          pause: float = 0.0, diagnose: Callable[[E], bool] | None = None) -> T:
    """Return ``work()``, calling it again when it raises ``on``: at most ``attempts`` calls.

    ``diagnose``, when given, sees each such failure first and returns whether
    another attempt may help; it may instead raise the exception that explains
    the failure better (e.g. "no such account" for a foreign key violation),
    which ends the retrying.  Before the n-th retry the helper sleeps
    ``n * pause`` seconds (a short backoff for races between processes).  A
    failure that is not retried (``diagnose`` said no, or no attempts are left)
    is re-raised as it is.  ``work`` is called at least once.
    """
    attempt = 1
    while True:
        try:
            return work()
        except on as exc:
            if (diagnose is not None and not diagnose(exc)) or attempt >= attempts:
                raise
        if pause:
            time.sleep(pause * attempt)
        attempt += 1
