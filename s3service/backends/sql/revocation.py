"""How every process of a fleet learns of a revocation within a second.

Each process caches credentials and policy versions (:mod:`.store`,
:mod:`.policies`).  Every revocation -- a key disabled or deleted, a user
disabled, renamed or deleted, an account deleted, any change to policies --
bumps the one row of ``s3service_revocations`` in the same transaction.  Each
process reads that row at most once per :data:`POLL_SECONDS`, on the first
credential or policy look-up after that time, and forgets everything it cached
when the number moved.  So a revocation holds everywhere within
``POLL_SECONDS`` plus one look-up, and in the process that made it at once
(it forgets its caches itself).  One indexed read per process per
``POLL_SECONDS`` is all it costs.  While the database cannot be read, the
request whose turn it is to read the generation fails (it cannot know what was
revoked), the others are answered from the caches as before.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import Connection, update

from .schema import revocations

__all__ = ["POLL_SECONDS", "Generation", "bump"]

#: How often each process reads the revocation generation (at most).
POLL_SECONDS = 0.4


def bump(conn: Connection) -> None:
    """Record a revocation, in the caller's transaction."""
    conn.execute(update(revocations).where(revocations.c.id == 1)
                 .values(generation=revocations.c.generation + 1))


class Generation:
    """One process's view of the revocation generation.

    :param read: returns the stored generation (one short query).
    :param forget: called when it moved: drop every cached credential and version.
    """

    def __init__(self, read: Callable[[], int | None], forget: Callable[[], None]) -> None:
        self._read = read
        self._forget = forget
        self._seen: int | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()

    def check(self) -> None:
        """Read the generation if it is time; forget the caches if it moved.

        A read that fails raises (:class:`~..base.BackendUnavailable`: the
        request gets its ``503`` within the backend timeout, as any other read
        of the store would give it); the next read is due ``POLL_SECONDS``
        later, the caches left as they were.
        """
        now = time.monotonic()
        if now < self._next_check:
            return
        if not self._lock.acquire(blocking=False):
            return                  # another thread is reading it right now
        try:
            if now < self._next_check:
                return
            try:
                generation = self._read()
            finally:
                self._next_check = time.monotonic() + POLL_SECONDS
            if generation != self._seen:
                if self._seen is not None:
                    self._forget()
                self._seen = generation
        finally:
            self._lock.release()
