"""Starting a server for a benchmark: a free port on 127.0.0.1, and waiting until it listens."""
from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(proc: subprocess.Popen, port: int, timeout: float = 60.0) -> None:
    """Return once something accepts connections on ``port``; RuntimeError if ``proc`` exits
    first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start (exit status {proc.poll()})") \
                    from None
            time.sleep(0.1)
