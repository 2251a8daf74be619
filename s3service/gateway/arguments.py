"""Hiding a secret given on the command line from other users' ``ps``.

``/proc/PID/cmdline`` is readable by every user of the machine, and it is read
from the process's own memory: the strings the kernel gave ``main()``.
Python keeps its own copies (``sys.argv``), so the original ones can be
rewritten without Python noticing, as ``setproctitle`` does; this rewrites
only the secrets, through ``/proc/self/mem``, with no dependency.  A process
forked afterwards (each of ``serve``'s granian workers) inherits the
rewritten memory.  Linux only: elsewhere :func:`hide_in_arguments` does
nothing and says so.
"""
from __future__ import annotations

from collections.abc import Iterable

MASK = b"***"


def hide_in_arguments(secrets: Iterable[str]) -> bool:
    """Replace each of ``secrets`` in this process's command line (as ``ps`` shows it) by ``***``.

    Returns whether the command line now holds none of them (True when there
    was nothing to hide).
    """
    wanted = sorted({secret.encode() for secret in secrets if secret}, key=len, reverse=True)
    if not wanted:
        return True
    try:
        with open("/proc/self/stat", "rb") as handle:
            stat = handle.read()
        # Fields after the command name in parentheses (which may hold spaces):
        # arg_start and arg_end are the 48th and 49th of the line.
        fields = stat[stat.rindex(b")") + 2:].split()
        start, end = int(fields[45]), int(fields[46])
        with open("/proc/self/mem", "r+b", buffering=0) as memory:
            memory.seek(start)
            area = memory.read(end - start)
            hidden = area
            for secret in wanted:
                hidden = hidden.replace(secret, MASK)
            if hidden != area:
                # Same length, the rest NUL: the kernel shows the arguments up to
                # arg_end, and the last byte stays the NUL that ends them.
                memory.seek(start)
                memory.write(hidden.ljust(len(area), b"\0"))
    except (OSError, ValueError, IndexError):
        return False
    return True
