"""The metering layer: every request counted by the :class:`~s3service.metrics.Meter`.

Example::

    from s3service.hosts import ServiceHosts
    from s3service.layers.metering import MeteringLayer
    from s3service.metrics import Meter

    app = MeteringLayer(inner_app, Meter(store), ServiceHosts(["s3.example.com"]))

Each request is counted under its UTAPI operation (``s3:PutObject``...,
:func:`~s3service.metrics.classify`), with the body bytes the app reads
(incoming) and the bytes it answers (outgoing), for the service and -- only
when a layer behind checked its signature and left the caller in
``environ["s3service.identity"]`` -- its account, its user and its bucket (the
meter keeps the bucket only if it exists and is the caller's account's).  ListBuckets
(``GET /``), which reads no body, is counted without wrapping anything;
the service's other requests to ``/`` (ListMetrics, a refused method) are
not counted.  The app finds the meter in ``environ["s3service.metrics"]``
(to report what it stores, :meth:`~s3service.metrics.Meter.record_storage`).

A response body that is a list, or a ``wsgi.file_wrapper`` with a
``Content-Length`` (so the server can still ``sendfile`` it), is passed on
untouched and counted at once; any other is wrapped and counted once it is
all sent or closed.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..envelope import IDENTITY_KEY, StartResponse, WSGIApp
from ..hosts import ServiceHosts
from ..identity import Identity
from ..metrics.meter import METER_KEY, Meter
from ..metrics.operations import LIST_ALL_MY_BUCKETS, classify
from ..wsgi import full_path

__all__ = ["CountingInput", "MeteringLayer", "count_answer", "metered_call", "operation_of"]


class MeteringLayer:
    """Counts every request through ``app`` with ``meter`` (see the module documentation).

    ``authenticated``: the layers behind check every request's signature, so a
    request passed on also counts for the caller's account and user.
    """

    def __init__(self, app: WSGIApp, meter: Meter, hosts: ServiceHosts, *,
                 authenticated: bool = False) -> None:
        self.app = app
        self.meter = meter
        self.hosts = hosts
        self.authenticated = authenticated

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        environ.pop(IDENTITY_KEY, None)  # only an identity checked behind is ever billed
        hosts = self.hosts
        bucket_in_host = hosts.is_bucket_host(environ)
        if not bucket_in_host and full_path(environ) in ("/", ""):
            if environ.get("REQUEST_METHOD", "GET") == "GET":
                return count_answer(self.meter, environ, self.app(environ, start_response),
                                    LIST_ALL_MY_BUCKETS)
            return self.app(environ, start_response)
        return metered_call(self.meter, self.app, environ, start_response,
                            operation_of(environ, bucket_in_host),
                            hosts.bucket_of(environ, bucket_in_host),
                            authenticated=self.authenticated)


def operation_of(environ: dict, bucket_in_host: bool) -> str | None:
    """The UTAPI name of a request's S3 operation (``s3:GetObject``...), or ``None``.

    Read from the whole path the client signed (``SCRIPT_NAME`` + ``PATH_INFO``).
    """
    return classify(environ.get("REQUEST_METHOD", "GET"), full_path(environ) or "/",
                    environ.get("QUERY_STRING") or "", bucket_in_host=bucket_in_host,
                    copy_source="HTTP_X_AMZ_COPY_SOURCE" in environ)


def count_answer(meter: Meter, environ: dict, result: Iterable[bytes], operation: str
                 ) -> Iterable[bytes]:
    """Count an answer made without reading a request body.

    The caller is the identity left in ``environ["s3service.identity"]``, if
    any.  A list is counted at once and returned as it is; anything else is
    counted as it is sent.  (No wrapping of ``start_response`` nor
    ``wsgi.input``: ListBuckets is metered without them; see
    ``benchmarks/metering.py``.)
    """
    if type(result) is not list:
        metered = MeteredResponse(meter, operation, None, None, None, environ)
        metered.result = result
        return metered
    sent = sum(map(len, result))
    identity = environ.get(IDENTITY_KEY)
    if type(identity) is Identity:
        meter.count(operation, 0, sent, None, identity.account_id, identity.user)
    else:
        meter.count(operation, 0, sent)
    return result


def metered_call(meter: Meter, app: Callable[..., Iterable[bytes]], environ: dict,
                 start_response: Callable[..., Any], operation: str | None,
                 bucket: str | None = None, *, authenticated: bool = False) -> Iterable[bytes]:
    """Call ``app`` counting the body bytes it reads and the bytes it answers.

    ``bucket``: the bucket the request addresses.  ``authenticated``: ``app``
    checks the request's signature and leaves the caller's
    :class:`~s3service.identity.Identity` in ``environ["s3service.identity"]``,
    so the request also counts for that account and user.
    """
    stream = environ.get("wsgi.input")
    reader = None
    if stream is not None:
        reader = environ["wsgi.input"] = CountingInput(stream)
    environ[METER_KEY] = meter
    metered = MeteredResponse(meter, operation, reader, start_response, bucket,
                              environ if authenticated else None)
    try:
        result = app(environ, metered.start_response)
    except BaseException:
        metered.finish()
        raise
    if type(result) is list:
        # Fully produced already (the common case): count it now, hand it on as is.
        metered.sent += sum(map(len, result))
        metered.finish()
        return result
    wrapper = environ.get("wsgi.file_wrapper")
    if (type(wrapper) is type and isinstance(result, wrapper)
            and metered.headers is not None):
        length = _content_length(metered.headers)
        if length is not None:
            if environ.get("REQUEST_METHOD") != "HEAD":
                metered.sent += length
            metered.finish()
            return result
    metered.result = result
    return metered


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class CountingInput:
    """``wsgi.input`` counting the bytes read through it; nothing is buffered."""

    __slots__ = ("stream", "count")

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.count = 0

    def read(self, *args: Any) -> bytes:
        data = self.stream.read(*args)
        self.count += len(data)
        return data

    def readline(self, *args: Any) -> bytes:
        data = self.stream.readline(*args)
        self.count += len(data)
        return data

    def readlines(self, *args: Any) -> list[bytes]:
        lines = self.stream.readlines(*args)
        self.count += sum(map(len, lines))
        return lines

    def __iter__(self) -> Iterator[bytes]:
        for line in self.stream:
            self.count += len(line)
            yield line

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class MeteredResponse:
    """The response of one metered request: counts what is sent, then reports on close."""

    __slots__ = ("meter", "operation", "reader", "server_start_response", "server_write",
                 "headers", "result", "sent", "done", "bucket", "environ")

    def __init__(self, meter: Meter, operation: str | None, reader: CountingInput | None,
                 start_response: Callable[..., Any] | None, bucket: str | None,
                 environ: dict | None) -> None:
        self.meter = meter
        self.bucket = bucket
        self.environ = environ
        self.operation = operation
        self.reader = reader
        self.server_start_response = start_response  # (None: not to be wrapped)
        self.server_write: Callable[[bytes], Any] | None = None
        self.headers: list[tuple[str, str]] | None = None
        self.result: Iterable[bytes] = ()
        self.sent = 0
        self.done = False

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], Any]:
        self.headers = headers
        if exc_info is None:
            self.server_write = self.server_start_response(status, headers)
        else:
            self.server_write = self.server_start_response(status, headers, exc_info)
        return self.write

    def write(self, data: bytes) -> Any:
        self.sent += len(data)
        return self.server_write(data)  # type: ignore[misc]

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.result:
            self.sent += len(chunk)
            yield chunk
        self.finish()  # all sent: no need to wait for close() (which a server might forget)

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
        reader = self.reader
        identity = None if self.environ is None else self.environ.get(IDENTITY_KEY)
        incoming = 0 if reader is None else reader.count
        if type(identity) is Identity:
            self.meter.count(self.operation, incoming, self.sent, None, identity.account_id,
                             identity.user, self.bucket)
        else:  # no checked caller: the service only
            self.meter.count(self.operation, incoming, self.sent)
