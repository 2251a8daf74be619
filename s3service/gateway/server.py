"""Running the gateway (:mod:`s3service.gateway.app`) under granian, or under any WSGI server.

``s3service serve`` uses :func:`serve`: granian's WSGI interface, one worker
process per CPU.  Another WSGI server (gunicorn, uWSGI...) can use
:func:`create_app`, configured from the environment::

    S3SERVICE_DB=sqlite:///s3service.db S3SERVICE_REGION=us-east-1 \\
    S3SERVICE_SERVICE_HOSTS="s3.example.com" gunicorn 's3service.gateway.server:create_app()'

(``examples/gunicorn.conf.py`` does the same from a config file.)

What ``serve`` asks of granian, and why (the values are this module's constants):

* HTTP/1.1 only.  With HTTP/2 allowed as well, granian first waits for a
  connection's opening bytes with no time limit, so sockets that never send
  anything were never closed and filled a worker's connections.
* :data:`HEADER_TIMEOUT`: a client has that long to send a request's head,
  on a new connection and between requests on a kept-alive one; then the
  connection is closed.  This bounds slowloris clients and idle keep-alive
  connections alike.
* :data:`MAX_HEAD`: the largest request head (longer ones get ``431``); S3
  itself takes 8 KiB of headers.
* :data:`CONNECTIONS` per worker: far more than a thousand idle sockets, each
  closed within :data:`HEADER_TIMEOUT`.
* :data:`THREADS` per worker run the application.  Heads are read, and
  answers written, by granian's own event loop, so a slow client costs no
  thread -- except a reader that stops reading a long streamed listing, which
  holds one until it reads on, leaves, or stalls for longer than
  ``send_timeout`` (:mod:`.sendtimeout`: the connection is then dropped).

granian starts its workers with :mod:`multiprocessing`; ``serve`` has it fork
them, so that each worker inherits the store the ``s3service`` command
opened (an in-memory store with its demo account, too) and the library's
fork hooks (:func:`s3service.forking.in_each_child`) renew what must not be
shared: SQL connection pools, the request id generator, the metering queue.
A worker leaves through ``os._exit``, where :mod:`atexit` does not run: its
metered counts are flushed by :func:`at_worker_exit` instead.
"""
from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.util
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..backends.protocols import AdminStore, PolicySource
from ..backends.secretbox import ENV_KEY_FILE
from ..metrics.meter import DEFAULT_RETENTION_DAYS
from ..paste import as_list, make_store
from ..payload.idle import DEFAULT_IDLE_TIMEOUT
from ..policies import PolicyAuthorizer
from ..regions import DEFAULT_REGION
from .app import MAX_BUCKETS, make_app
from .sendtimeout import DEFAULT_SEND_TIMEOUT, with_send_timeout

DEFAULT_DB = "sqlite:///s3service.db"
ENV_DB = "S3SERVICE_DB"
ENV_REGION = "S3SERVICE_REGION"
ENV_SERVICE_HOSTS = "S3SERVICE_SERVICE_HOSTS"

#: Threads per worker running the application (``serve --threads``): more than the
#: stalled readers of long listings a worker is expected to hold at once.
THREADS = 32
#: The port ``serve`` listens on unless told.
PORT = 8000
#: Seconds a request waits for the database's answer before it gets 503.
BACKEND_TIMEOUT = 5.0
#: Connections each worker holds at most to a database server (``serve --db-pool-size``):
#: 8 for a two-CPU server, so 12 such servers fit PostgreSQL's default ``max_connections``
#: (100), more through PgBouncer.  Two per worker served a quarter fewer requests on a busy
#: machine (benchmarks/connections.py); see docs/scaling.rst.
DB_POOL_SIZE = 4
#: Seconds a client has to send a request head (also the longest idle keep-alive).
HEADER_TIMEOUT = 10.0
#: Bytes of the largest request head.
MAX_HEAD = 64 * 1024
#: Connections a worker holds at most (idle ones included).
CONNECTIONS = 16384
#: Seconds a stopping worker has to finish its requests before it is killed.
STOP_TIMEOUT = 30


def open_store(db: str | None = None, secrets_key_file: str | None = None) -> AdminStore:
    """The store for a database URL (``memory`` for a throw-away in-memory one).

    Its secret keys are encrypted with the keys in ``secrets_key_file``, else
    in ``$S3SERVICE_SECRETS_KEY_FILE``, if either is given (SQL stores only).
    """
    return make_store(db or os.environ.get(ENV_DB) or DEFAULT_DB, None,
                      secrets_key_file or os.environ.get(ENV_KEY_FILE) or None)


