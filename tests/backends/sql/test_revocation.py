"""The revocation generation each process polls: read at most every POLL_SECONDS, caches
forgotten when it moved, and an unreadable database failing only the request that read."""
from __future__ import annotations

import time

import pytest

from s3service.backends.base import BackendUnavailable
from s3service.backends.sql.revocation import POLL_SECONDS, Generation


def test_polled_at_most_every_poll_seconds_and_forgetting_when_it_moved():
    answers = iter([1, 1, BackendUnavailable("down"), 2])
    reads, forgotten = [], []

    def read() -> int:
        answer = next(answers)
        reads.append(answer)
        if isinstance(answer, Exception):
            raise answer
        return answer

    generation = Generation(read, lambda: forgotten.append(True))
    generation.check()
    generation.check()
    assert len(reads) == 1 and not forgotten, "the first read only learns the number"
    time.sleep(POLL_SECONDS * 1.1)
    generation.check()
    assert len(reads) == 2 and not forgotten, "unchanged"
    time.sleep(POLL_SECONDS * 1.1)
    with pytest.raises(BackendUnavailable):     # the database is down: that request's 503
        generation.check()
    assert len(reads) == 3 and not forgotten
    generation.check()
    assert len(reads) == 3, "not asked again at once"
    time.sleep(POLL_SECONDS * 1.1)
    generation.check()
    assert forgotten == [True]
