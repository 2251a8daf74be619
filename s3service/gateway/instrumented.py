"""Observing the gateway for ``serve --prometheus-port``: its requests.

:class:`InstrumentedApp` goes around the whole gateway (the middleware and
all): each request is added to a :class:`~.tally.Tally` under its S3 operation
(``s3:ListAllMyBuckets``..., as the metering names it), its status (the one
the envelope answered with: ``environ["s3service.status"]``), how long the
app took to answer (until the last byte was handed to the server), the bytes
of body read and answered for the caller's account (once a layer checked its
signature; the envelope answers ``HEAD`` with no body), and its S3 error code
when that is an authentication failure, and the buckets each ListBuckets
answer lists (``environ["s3service.listed"]``, which ListBuckets leaves for
every answer it makes whole; for a streamed listing, its ``<Bucket>``
elements counted in the bytes sent).
It only adds to plain counters; :mod:`.prometheus` publishes them.  (The
store's calls to its database are timed by the store itself:
:mod:`s3service.backends.sql.observing`.)
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..envelope import ERROR_CODE_KEY, IDENTITY_KEY, STATUS_KEY, StartResponse, WSGIApp
from ..hosts import ServiceHosts
from ..identity import Identity
from ..layers.metering import CountingInput, operation_of
from ..layers.service import LISTED_KEY
from ..metrics.operations import LIST_ALL_MY_BUCKETS
from .tally import Tally

__all__ = ["LIST_METRICS", "OTHER", "InstrumentedApp"]

#: The operation label of the Service Utilization API's ``POST /``.
LIST_METRICS = "utapi:ListMetrics"
#: The operation label of a request that is no S3 operation.
OTHER = "other"

_clock = time.perf_counter
_BUCKET = b"<Bucket>"


class InstrumentedApp:
    """``app``, each of its requests added to ``tally`` (see the module documentation)."""

    def __init__(self, app: WSGIApp, hosts: ServiceHosts, tally: Tally) -> None:
        self.app = app
        self.hosts = hosts
        self.tally = tally
        self.enter = tally.enter
        self.add = tally.add_request

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        started = _clock()
        self.enter()
        operation = self.operation(environ)
        reader = None
        length = environ.get("CONTENT_LENGTH")
        if (length and length != "0") or "HTTP_TRANSFER_ENCODING" in environ:
            stream = environ.get("wsgi.input")
            if stream is not None:
                reader = environ["wsgi.input"] = CountingInput(stream)
        try:
            result = self.app(environ, start_response)
        except BaseException:
            _Request(self.add, environ, started, operation, reader, [], "500").finish()
            raise
        if type(result) is not list:
            return _Request(self.add, environ, started, operation, reader, result)
        self.add(_record(environ, started, operation, environ.get(STATUS_KEY, "000"), reader,
                         sum(map(len, result)), environ.get(LISTED_KEY)))
        return result

    def operation(self, environ: dict) -> str:
        """The operation label: ``s3:GetObject``..., ``utapi:ListMetrics`` or ``other``."""
        bucket_in_host = self.hosts.is_bucket_host(environ)
        if not bucket_in_host and environ.get("PATH_INFO") in ("/", ""):
            method = environ.get("REQUEST_METHOD")
            if method == "GET":
                return LIST_ALL_MY_BUCKETS
            if method == "POST":
                return LIST_METRICS
        return operation_of(environ, bucket_in_host) or OTHER


class _Request:
    """A request whose answer is streamed (or failed): added to the tally once it ended."""

    __slots__ = ("add", "environ", "started", "operation", "reader", "result", "status", "sent",
                 "listed", "done")

    def __init__(self, add: Callable[[tuple], Any], environ: dict, started: float,
                 operation: str, reader: CountingInput | None, result: Iterable[bytes],
                 status: str | None = None) -> None:
        self.add = add
        self.environ = environ
        self.started = started
        self.operation = operation
        self.reader = reader
        self.result = result
        self.status = status          # (None: the one the envelope answered with)
        self.sent = 0
        self.listed: int | None = None
        self.done = False

    def __iter__(self) -> Iterator[bytes]:
        counting = (self.operation is LIST_ALL_MY_BUCKETS
                    and self.environ.get(STATUS_KEY, "").startswith("200"))
        if counting:
            self.listed = 0
        for chunk in self.result:
            self.sent += len(chunk)
            if counting:
                self.listed += chunk.count(_BUCKET)  # type: ignore[operator]
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
        status = self.status or self.environ.get(STATUS_KEY, "000")
        self.add(_record(self.environ, self.started, self.operation, status, self.reader,
                         self.sent, self.listed))


def _record(environ: dict, started: float, operation: str, status: str,
            reader: CountingInput | None, sent: int, listed: int | None) -> tuple:
    """The tuple an ended request adds to the tally (:data:`~.tally.REQUEST_FIELDS`)."""
    identity = environ.get(IDENTITY_KEY)
    return (operation, status, identity.account_id if type(identity) is Identity else None,
            0 if reader is None else reader.count, sent, environ.get(ERROR_CODE_KEY), listed,
            _clock() - started)
