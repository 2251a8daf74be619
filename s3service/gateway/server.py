"""Running the gateway (:mod:`s3service.gateway.app`) under gunicorn.

``s3service serve`` uses :func:`serve`; a plain ``gunicorn`` command can use
:func:`create_app`, configured from the environment::

    S3SERVICE_DB=sqlite:///s3service.db S3SERVICE_REGION=us-east-1 \\
    S3SERVICE_SERVICE_HOSTS="s3.example.com" gunicorn 's3service.gateway.server:create_app()'

(``examples/gunicorn.conf.py`` does the same from a config file.)
"""
from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

from ..backends.policy_base import PolicySource
from ..paste import as_list, make_store
from ..policies import PolicyAuthorizer
from ..regions import DEFAULT_REGION
from .app import make_app

DEFAULT_DB = "sqlite:///s3service.db"
ENV_DB = "S3SERVICE_DB"
ENV_REGION = "S3SERVICE_REGION"
ENV_SERVICE_HOSTS = "S3SERVICE_SERVICE_HOSTS"


def open_store(db: str | None = None) -> Any:
    """The store for a database URL (``memory`` for a throw-away in-memory one)."""
    return make_store(db or os.environ.get(ENV_DB) or DEFAULT_DB)


def create_app(db: str | None = None, region: str | None = None,
               service_hosts: Sequence[str] | None = None) -> Any:
    """The gateway behind the middleware, on the store at ``db``, enforcing its IAM policies.

    Arguments left out come from ``S3SERVICE_DB``, ``S3SERVICE_REGION`` and
    ``S3SERVICE_SERVICE_HOSTS`` (spaces or commas), then the defaults.
    """
    if region is None:
        region = os.environ.get(ENV_REGION) or DEFAULT_REGION
    if service_hosts is None:
        service_hosts = as_list(os.environ.get(ENV_SERVICE_HOSTS, ""))
    return make_policed_app(open_store(db), region=region, service_hosts=service_hosts)


def make_policed_app(store: Any, region: str = DEFAULT_REGION,
                     service_hosts: Sequence[str] = (), **middleware_options: Any) -> Any:
    """:func:`~.app.make_app` deciding with the IAM policies in ``store``.

    ``middleware_options`` go to the middleware, as with :func:`~.app.make_app`.

    An account's own keys may do everything; its IAM users what their
    policies allow (see :class:`~s3service.policies.PolicyAuthorizer`).  A
    store that keeps no policies gets the default authorizer.
    """
    options = {"authorizer": PolicyAuthorizer(store)} if isinstance(store, PolicySource) else {}
    return make_app(store, region=region, service_hosts=service_hosts, **options,
                    **middleware_options)


def check_bind(host: str, port: int) -> None:
    """Raise :class:`OSError` now if ``host:port`` cannot be listened on (taken, no such address).

    gunicorn would find out too, but only after retrying for seconds, in log lines.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as gunicorn does
        sock.bind(address)


def run_gunicorn(app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
    """Serve the app ``app_factory()`` makes under gunicorn, with gunicorn ``options``.

    Blocks until gunicorn stops (SIGINT/SIGTERM); exits the process if
    gunicorn fails to start (e.g. the port is taken).
    """
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            for name, value in options.items():
                # Skip settings this gunicorn does not know (newer or older version).
                if value is not None and name in self.cfg.settings:
                    self.cfg.set(name, value)

        def load(self) -> Any:
            return app_factory()

    Server(prog="s3service serve").run()


#: ``serve --worker-class`` choices: s3service's own (:mod:`.worker`, safe with slow
#: clients) and two of gunicorn's.
WORKER_CLASSES = {"s3service": "s3service.gateway.worker.Worker", "gthread": "gthread",
                  "sync": "sync"}
#: gunicorn's worker model for ``serve`` (``benchmarks/RESULTS.rst`` has the measurements).
WORKER_CLASS = "s3service"
#: Threads per worker: more than a handful of slow uploaders or readers may hold at once.
THREADS = 16
#: Seconds a request waits for the database's answer before it gets 503.
BACKEND_TIMEOUT = 5.0


def default_workers() -> int:
    """One worker process per CPU this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def gunicorn_options(*, host: str = "127.0.0.1", port: int = 8000, workers: int | None = None,
                     worker_class: str = WORKER_CLASS, threads: int = THREADS,
                     log_level: str = "info", access_log: bool = False,
                     timeout: int = 30) -> dict[str, Any]:
    """The gunicorn settings :func:`serve` runs with (``workers=None``: :func:`default_workers`)."""
    return {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": default_workers() if workers is None else workers,
        "worker_class": WORKER_CLASSES.get(worker_class, worker_class),
        "threads": threads,
        "timeout": timeout,
        "loglevel": log_level,
        "accesslog": "-" if access_log else None,
        # No presigned URL's signature or session token in its logs, no line of a client's.
        "logger_class": "s3service.gateway.logs.GunicornLogger",
        "proc_name": "s3service",
        # gunicorn >= 25.1 opens a control socket at a fixed per-user path by
        # default; several servers on one machine would fight over it.
        "control_socket_disable": True,
    }


def serve(store: Any, *, region: str = DEFAULT_REGION, service_hosts: Sequence[str] = (),
          metrics: bool = False, metrics_admins: Sequence[str] = (), **options: Any) -> None:
    """Serve the gateway on ``store`` under gunicorn; ``options`` as :func:`gunicorn_options` takes.

    IAM users are held to the policies in ``store`` (:func:`make_policed_app`).
    ``metrics``: meter every request into ``store`` and answer ListMetrics, the
    service level to the ``metrics_admins`` accounts only (see :mod:`s3service.metrics`).

    The store is opened once in gunicorn's master and inherited by the
    workers: the SQL store opens its own connections in each worker; an
    in-memory store must run with one worker (its buckets live in that one).
    """
    def factory() -> Any:
        extra = {"metrics": store, "metrics_admins": list(metrics_admins)} if metrics else {}
        return make_policed_app(store, region=region, service_hosts=service_hosts, **extra)

    run_gunicorn(factory, gunicorn_options(**options))
