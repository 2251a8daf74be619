"""Count, rather than time, what one ListBuckets costs a gunicorn worker.

On a shared machine the requests/s of section 2 of ``listbuckets.py`` drift
by a third from one minute to the next.  This script runs the same two
gunicorn apps (s3service at N=10, and the bare app answering the same bytes)
under ``valgrind --tool=cachegrind --cache-sim=yes``, sends each worker a few
requests and then more, and prints the difference per request: instructions,
L1 instruction-cache misses and L1 data-cache misses.  The counts are
deterministic, so a change of one percent shows.

The ratio it prints uses a plain model, cycles = instructions + 10 x L1
misses, which agreed with the measured requests/s ratios in
``RESULTS.rst`` ("Second pass").  Under valgrind OpenSSL does not use the
CPU's SHA instructions, so the signature's hashing counts more than it costs.

Needs ``valgrind`` (``apt-get install valgrind``) and gunicorn; takes a few
minutes::

    python benchmarks/count.py                      # sync worker, 50 then 250 requests
    python benchmarks/count.py --worker-class gthread
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import listbuckets  # noqa: E402

MISS_CYCLES = 10  # the model's price of an L1 miss, in instructions


def serve_and_count(kind: str, requests: int, worker_class: str, folder: str) -> dict:
    """Cachegrind's totals for a gunicorn worker that answered ``requests`` ListBuckets."""
    port = listbuckets.free_port()
    out = os.path.join(folder, f"{kind}-{requests}")
    os.makedirs(out)
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=yes",
           f"--cachegrind-out-file={out}/cg.%p", sys.executable, "-m", "gunicorn",
           "--preload", "--bind", f"127.0.0.1:{port}", "--workers", "1",
           "--worker-class", worker_class, "--threads", "1", "--timeout", "900",
           "--log-level", "warning", "--chdir", HERE,
           f"listbuckets:http_app({kind!r}, {listbuckets.HTTP_N})"]
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    server = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    try:
        listbuckets.wait_for_port(port, server, timeout=600)
        send(port, requests, keep_alive=worker_class != "sync")
    finally:
        listbuckets.stop_gunicorn(server)
    # The worker is the process that answered: the one that counted most.
    totals = [summary(path) for path in glob.glob(os.path.join(out, "cg.*"))]
    return max(totals, key=lambda t: t["Ir"])


def send(port: int, requests: int, keep_alive: bool) -> None:
    """``requests`` signed ListBuckets, one after the other; each must answer 200."""
    # (as wrk sends it: HTTP/1.1, so keep-alive; a sync worker closes after each answer)
    request = ("GET / HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in listbuckets.signed_headers(port))
        + "\r\n").encode("latin-1")
    conn = None
    for _ in range(requests):
        if conn is None:
            conn = socket.create_connection(("127.0.0.1", port), timeout=600)
        conn.sendall(request)
        status, conn = read_response(conn, keep_alive)
        if status != b"200":
            raise RuntimeError(f"the server answered {status!r}")
    if conn is not None:
        conn.close()


def read_response(conn: socket.socket, keep_alive: bool):
    data = b""
    while b"\r\n\r\n" not in data:
        data += recv(conn)
    head, _, body = data.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None or not keep_alive:
        while True:  # read to the end of the connection
            chunk = conn.recv(65536)
            if not chunk:
                break
        conn.close()
        return head[9:12], None
    while len(body) < length:
        body += recv(conn)
    return head[9:12], conn


def recv(conn: socket.socket) -> bytes:
    chunk = conn.recv(65536)
    if not chunk:
        raise ConnectionError("the server closed the connection mid-response")
    return chunk


def summary(path: str) -> dict:
    """The ``events:``/``summary:`` totals of a cachegrind output file."""
    events = values = None
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("summary:"):
                values = [int(v) for v in line.split()[1:]]
    if events is None or values is None:
        raise RuntimeError(f"{path}: not a complete cachegrind output")
    return dict(zip(events, values))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class")
    parser.add_argument("--requests", default="50,250",
                        help="the two request counts whose difference is measured")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind): SKIPPED")
        return 0
    low, high = (int(n) for n in args.requests.split(","))
    kinds = ("bare", "s3service")
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(4) as pool:
        runs = {(kind, n): pool.submit(serve_and_count, kind, n, args.worker_class, folder)
                for kind in kinds for n in (low, high)}
        per_request = {}
        for kind in kinds:
            a, b = runs[kind, low].result(), runs[kind, high].result()
            per_request[kind] = {event: (b[event] - a[event]) / (high - low) for event in b}
    print(f"one signed ListBuckets (N={listbuckets.HTTP_N}) in a gunicorn {args.worker_class} "
          f"worker, per request ({high} - {low} requests):")
    print(f"{'app':<10} {'instructions':>13} {'L1i misses':>11} {'L1d misses':>11} "
          f"{'model cycles':>13}")
    cycles = {}
    for kind in kinds:
        r = per_request[kind]
        misses_d = r["D1mr"] + r["D1mw"]
        cycles[kind] = r["Ir"] + MISS_CYCLES * (r["I1mr"] + misses_d)
        print(f"{kind:<10} {r['Ir']:>13,.0f} {r['I1mr']:>11,.0f} {misses_d:>11,.0f} "
              f"{cycles[kind]:>13,.0f}")
    print(f"s3service's added cost: {per_request['s3service']['Ir'] - per_request['bare']['Ir']:,.0f}"
          f" instructions; modelled requests/s ratio s3service / bare: "
          f"{100 * cycles['bare'] / cycles['s3service']:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
