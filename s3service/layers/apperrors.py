"""The S3 errors of the app behind the middleware, answered as S3 answers them.

With ``authenticate_all``, the body the gateway reads is checked as it reads
it (:mod:`s3service.payload`), and a failed check raises an
:class:`~s3service.errors.S3Error` from ``wsgi.input.read()``.  A gateway need
not catch it: if it propagates before the gateway starts its response, the
client gets S3's XML error, with the request's id, all the same.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

from ..envelope import Exchange, Reply, StartResponse, WSGIApp, answer
from ..errors import S3Error

__all__ = ["answer_app_errors"]


def answer_app_errors(app: WSGIApp, environ: dict,
                      start_response: StartResponse) -> Iterable[bytes]:
    """Call the gateway; an S3 error it raises before starting its response
    (a body that failed its checks) is answered as S3's XML error.

    A gateway whose response is a generator may read the body only once it
    is iterated: its first item is taken here, so that an error raised
    before it starts its response is answered the same way.
    """
    started = False

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        nonlocal started
        started = True
        return start_response(status, headers, exc_info) if exc_info else \
            start_response(status, headers)

    try:
        result = app(environ, start)
    except S3Error as error:
        if started:
            raise
        return answer(environ, start_response, partial(_raise, error))
    if started or isinstance(result, (list, tuple)):
        return result
    iterator = iter(result)
    try:
        first = next(iterator)
    except StopIteration:
        return _Prepended((), iterator, result)
    except S3Error as error:
        if started:
            raise
        _close(result)
        return answer(environ, start_response, partial(_raise, error))
    return _Prepended((first,), iterator, result)


def _close(result: Iterable[bytes]) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


class _Prepended:
    """A response whose first items were taken already: them, then the rest, and its close()."""

    def __init__(self, first: tuple[bytes, ...], rest: Iterator[bytes],
                 result: Iterable[bytes]) -> None:
        self.first, self.rest, self.result = first, rest, result

    def __iter__(self) -> Iterator[bytes]:
        yield from self.first
        yield from self.rest

    def close(self) -> None:
        _close(self.result)


def _raise(error: S3Error, exchange: Exchange) -> Reply:
    raise error
