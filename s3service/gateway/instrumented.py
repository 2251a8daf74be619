"""Observing the gateway for ``serve --prometheus-port``: its requests, and its store's calls.

:class:`InstrumentedApp` goes around the whole gateway (the middleware and
all): each request is added to a :class:`~.tally.Tally` under its S3 operation
(``s3:ListAllMyBuckets``..., as the metering names it), its status, how long
the app took to answer (until the last byte was handed to the server), the
bytes of body read and answered for the caller's account (once a layer
checked its signature), and its S3 error code when that is an authentication
failure.  :class:`InstrumentedStore` times each call of the store and counts
those that fail, and the buckets of each listing.

Both only add to plain counters; :mod:`.prometheus` publishes them.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..envelope import ERROR_CODE_KEY, IDENTITY_KEY, StartResponse, WSGIApp
from ..hosts import ServiceHosts
from ..identity import Identity
from ..layers.metering import CountingInput, operation_of
from ..metrics.operations import LIST_ALL_MY_BUCKETS
from .tally import Tally

__all__ = ["LIST_METRICS", "OTHER", "InstrumentedApp", "InstrumentedStore"]

#: The operation label of the Service Utilization API's ``POST /``.
LIST_METRICS = "utapi:ListMetrics"
#: The operation label of a request that is no S3 operation.
OTHER = "other"

_clock = time.perf_counter


class InstrumentedApp:
    """``app``, each of its requests added to ``tally`` (see the module documentation)."""

    def __init__(self, app: WSGIApp, hosts: ServiceHosts, tally: Tally) -> None:
        self.app = app
        self.hosts = hosts
        self.tally = tally

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)      # (the middleware's meter, authorizer...)

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        started = _clock()
        self.tally.enter()
        request = _Request(self, environ, start_response, started)
        length = environ.get("CONTENT_LENGTH")
        if (length and length != "0") or "HTTP_TRANSFER_ENCODING" in environ:
            stream = environ.get("wsgi.input")
            if stream is not None:
                request.reader = environ["wsgi.input"] = CountingInput(stream)
        try:
            result = self.app(environ, request.start_response)
        except BaseException:
            request.status = "500"
            request.finish()
            raise
        if type(result) is list:
            request.sent = sum(map(len, result))
            request.finish()
            return result
        request.result = result
        return request

    def operation(self, environ: dict) -> str:
        """The request's operation label (``s3:GetObject``..., ``utapi:ListMetrics``, ``other``)."""
        hosts = self.hosts
        bucket_in_host = hosts.is_bucket_host(environ)
        if not bucket_in_host and environ.get("PATH_INFO") in ("/", ""):
            method = environ.get("REQUEST_METHOD")
            if method == "GET":
                return LIST_ALL_MY_BUCKETS
            if method == "POST":
                return LIST_METRICS
        return operation_of(environ, bucket_in_host) or OTHER


class _Request:
    """One request being observed: its status, the bytes it sent, then its line in the tally."""

    __slots__ = ("layer", "environ", "server_start_response", "started", "status", "reader",
                 "sent", "result", "done")

    def __init__(self, layer: InstrumentedApp, environ: dict,
                 start_response: StartResponse, started: float) -> None:
        self.layer = layer
        self.environ = environ
        self.server_start_response = start_response
        self.started = started
        self.status = "000"
        self.reader: CountingInput | None = None
        self.sent = 0
        self.result: Iterable[bytes] = ()
        self.done = False

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], Any]:
        self.status = status[:3]
        write = (self.server_start_response(status, headers) if exc_info is None
                 else self.server_start_response(status, headers, exc_info))

        def counted_write(data: bytes) -> Any:
            self.sent += len(data)
            return write(data)
        return counted_write

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.result:
            self.sent += len(chunk)
            yield chunk
        self.finish()

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.finish()

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        environ = self.environ
        identity = environ.get(IDENTITY_KEY)
        account = identity.account_id if type(identity) is Identity else None
        if self.environ.get("REQUEST_METHOD") == "HEAD":
            self.sent = 0
        self.layer.tally.request(
            self.layer.operation(environ), self.status, _clock() - self.started, account,
            0 if self.reader is None else self.reader.count, self.sent,
            environ.get(ERROR_CODE_KEY))


class InstrumentedStore:
    """``store``, each call of its methods timed into ``tally`` (failures counted by class).

    Other attributes are the store's own.  The errors a store's contract names
    (``LookupError`` such as an unknown bucket, a taken bucket name) are
    answers, not failures: they are timed, not counted as errors.  A listing
    (``list_buckets``) is counted by its buckets as it is read.
    """

    def __init__(self, store: Any, tally: Tally) -> None:
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_tally", tally)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._store, name)
        if name.startswith("_") or not callable(value):
            return value
        timed = _timed(name, value, self._tally)
        object.__setattr__(self, name, timed)     # (found directly from now on)
        return timed

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._store, name, value)


def _timed(name: str, method: Callable[..., Any], tally: Tally) -> Callable[..., Any]:
    from ..backends.base import BucketNameTaken

    def call(*args: Any, **kwargs: Any) -> Any:
        started = _clock()
        try:
            result = method(*args, **kwargs)
        except (LookupError, BucketNameTaken):
            tally.store_call(name, _clock() - started)
            raise
        except Exception as exc:
            tally.store_call(name, _clock() - started, type(exc).__name__)
            raise
        tally.store_call(name, _clock() - started)
        if name == "list_buckets":
            if type(result) is list:
                tally.listing(len(result))
            else:
                return _CountedListing(result, tally)
        return result
    call.__name__ = name
    call.__doc__ = method.__doc__
    return call


class _CountedListing:
    """A store's listing, its buckets counted as they are read; reported once, when done."""

    __slots__ = ("source", "iterator", "tally", "count", "done")

    def __init__(self, source: Iterable[Any], tally: Tally) -> None:
        self.source = source
        self.iterator = iter(source)
        self.tally = tally
        self.count = 0
        self.done = False

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        try:
            item = next(self.iterator)
        except StopIteration:
            self._report()
            raise
        self.count += 1
        return item

    def _report(self) -> None:
        if not self.done:
            self.done = True
            self.tally.listing(self.count)

    def close(self) -> None:
        close = getattr(self.source, "close", None)
        if close is not None:
            close()
        self._report()
