"""The port of ``serve --prometheus-port``: ``/metrics``, ``/healthz`` and ``/readyz``.

A process of its own, forked by ``serve`` before granian starts its workers
(:func:`start_exporter`), answers on ``--prometheus-host`` (loopback unless
told otherwise):

``GET /metrics``
    every worker's metrics added up (``prometheus_client``'s multiprocess
    collector, see :mod:`.prometheus`): the Prometheus text format, or
    OpenMetrics when the scraper asks for it (``Accept``), as
    ``prometheus_client`` chooses.
``GET /healthz``
    ``200 ok``: the server runs.
``GET /readyz``
    ``200 ready`` when the store answers a look-up within
    ``timeout`` seconds, else ``503`` with the reason (a load balancer then
    sends its requests elsewhere).

Anything else is ``404``.  The process leaves when ``serve`` stops (or dies).
"""
from __future__ import annotations

import multiprocessing
import os
import socketserver
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

__all__ = ["Readiness", "exporter_app", "start_exporter"]

#: The account :class:`Readiness` lists the buckets of: none has this ID (no bucket to read),
#: and the store asks the database each time (a listing reads the account's version first).
PROBE_ACCOUNT = "s3service-readiness-probe"


class Readiness:
    """Whether ``store`` answers (``list_buckets``) within ``timeout`` seconds.

    One probe runs at a time, on a thread of its own: concurrent checks wait
    for the same answer, and a probe stuck on a database that does not
    answer is not started again until it returns.
    """

    def __init__(self, store: Any, timeout: float) -> None:
        self.store = store
        self.timeout = timeout
        self._lock = threading.Lock()
        self._probe: tuple[threading.Event, list[str | None]] | None = None

    def check(self) -> str | None:
        """``None`` when the store answered; else why not (one line)."""
        with self._lock:
            if self._probe is None:
                done, outcome = threading.Event(), [None]
                self._probe = (done, outcome)
                threading.Thread(target=self._run, args=(done, outcome), daemon=True).start()
            done, outcome = self._probe
        if not done.wait(self.timeout):
            return f"the store did not answer within {self.timeout:g} s"
        return outcome[0]

    def _run(self, done: threading.Event, outcome: list[str | None]) -> None:
        try:
            for _ in self.store.list_buckets(PROBE_ACCOUNT, limit=1):
                pass
        except Exception as exc:
            outcome[0] = " ".join(f"the store failed: {type(exc).__name__}: {exc}".split())[:300]
        finally:
            with self._lock:
                self._probe = None
            done.set()


def exporter_app(readiness: Readiness | None) -> Callable[..., Iterable[bytes]]:
    """The exporter's WSGI app (``readiness=None``: ``/readyz`` always ready)."""
    from prometheus_client import CollectorRegistry, make_wsgi_app, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    scrape = make_wsgi_app(registry)

    def app(environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return scrape(environ, start_response)
        if path == "/healthz":
            return _text(start_response, "200 OK", "ok")
        if path == "/readyz":
            problem = None if readiness is None else readiness.check()
            if problem is None:
                return _text(start_response, "200 OK", "ready")
            return _text(start_response, "503 Service Unavailable", f"not ready: {problem}")
        return _text(start_response, "404 Not Found", "not found: try /metrics, /healthz "
                                                      "or /readyz")
    return app


def _text(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    body = (text + "\n").encode("utf-8", "replace")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
    return [body]


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:   # (scrapes are not logged)
        pass


def _serve(host: str, port: int, store: Any, timeout: float, parent: int) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)       # (Ctrl-C: serve stops this itself)
    readiness = Readiness(store, timeout) if store is not None else None
    address_family = _family(host)
    server_class = type("ExporterServer", (_Server,), {"address_family": address_family})
    with make_server(host, port, exporter_app(readiness), server_class=server_class,
                     handler_class=_Quiet) as server:
        server.timeout = 1.0
        while os.getppid() == parent:                   # (serve died: leave too)
            server.handle_request()


def _family(host: str) -> int:
    import socket

    return socket.AF_INET6 if ":" in host else socket.AF_INET


def start_exporter(host: str, port: int, store: Any, timeout: float) -> multiprocessing.Process:
    """Fork the exporter process answering on ``host:port``; the caller stops it (``terminate``).

    ``store``: the one ``/readyz`` asks (``None``: always ready); ``timeout``:
    the longest ``/readyz`` waits for it.
    """
    context = multiprocessing.get_context("fork")
    process = context.Process(target=_serve, name="s3service-exporter", daemon=True,
                              args=(host, port, store, timeout, os.getpid()))
    process.start()
    return process
