"""Slow clients against ``s3service serve`` as shipped: is a signed ListBuckets still answered?

    python benchmarks/slow_clients.py [--seconds 20] [--loris 64] [--readers 16]

Starts ``s3service serve`` with its defaults (one worker per CPU, its
threads) on a memory store whose account holds 60,000 buckets
(``tests/apps/big_listing.py``: the real command, only the store seeded),
then holds open

* ``--readers`` connections that asked for the whole 60,000-bucket listing
  (~5.8 MB) and stopped reading it after its first bytes, and
* ``--loris`` slowloris connections, each sending one more header byte every
  half second, and opening again when the server cuts it off,

and meanwhile sends a signed ListBuckets (``max-buckets=5``, a new connection
each) every 0.2 s for ``--seconds``.  Printed: its latency (min, median, p99,
max) and whether each was a correct answer; the target is every one within
1 s.  Then the readers read on: each must get the whole listing.  Exit
status 1 when the target is missed, 2 when the run fails.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "helpers"), str(ROOT / "benchmarks"), str(ROOT)]
sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/

from serving import free_port, wait_listening  # noqa: E402
from signing import presigned_url  # noqa: E402

KEY, SECRET = "AKIASLOWBENCH0000001", "slow-bench-secret-0000000000000000000001"
BUCKETS = 60_000
TARGET_SECONDS = 1.0


def request(port: int, query: str = "") -> bytes:
    url = presigned_url("GET", f"http://127.0.0.1:{port}/{query}", KEY, SECRET)
    target = url.split(str(port), 1)[1]
    return (f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Connection: close\r\n\r\n").encode()


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


class Slowloris(threading.Thread):
    """``count`` connections trickling header bytes; each cut-off one opens again."""

    def __init__(self, port: int, count: int) -> None:
        super().__init__(daemon=True)
        self.port, self.stop = port, threading.Event()
        self.socks = [self._open() for _ in range(count)]
        self.reopened = 0

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        return sock

    def run(self) -> None:
        while not self.stop.wait(0.5):
            for i, sock in enumerate(self.socks):
                try:
                    sock.sendall(b"x")
                except OSError:
                    sock.close()
                    self.socks[i] = self._open()
                    self.reopened += 1

    def close(self) -> None:
        self.stop.set()
        self.join()
        for sock in self.socks:
            sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--loris", type=int, default=64)
    parser.add_argument("--readers", type=int, default=16)
    args = parser.parse_args()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3SERVICE_"))}
    env.update(BIG_LISTING_KEY=KEY, BIG_LISTING_SECRET=SECRET, BIG_LISTING_BUCKETS=str(BUCKETS),
               PYTHONPATH=os.pathsep.join([str(ROOT / "tests" / "apps"), str(ROOT)]))
    log = open(os.devnull, "w")
    proc = subprocess.Popen([sys.executable, "-m", "big_listing", "--db", "memory", "serve",
                             "--port", str(port)], env=env, stdout=log, stderr=log,
                            start_new_session=True)
    readers: list[tuple[socket.socket, bytes]] = []
    loris = None
    try:
        wait_listening(proc, port)
        for _ in range(args.readers):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            sock.settimeout(120)
            sock.connect(("127.0.0.1", port))
            sock.sendall(request(port))
            readers.append((sock, sock.recv(65536)))
        loris = Slowloris(port, args.loris)
        loris.start()
        time.sleep(1.0)
        took, wrong = [], 0
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            started = time.monotonic()
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(request(port, "?max-buckets=5"))
                answer = read_all(sock)
            took.append(time.monotonic() - started)
            wrong += not (answer.startswith(b"HTTP/1.1 200 OK") and answer.count(b"<Bucket>") == 5)
            time.sleep(0.2)
        loris.close()
        complete = 0
        for sock, first in readers:
            answer = first + read_all(sock)
            complete += answer.count(b"<Bucket>") == BUCKETS
    except (RuntimeError, OSError) as exc:
        print(f"slow_clients.py: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if loris is not None and loris.is_alive():
            loris.close()
        for sock, _ in readers:
            sock.close()
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
    took.sort()
    p99 = took[min(len(took) - 1, int(0.99 * len(took)))]
    print(f"server: s3service serve as shipped (its default workers and threads), memory store, "
          f"{BUCKETS:,} buckets")
    print(f"held open: {args.readers} stalled readers of the whole listing, {args.loris} "
          f"slowloris ({loris.reopened if loris else 0} reconnections after being cut off)")
    print(f"{len(took)} signed ListBuckets (max-buckets=5) over {args.seconds:.0f} s: "
          f"min {1000 * took[0]:.1f} ms, median {1000 * statistics.median(took):.1f} ms, "
          f"p99 {1000 * p99:.1f} ms, max {1000 * took[-1]:.1f} ms; {wrong} wrong answers")
    print(f"stalled readers that then got the whole listing: {complete} of {len(readers)}")
    ok = took[-1] < TARGET_SECONDS and not wrong and complete == len(readers)
    print(f"target: every answer within {TARGET_SECONDS:.0f} s, every reader complete: "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
