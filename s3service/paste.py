"""PasteDeploy entry point: ``egg:s3service#s3service``.

Example ``paste.ini``::

    [pipeline:main]
    pipeline = s3service gateway

    [filter:s3service]
    use = egg:s3service#s3service
    db = sqlite:///s3service.db
    region = us-east-1
    service_hosts = s3.example.com s3.internal
    clock_skew = 900
    authenticate_all = true

    [app:gateway]
    use = egg:mygateway#main

Options:

``db``
    Store URL for :class:`~s3service.backends.sql.SQLBackend` (``sqlite:///...``,
    ``postgresql+psycopg://...``), or ``memory`` for an empty in-memory store.
``backend``
    Instead of ``db``: ``package.module:factory``, called with no arguments, returning
    an object with ``get_credential`` and ``list_buckets``.
``authorizer``
    ``package.module:factory`` returning an authorizer, or ``policies``: the
    IAM policies in the store (:class:`s3service.policies.PolicyAuthorizer`).
    Default: the middleware's (the store's IAM policies when it keeps them,
    as both bundled stores do; else every authenticated caller may do
    everything).
``metrics``
    ``true`` to meter every request and answer ``POST /?Action=ListMetrics``
    with the store of ``db``/``backend`` as the metrics store (both bundled
    stores are one), or ``package.module:factory`` for a metrics store of its
    own; ``false`` (the default) for neither.  See :mod:`s3service.metrics`.
``metrics_flush_interval``
    Seconds between writes of the metered counts to the store (default 10).
``metrics_retention_days``
    Days of metered request counts kept in the store (default 400); ``0`` or
    empty keeps them all.
``metrics_admins``
    Account IDs (spaces or commas) of the operators who may read the
    service-level (fleet-wide) metrics and any account's or bucket's; everyone
    else reads only its own account, users and buckets.  Default: none.
``backend_timeout``
    Seconds a request may wait for the store (credential look-up, first page of
    a listing) before it is answered ``503 ServiceUnavailable``; unset or empty
    (the default) for no bound.  See :mod:`s3service.timeouts`.

``region``, ``service_hosts`` (spaces or commas), ``clock_skew`` (seconds),
``authenticate_all`` (true/false) and ``token_secret`` are as the
:class:`~s3service.S3ServiceMiddleware` parameters of the same names.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from .middleware import S3ServiceMiddleware
from .regions import DEFAULT_REGION

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def as_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return str(value).replace(",", " ").split()


def load_object(spec: str) -> Any:
    """``package.module:attribute`` → the attribute."""
    module, _, attribute = spec.partition(":")
    if not module or not attribute:
        raise ValueError(f"expected 'package.module:name', got {spec!r}")
    obj: Any = importlib.import_module(module)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


def make_store(db: str | None = None, backend: str | None = None) -> Any:
    """The store named by a ``db`` URL or a ``backend`` factory path."""
    if backend:
        return load_object(backend)()
    if not db or db == "memory":
        from .backends.memory import MemoryBackend
        return MemoryBackend()
    from .backends.sql import SQLBackend
    return SQLBackend(db)


def make_authorizer(spec: str | None, store: Any) -> Any:
    """The authorizer an ``authorizer`` option names (``policies``: the store's IAM policies)."""
    if not spec or not str(spec).strip():
        return None
    if str(spec).strip() == "policies":
        from .policies import PolicyAuthorizer
        return PolicyAuthorizer(store)
    return load_object(spec)()


def filter_factory(global_conf: dict[str, Any],
                   **local_conf: Any) -> Callable[[Any], S3ServiceMiddleware]:
    """Build the middleware from a paste ``[filter:...]`` section."""
    conf = {**global_conf, **local_conf}
    store = make_store(conf.get("db"), conf.get("backend"))
    authorizer = make_authorizer(conf.get("authorizer"), store)
    options: dict[str, Any] = {
        "region": conf.get("region", DEFAULT_REGION),
        "service_hosts": as_list(conf.get("service_hosts", "")),
        "clock_skew": float(conf.get("clock_skew", 900)),
        "authenticate_all": as_bool(conf.get("authenticate_all", False)),
        "token_secret": conf.get("token_secret") or None,
    }
    metrics = str(conf.get("metrics", "")).strip()
    if metrics and ":" in metrics:
        options["metrics"] = load_object(metrics)()
    elif metrics and as_bool(metrics):
        options["metrics"] = store
    if str(conf.get("backend_timeout") or "").strip():
        options["backend_timeout"] = float(conf["backend_timeout"])
    if str(conf.get("metrics_admins") or "").strip():
        options["metrics_admins"] = as_list(conf["metrics_admins"])
    if "metrics_flush_interval" in conf:
        options["metrics_flush_interval"] = float(conf["metrics_flush_interval"])
    if "metrics_retention_days" in conf:
        days = str(conf["metrics_retention_days"]).strip()
        options["metrics_retention_days"] = float(days) if days and float(days) else None

    def make(app: Any) -> S3ServiceMiddleware:
        return S3ServiceMiddleware(app, credentials=store, buckets=store, authorizer=authorizer,
                                   **options)

    return make