def check_secrets(store: AdminStore) -> int:
    """Refuse a store whose stored secret keys it cannot open; how many are in plaintext.

    Raises :class:`~s3service.backends.secretbox.SecretUnreadable`.  Stores
    that keep nothing at rest pass.
    """
    try:
        from ..backends.sql import SQLBackend
        from ..backends.sql.sealing import check_openable
    except ImportError:             # no SQLAlchemy: no SQL store either
        return 0
    if not isinstance(store, SQLBackend):
        return 0
    return check_openable(store)


def create_app(db: str | None = None, region: str | None = None,
               service_hosts: Sequence[str] | None = None) -> Any:
    """The gateway behind the middleware, on the store at ``db``, enforcing its IAM policies.

    Arguments left out come from ``S3SERVICE_DB``, ``S3SERVICE_REGION`` and
    ``S3SERVICE_SERVICE_HOSTS`` (spaces or commas), then the defaults; the key
    of encrypted secret keys from ``S3SERVICE_SECRETS_KEY_FILE``.  A database
    holding secret keys encrypted with a key not given is refused here.
    """
    if region is None:
        region = os.environ.get(ENV_REGION) or DEFAULT_REGION
    if service_hosts is None:
        service_hosts = as_list(os.environ.get(ENV_SERVICE_HOSTS, ""))
    store = open_store(db)
    check_secrets(store)
    return with_iam(make_policed_app(store, region=region, service_hosts=service_hosts), store)


def with_iam(app: Any, store: AdminStore, middleware: Any = None) -> Any:
    """The IAM and STS APIs (:class:`~s3service.iam.IAMLayer`) in front of the middleware
    ``app``, on the same store, region, hosts and authorizer.

    ``middleware``: the :class:`~s3service.S3ServiceMiddleware` to take those
    from, when ``app`` wraps it (default: ``app`` itself).
    """
    from ..iam import IAMLayer

    middleware = app if middleware is None else middleware
    return IAMLayer(app, store, region=middleware.region, authorizer=middleware.authorizer,
                    clock_skew=middleware.clock_skew, service_hosts=middleware.service_hosts,
                    idle_timeout=middleware.idle_timeout)


