"""Telling an observer how long the SQL store's calls to its database take, and which fail.

A store asked to (:meth:`~.store.SQLBackend.observe_database`) times each of
its calls to the database in this process: each read on the request path
(:data:`READ`: one statement, waiting for a connection included) and each
transaction (:data:`TRANSACTION`: everything else, writes and credential
look-ups the cache did not answer).  What the store answers from its caches
is no call.  A call that finds the database unreachable
(:class:`~..base.BackendUnavailable`) is also counted as an error, under the
class of the driver's exception; what the store's contract answers with (an
unknown bucket, a name taken) is no failure of the database.

Example (``serve --prometheus-port`` gives it its worker's tally)::

    store.observe_database(observer)    # observer.call_timer("read")(0.0012)...
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..base import BackendUnavailable

__all__ = ["READ", "TRANSACTION", "DatabaseObserver", "failure"]

#: A statement read on the request path (the listing's reads).
READ = "read"
#: A transaction: writes, and credential look-ups the cache did not answer.
TRANSACTION = "transaction"


class DatabaseObserver(Protocol):
    """What is told of a SQL store's calls to its database."""

    def call_timer(self, call: str) -> Callable[[float], object]:
        """The callable given the seconds each call of the kind ``call`` takes (one per call)."""

    def store_error(self, call: str, error: str) -> None:
        """A call of the kind ``call`` found the database unreachable (``error``: the class
        of the driver's exception)."""


def failure(exc: BackendUnavailable) -> str:
    """What a call that found the database unreachable is counted under: the class of the
    driver's exception that told."""
    return type(exc.__cause__ or exc).__name__
