"""Which bucket a request's ``Host`` names: S3's virtual-hosted-style addressing.

With service host ``s3.example.com``, ``photos.s3.example.com`` addresses the
bucket ``photos``; ``s3.example.com`` itself, and any host that is not under a
service host, addresses none (the bucket, if any, is then in the path).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from .wsgi import full_path


def split_host(host: str) -> str:
    """``host`` without its port (and trailing dot), lowercased; IPv6 brackets are kept."""
    if host.startswith("["):
        end = host.find("]")
        host = host if end < 0 else host[:end + 1]
    else:
        name, colon, port = host.rpartition(":")
        if colon and port.isdigit():
            host = name
    return host.rstrip(".").lower()


def service_host_names(hosts: Iterable[str]) -> tuple[str, ...]:
    """Configured service host names, normalized as :func:`split_host` does; blanks dropped."""
    return tuple(split_host(h.strip()) for h in hosts if h.strip())


def bucket_from_host(host: str, service_hosts: Sequence[str]) -> str | None:
    """The bucket a ``Host`` header value names (``<bucket>.<service host>``), or ``None``.

    ``service_hosts`` are normalized names (:func:`service_host_names`).  When
    several match, the longest wins (``b.s3.example.com`` under both
    ``example.com`` and ``s3.example.com`` is bucket ``b``), and a host that is
    itself a service host names no bucket.
    """
    if not service_hosts:
        return None
    host = split_host(host)
    if host in service_hosts:
        return None
    best = ""
    for service_host in service_hosts:
        if len(service_host) > len(best) and host.endswith("." + service_host):
            best = service_host
    return host[:-len(best) - 1] if best else None


#: Longer names (or ones with control characters) are no bucket's.
MAX_BUCKET_NAME = 255


class ServiceHosts:
    """What a request addresses, given the endpoint's service host names.

    The layers of the middleware share one: the service's own routes ask
    :meth:`is_service_request`, the meter :meth:`bucket_of`.  Most requests
    come with one of a few ``Host`` values: the bucket each names is cached.
    """

    def __init__(self, hosts: Iterable[str] = ()) -> None:
        self.names = service_host_names(hosts)
        names = self.names

        @lru_cache(maxsize=1024)
        def bucket_in(host: str) -> str | None:
            return bucket_from_host(host, names)
        self.bucket_in = bucket_in

    def is_bucket_host(self, environ: dict) -> bool:
        """Whether the request addresses a bucket by its host name (``photos.s3.example.com``)."""
        if not self.names:
            return False
        return self.bucket_in(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")) \
            is not None

    def is_service_request(self, environ: dict) -> bool:
        """Whether the request is for the service itself (``/`` on a service host or no host)."""
        return environ.get("PATH_INFO") in ("/", "") and not self.is_bucket_host(environ)

    def bucket_of(self, environ: dict, bucket_in_host: bool | None = None) -> str | None:
        """The bucket a request addresses (virtual-hosted or path-style), or ``None``.

        Path-style, it is the first segment of the path the client sent and
        signed, ``SCRIPT_NAME`` + ``PATH_INFO`` (:func:`~s3service.wsgi.full_path`):
        a ``SCRIPT_NAME`` a server took from a request header cannot move it.
        A name no store could keep (a NUL, 300 characters) is ``None`` too.
        """
        if bucket_in_host is None:
            bucket_in_host = self.is_bucket_host(environ)
        if bucket_in_host:
            name = self.bucket_in(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""))
        else:
            name = (full_path(environ) or "/")[1:].partition("/")[0]
        if name and len(name) <= MAX_BUCKET_NAME and name.isprintable():
            return name
        return None
