"""This process's own TCP sockets, found among its open files (Linux's ``/proc/self/fd``).

For what a server builds where the application cannot reach it: granian's
listening socket and connections (:mod:`s3service.gateway.sendtimeout`,
:mod:`s3service.payload.cutoff`).  Elsewhere than on Linux nothing is found.
"""
from __future__ import annotations

import os
import socket
from collections.abc import Iterator

__all__ = ["available", "tcp_sockets"]

_FDS = "/proc/self/fd"


def available() -> bool:
    """Whether this process can list its open files (Linux)."""
    return os.path.isdir(_FDS)


def _duplicate(name: str) -> tuple[int, socket.socket] | None:
    """The socket open as file ``name``, duplicated, with its inode (``None``: not a socket)."""
    try:
        target = os.readlink(f"{_FDS}/{name}")
        if not target.startswith("socket:["):
            return None
        inode = int(target[len("socket:["):-1])
        copy = os.dup(int(name))
    except (OSError, ValueError):
        return None
    try:
        if os.fstat(copy).st_ino == inode:     # (not closed and reused meanwhile)
            return inode, socket.socket(fileno=copy)
    except OSError:
        pass
    os.close(copy)
    return None


def tcp_sockets(port: int) -> Iterator[socket.socket]:
    """This process's TCP sockets whose local port is ``port``, listening or connected.

    Each is a duplicate, for the caller to close: a file number may be closed,
    or reused, by another thread meanwhile, and what the caller checks is what
    the duplicate holds.  A socket open as several files (the duplicates made
    here among them) is found once.
    """
    try:
        names = os.listdir(_FDS)
    except OSError:
        return
    seen: set[int] = set()
    for name in names:
        found = _duplicate(name)
        if found is None:
            continue
        inode, sock = found
        try:
            ours = inode not in seen and sock.family in (socket.AF_INET, socket.AF_INET6) \
                and sock.type == socket.SOCK_STREAM and sock.getsockname()[1] == port
        except OSError:
            ours = False
        seen.add(inode)
        if ours:
            yield sock
        else:
            sock.close()
