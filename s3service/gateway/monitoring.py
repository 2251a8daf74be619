"""``serve --prometheus-port``, put together: the exporter, and each worker observed.

:class:`Monitoring` is made by :func:`~.server.serve` in its main process,
before granian forks the workers: it names the multiprocess directory and
forks the exporter (:mod:`.exporter`).  In each worker,
:meth:`Monitoring.app` wraps the gateway (:mod:`.instrumented`) and
:meth:`Monitoring.store` has the store time its calls to its database
(:mod:`s3service.backends.sql.observing`), both into one tally, whose counts a
:class:`~.prometheus.Publisher` thread hands to ``prometheus_client``
(:mod:`.prometheus`).
"""
from __future__ import annotations

from typing import Any

from .tally import Tally

__all__ = ["Monitoring"]


class Monitoring:
    """The Prometheus endpoint of one ``serve``: call :meth:`close` when the server stops.

    :param host: the address the exporter listens on.
    :param port: its port.
    :param store: what ``/readyz`` asks.
    :param timeout: the longest ``/readyz`` waits for the store, in seconds.
    """

    def __init__(self, host: str, port: int, store: Any, timeout: float) -> None:
        import sys

        from . import prometheus
        from .exporter import start_exporter

        if "prometheus_client" in sys.modules:
            # (it chose how to keep its values when it was imported: in this process only)
            raise RuntimeError("prometheus_client was imported before serve could set "
                               "PROMETHEUS_MULTIPROC_DIR: the workers' metrics would not be "
                               "shared")
        self.directory = prometheus.use_directory()
        self.exporter = start_exporter(host, port, store, timeout)
        self.tally: Tally | None = None
        self.publisher: Any = None

    def store(self, store: Any) -> Any:
        """``store`` as this worker uses it: its calls to its database timed, when it has one
        (a SQL store; call it once per worker)."""
        from .prometheus import Publisher

        self.tally = Tally()
        self.publisher = Publisher(self.tally)
        self.publisher.start()
        observe = getattr(store, "observe_database", None)
        if observe is not None:
            observe(self.tally)
        return store

    def app(self, app: Any) -> Any:
        """The gateway ``app`` (the middleware) as this worker serves it: each request counted."""
        from .instrumented import InstrumentedApp

        assert self.tally is not None, "store() first"
        return InstrumentedApp(app, app.hosts, self.tally)

    def stop_worker(self) -> None:
        """A worker leaves: what it counted is published."""
        if self.publisher is not None:
            self.publisher.stop()

    def close(self) -> None:
        """Stop the exporter and remove the metrics' files."""
        from .prometheus import remove_directory

        self.exporter.terminate()
        self.exporter.join(10)
        remove_directory(self.directory)