def make_policed_app(store: AdminStore, region: str = DEFAULT_REGION,
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
    """Raise :class:`OSError` now if ``host:port`` cannot be listened on (taken, no such address)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as the server does
        sock.bind(address)


def log_database_connections(store: AdminStore, workers: int | None) -> None:
    """Log the most database connections this server will hold (a store with a pool only)."""
    size = getattr(store, "pool_size", None)
    if size is None or getattr(store, "database_kind", "sqlite") == "sqlite":
        return
    workers = default_workers() if workers is None else workers
    logging.getLogger("s3service.gateway").info(
        "database connections: at most %d per worker, %d for this server (%d workers)",
        size, size * workers, workers)


def default_workers() -> int:
    """One worker process per CPU this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def granian_options(*, host: str = "127.0.0.1", port: int = PORT, workers: int | None = None,
                    threads: int = THREADS, log_level: str = "info", access_log: bool = False,
                    certfile: str | None = None, keyfile: str | None = None) -> dict[str, Any]:
    """The settings of granian's ``Server`` :func:`serve` runs with (``workers=None``: one per CPU).

    ``certfile`` and ``keyfile`` (PEM files, both or neither): serve HTTPS.
    """
    from granian.constants import HTTPModes, Interfaces, SSLProtocols
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    from .logs import granian_logging

    if (certfile is None) != (keyfile is None):
        raise ValueError("HTTPS needs both a certificate and its key")
    workers = default_workers() if workers is None else workers
    tls = {} if certfile is None else {
        "ssl_cert": Path(certfile), "ssl_key": Path(keyfile),   # type: ignore[arg-type]
        # (S3 and its SDKs speak TLS 1.2 and up; granian's default minimum is 1.3)
        "ssl_protocol_min": SSLProtocols.tls12}
    return {
        "address": host, "port": port, "interface": Interfaces.WSGI, "workers": workers,
        "blocking_threads": threads, "http": HTTPModes.http1,
        "http1_settings": HTTP1Settings(header_read_timeout=int(HEADER_TIMEOUT * 1000),
                                        max_buffer_size=MAX_HEAD),
        "backpressure": CONNECTIONS,
        "log_level": LogLevels(log_level), "log_dictconfig": granian_logging(log_level),
        "log_access": access_log, "workers_kill_timeout": STOP_TIMEOUT, **tls,
    }


def at_worker_exit(callback: Callable[[], None]) -> None:
    """Call ``callback()`` when this server worker process leaves.

    granian's workers are :mod:`multiprocessing` children, which leave through
    ``os._exit`` after running multiprocessing's own exit functions, not
    :mod:`atexit`'s.  In a process that is no such child, this is :mod:`atexit`.
    """
    if multiprocessing.parent_process() is None:
        import atexit

        atexit.register(callback)
    else:
        multiprocessing.util.Finalize(None, callback, exitpriority=10)


def allow_open_files(count: int) -> None:
    """Raise this process's (and its future workers') open file limit towards ``count``.

    Many systems start processes with a soft limit of 1,024, well under the
    connections a worker may hold; the hard limit is as far as it may go.
    """
    try:
        import resource
    except ImportError:            # (not on Windows)
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= count:
        return
    wanted = count if hard == resource.RLIM_INFINITY else min(count, hard)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def forget_request_variables() -> None:
    """Remove from this process's environment the variables named as a request's are.

    granian 2.8 starts every request's WSGI environ from a copy of the
    worker's environment: an ``HTTP_AUTHORIZATION`` or ``CONTENT_LENGTH`` the
    server was started with would read as the request's own header wherever
    the request has none.
    """
    for name in [name for name in os.environ
                 if name.startswith("HTTP_") or name in ("CONTENT_LENGTH", "CONTENT_TYPE")]:
        del os.environ[name]


def run_granian(app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
    """Serve the app ``app_factory()`` makes (in each worker) under granian, with ``options``.

    Blocks until the server stops (SIGINT/SIGTERM: each worker finishes its
    requests first, for at most :data:`STOP_TIMEOUT` seconds).
    """
    from granian.server import Server

    if "fork" in multiprocessing.get_all_start_methods():
        multiprocessing.set_start_method("fork", force=True)     # see the module's docstring
    allow_open_files(options.get("backpressure", CONNECTIONS) + 64)

    def load() -> Any:              # (in each worker)
        if hasattr(os, "setpgid"):
            # Out of the terminal's process group: Ctrl-C then signals the main
            # process only, which stops the workers with SIGTERM.  (granian 2.8's
            # workers, signalled SIGINT by the terminal and SIGTERM by their
            # main process, often never stopped.)
            os.setpgid(0, 0)
        forget_request_variables()
        return app_factory()

    server = Server("s3service.gateway.server:create_app", **options)
    server.serve(target_loader=load, wrap_loader=False)


def serve(store: AdminStore, *, region: str = DEFAULT_REGION, service_hosts: Sequence[str] = (),
          metrics: bool = False, metrics_admins: Sequence[str] = (),
          metrics_retention_days: float | None = DEFAULT_RETENTION_DAYS,
          max_buckets: int | None = MAX_BUCKETS,
          idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
          send_timeout: float | None = DEFAULT_SEND_TIMEOUT,
          prometheus: tuple[str, int] | None = None, **options: Any) -> None:
    """Serve the gateway on ``store`` under granian; ``options`` as :func:`granian_options` takes.

    IAM users are held to the policies in ``store`` (:func:`make_policed_app`); tenants
    manage their own with ``aws iam`` and ``aws sts`` on the same endpoint (:func:`with_iam`).
    ``metrics``: meter every request into ``store`` and answer ListMetrics, the
    service level to the ``metrics_admins`` accounts only (see :mod:`s3service.metrics`),
    keeping ``metrics_retention_days`` of request counters (``None``: all).
    ``max_buckets``: the most buckets an account may create (``None``: no limit);
    ``idle_timeout``: the longest a request body may stall (the middleware's);
    ``send_timeout``: the longest an answer may stall, its client reading
    nothing, before the connection is dropped (:mod:`.sendtimeout`; ``None``: no bound).
    ``prometheus``: ``(host, port)`` to serve ``/metrics``, ``/healthz`` and
    ``/readyz`` on (see :mod:`.monitoring`).

    The store is opened once, by the caller, and inherited by each forked
    worker: the SQL store opens its own connections in each worker; an
    in-memory store must run with one worker (its buckets live in that one).
    Each worker flushes its metered counts when it stops.
    """
    monitoring = None
    if prometheus is not None:
        from .monitoring import Monitoring

        monitoring = Monitoring(*prometheus, store=store,
                                timeout=getattr(store, "backend_timeout", None) or BACKEND_TIMEOUT)

    def factory() -> Any:
        used = store if monitoring is None else monitoring.store(store)
        extra = {"metrics": used, "metrics_admins": list(metrics_admins),
                 "metrics_retention_days": metrics_retention_days} if metrics else {}
        middleware = make_policed_app(used, region=region, service_hosts=service_hosts,
                                      max_buckets=max_buckets, idle_timeout=idle_timeout, **extra)
        app = middleware
        if monitoring is not None:
            app = monitoring.app(middleware)
            at_worker_exit(monitoring.stop_worker)       # (exit callbacks run last first)
        if middleware.meter is not None:
            at_worker_exit(middleware.meter.close)
        at_worker_exit(logging.shutdown)          # (its lines are written in batches)
        return with_send_timeout(with_iam(app, store, middleware), options.get("port", PORT),
                                 send_timeout)

    try:
        run_granian(factory, granian_options(**options))
    finally:
        if monitoring is not None:
            monitoring.close()
