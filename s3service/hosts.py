"""Which bucket a request's ``Host`` names: S3's virtual-hosted-style addressing.

With service host ``s3.example.com``, ``photos.s3.example.com`` addresses the
bucket ``photos``; ``s3.example.com`` itself, and any host that is not under a
service host, addresses none (the bucket, if any, is then in the path).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence


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
