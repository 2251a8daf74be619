"""One account's buckets in name order, and the runs of them a listing asks for.

Both bundled stores answer ``list_buckets`` from a :class:`SortedBuckets`: the
memory store keeps one per account and changes it under its lock; the SQL
store keeps one per account as a snapshot of the database, never changed.
:func:`listing` turns the runs into the store's answer: a list when it is all
there is, else a lazy iterator that reads one run at a time.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator

from .base import BucketInfo

#: Buckets read in one run.
RUN = 1000

#: ``runs(after, size)``: the next at most ``size`` buckets after ``after``
#: (``None``: from the first), the last name looked at, and whether that was the end.
Runs = Callable[[str | None, int], tuple[list[BucketInfo], str | None, bool]]


class SortedBuckets:
    """Buckets sorted by name, with their names beside them for bisection.

    Not locked: its owner serializes changes, or never changes it.
    """

    __slots__ = ("names", "infos")

    def __init__(self, infos: Iterable[BucketInfo] = ()) -> None:
        self.infos: list[BucketInfo] = sorted(infos, key=lambda info: info.name)
        self.names: list[str] = [info.name for info in self.infos]

    def __len__(self) -> int:
        return len(self.names)

    def add(self, info: BucketInfo) -> None:
        at = bisect_left(self.names, info.name)
        self.names.insert(at, info.name)
        self.infos.insert(at, info)

    def remove(self, name: str) -> None:
        """Forget bucket ``name``; raises :class:`KeyError` if it is not here."""
        at = bisect_left(self.names, name)
        if at == len(self.names) or self.names[at] != name:
            raise KeyError(name)
        del self.names[at]
        del self.infos[at]

    def run(self, prefix: str, after: str | None, region: str | None,
            size: int) -> tuple[list[BucketInfo], str | None, bool]:
        """The next at most ``size`` names starting with ``prefix`` and after ``after``.

        Returns those buckets (only those in ``region``, when given), the last
        name looked at (where the next run resumes, so buckets added or removed
        meanwhile are never listed twice), and whether no name is left after it.
        """
        names = self.names
        if after is not None and after >= prefix:
            start = bisect_right(names, after)
        else:
            start = bisect_left(names, prefix)
        end = min(start + size, len(names))
        done = end == len(names)
        if prefix and end > start and not names[end - 1].startswith(prefix):
            # Sorted names sharing the prefix form one run: cut where it ends.
            end = bisect_left(names, True, start, end,
                              key=lambda name: not name.startswith(prefix))
            done = True
        found = self.infos[start:end]
        last = names[end - 1] if end > start else after
        if region is not None:
            found = [info for info in found if info.region == region]
        return found, last, done


def listing(runs: Runs, after: str | None, limit: int | None) -> Iterable[BucketInfo]:
    """At most ``limit`` buckets (all when ``None``) after ``after``, read from ``runs``.

    The first run is read now; if it holds the whole answer it is returned as
    a list (the usual case), otherwise an iterator reads the rest lazily.
    """
    size = RUN if limit is None else min(limit, RUN)
    first, after, done = runs(after, size)
    if done or (limit is not None and len(first) >= limit):
        return first
    return _rest(runs, first, after, None if limit is None else limit - len(first))


def _rest(runs: Runs, first: list[BucketInfo], after: str | None,
          remaining: int | None) -> Iterator[BucketInfo]:
    yield from first
    while remaining is None or remaining > 0:
        size = RUN if remaining is None else min(remaining, RUN)
        found, after, done = runs(after, size)
        yield from found
        if done:
            return
        if remaining is not None:
            remaining -= len(found)
