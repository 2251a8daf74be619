"""Database connections and throughput of ``s3service serve`` on PostgreSQL, before and after a change.

``serve`` of two source trees in turn -- ``--before DIR`` (e.g. the main
branch, ``git archive main | tar -x -C DIR``) and this checkout -- each with
2 workers of 16 threads (``--workers 2 --threads 16``, otherwise as
shipped), on the same database of a throw-away PostgreSQL cluster
(``tests/helpers/pg.py``) holding one account with 10 buckets.  wrk replays a
presigned ListBuckets with 64 connections (2 threads) for ``--seconds``, in
``--rounds`` rounds alternating before and after, while
``pg_stat_activity`` is sampled every 20 ms for the connections to that
database.  Prints per round and as medians: requests/s, p50/p99 latency, the
most connections seen, PostgreSQL's CPU time per request (all its processes,
from /proc), errors; and after/before of requests/s.

Target (issue 27): at most the pool size per worker (default 4, so 8 for the
server) and requests/s within the noise of before.  ``--before-flags`` and
``--after-flags`` add serve flags (``--before . --before-flags="--db-pool-size 2"``
compares two pool sizes of this checkout).  About a minute per round.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/ and tests/

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from deployed import presign, run_wrk  # noqa: E402
from tests.helpers import pg  # noqa: E402
from tests.helpers.cliserver import free_port, stop_process  # noqa: E402

ACCOUNT = "f" * 64
KEY, SECRET = "AKIACONNECTIONS", "connections-secret"
SERVE = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
         "from s3service.gateway.cli import main; sys.exit(main(sys.argv[1:]))")


def seed(url: str) -> None:
    from s3service.backends.sql import SQLBackend

    store = SQLBackend(url)
    store.add_account(ACCOUNT, display_name="connections")
    store.add_key(ACCOUNT, KEY, SECRET)
    for i in range(10):
        store.add_bucket(ACCOUNT, f"bucket-{i:02d}")
    store.close()


def start_serve(tree: Path, url: str, log: Path,
                flags: list[str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    argv = [sys.executable, "-c", SERVE, str(tree), "--db", url, "serve", "--port", str(port),
            "--workers", "2", "--threads", "16", *flags]
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3SERVICE_")}
    env["PYTHONPATH"] = str(tree)
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                cwd=str(tree), start_new_session=True)
    deadline = time.monotonic() + 30
    import http.client
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/")
            conn.getresponse().read()
            conn.close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    stop_process(proc, group=True)
    raise RuntimeError(f"serve ({tree}) did not start: {log.read_text()[-2000:]}")


def count_connections(url: str, stop: threading.Event, seen: list[int]) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database,
                         autocommit=True) as conn:
        while not stop.is_set():
            seen.append(conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid()", (u.database,)).fetchone()[0])
            time.sleep(0.02)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (those still running)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def one_run(tree: Path, url: str, seconds: int, log: Path, server: pg.PostgresServer,
            flags: list[str]) -> dict[str, float]:
    proc, port = start_serve(tree, url, log, flags)
    try:
        target = presign(port, KEY, SECRET, 3600)
        run_wrk(target, 1, 2, 64)                           # warm-up
        stop, seen = threading.Event(), []
        counter = threading.Thread(target=count_connections, args=(url, stop, seen))
        counter.start()
        pids = server.processes()           # (the serve's connections are open by now)
        cpu = cpu_seconds(pids)
        try:
            result = run_wrk(target, seconds, 2, 64)
        finally:
            cpu = cpu_seconds(pids) - cpu
            stop.set()
            counter.join()
    finally:
        stop_process(proc, group=True)
    return {"rps": result.rps, "p50_ms": result.p50_ms, "p99_ms": result.p99_ms,
            "errors": result.errors, "connections": max(seen), "load": os.getloadavg()[0],
            "db_cpu_us": 1e6 * cpu / max(1, result.requests)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the source tree to compare with")
    parser.add_argument("--before-flags", default="", help="more serve flags for before")
    parser.add_argument("--after-flags", default="", help="more serve flags for after")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--log", type=Path, default=Path("/tmp/connections-serve.log"))
    args = parser.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": ROOT}
    server = pg.PostgresServer.create()
    try:
        url = server.create_database()
        seed(url)
        print(f"before: {trees['before']} {args.before_flags}; after: {ROOT} {args.after_flags}")
        print(f"PostgreSQL {server.url}; serve --workers 2 --threads 16; wrk -t2 -c64 "
              f"-d{args.seconds}s, ListBuckets N=10 (presigned SigV4); load {os.getloadavg()}")
        results: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for label in order:
                run = one_run(trees[label], url, args.seconds, args.log, server,
                              getattr(args, f"{label}_flags").split())
                results[label].append(run)
                print(f"round {round_ + 1} {label:6}: {run['rps']:8.0f} req/s  p50 "
                      f"{run['p50_ms']:6.2f} ms  p99 {run['p99_ms']:6.2f} ms  connections "
                      f"{run['connections']:3d}  PostgreSQL CPU {run['db_cpu_us']:5.1f} us/request"
                      f"  errors {run['errors']}  load {run['load']:.1f}",
                      flush=True)
        print()
        for label, runs in results.items():
            print(f"{label:6} median {statistics.median(r['rps'] for r in runs):8.0f} req/s, "
                  f"p50 {statistics.median(r['p50_ms'] for r in runs):.2f} ms, "
                  f"most connections {max(r['connections'] for r in runs)}, PostgreSQL CPU "
                  f"{statistics.median(r['db_cpu_us'] for r in runs):.1f} us/request")
        ratios = [a["rps"] / b["rps"] for a, b in zip(results["after"], results["before"])]
        print(f"after/before req/s: median {statistics.median(ratios):.2f} "
              f"(rounds {min(ratios):.2f}..{max(ratios):.2f}); load {os.getloadavg()}")
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
