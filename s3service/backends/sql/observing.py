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

import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from ..base import BackendUnavailable

__all__ = ["READ", "TRANSACTION", "DatabaseObserver", "Timed"]

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


class Timed:
    """``with Timed(observer, call, took):`` gives ``took`` (``observer.call_timer(call)``) the
    seconds the block took, and tells ``observer`` of a call of the kind ``call`` that
    found the database unreachable (:class:`~..base.BackendUnavailable`), under the class
    of the driver's exception that told."""

    __slots__ = ("observer", "call", "took", "started")

    def __init__(self, observer: DatabaseObserver, call: str,
                 took: Callable[[float], object]) -> None:
        self.observer = observer
        self.call = call
        self.took = took
        self.started = 0.0

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.took(time.perf_counter() - self.started)
        if isinstance(exc, BackendUnavailable):
            self.observer.store_error(self.call, type(exc.__cause__ or exc).__name__)
