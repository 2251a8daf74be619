#!/usr/bin/env python
"""Load test: gunicorn serving the middleware, many keep-alive clients, every answer checked.

Usage::

    python benchmarks/loadtest.py [--seconds 60] [--clients 50] [--workers 4]

Starts gunicorn on 127.0.0.1 (a free port; gthread workers, so connections
stay open) serving :class:`~s3service.S3ServiceMiddleware` over a pass-through
app, on a MemoryBackend every worker seeds the same way.  ``--clients``
client threads (spread over a few processes) each keep one connection and
loop for ``--seconds`` over a mix of requests:

* ListBuckets signed with SigV4 (expect ``200`` and the account's buckets),
* bad signatures (expect ``403 SignatureDoesNotMatch`` with its request id),
* pass-through object requests (expect the app's ``200 passthrough-ok``).

Prints requests/s, p50/p99 latency, the number of wrong answers and of 5xx,
and the server workers' RSS at the start, middle and end of the run.  Exits 1
if any answer was wrong, a 5xx, or a connection failed.  Stops by itself;
the server is always stopped.
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "7" * 64
KEY, SECRET = "AKIALOADTEST00000001", "load-test-secret-000000000000000000000001"
BUCKETS = [f"load-bucket-{i:03d}" for i in range(20)]
PASS_BODY = b"passthrough-ok"
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")

APP = textwrap.dedent(f"""
    from s3service import S3ServiceMiddleware
    from s3service.backends.memory import MemoryBackend

    def passthrough(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", "{len(PASS_BODY)}")])
        return [{PASS_BODY!r}]

    store = MemoryBackend()
    store.add_account({ACCOUNT!r}, display_name="load")
    store.add_key({ACCOUNT!r}, {KEY!r}, {SECRET!r})
    for name in {BUCKETS!r}:
        store.add_bucket({ACCOUNT!r}, name)
    app = S3ServiceMiddleware(passthrough, credentials=store, buckets=store,
                              service_hosts=["s3.load.test"])
""")


# -- the server ---------------------------------------------------------------------------

def start_server(tmp: Path, workers: int, threads: int) -> tuple[subprocess.Popen, int, Path]:
    (tmp / "load_app.py").write_text(APP)
    log_path = tmp / "gunicorn.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp), str(ROOT)]),
               PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", str(workers),
           "--worker-class", "gthread", "--threads", str(threads), "--keep-alive", "75",
           "--backlog", "512", "--timeout", "30", "--graceful-timeout", "5",
           "--no-control-socket", "--log-level", "warning", "load_app:app"]
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file,
                                stderr=subprocess.STDOUT, env=env, cwd=str(tmp))
    # --log-level warning hides "Listening at"; find the port from the socket instead.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        port = _listening_port(proc.pid)
        if port and len(worker_pids(proc.pid)) == workers:
            return proc, port, log_path
        time.sleep(0.1)
    stop_server(proc)
    raise SystemExit("gunicorn did not start:\n" + log_path.read_text(errors="replace"))


def _listening_port(pid: int) -> int | None:
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1]
                  for fd in os.listdir(f"/proc/{pid}/fd")
                  if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
        with open("/proc/net/tcp") as tcp:
            for line in list(tcp)[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and inode in inodes:      # LISTEN
                    return int(local.split(":")[1], 16)
    except OSError:
        return None
    return None


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def worker_pids(master: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry))
    return sorted(pids)


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# -- the clients ----------------------------------------------------------------------------

def _sign(method: str, path: str, secret: str, port: int) -> dict[str, str]:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=f"http://127.0.0.1:{port}{path}", data=b"")
    botocore.auth.S3SigV4Auth(Credentials(KEY, secret), "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def _check(kind: str, status: int, headers: dict[str, str], body: bytes) -> str | None:
    if kind == "list":
        if status != 200:
            return f"list: {status}"
        if not body.endswith(b"</ListAllMyBucketsResult>") or \
                any(f"<Name>{b}</Name>".encode() not in body for b in BUCKETS):
            return "list: wrong body"
    elif kind == "badsig":
        if status != 403 or b"<Code>SignatureDoesNotMatch</Code>" not in body:
            return f"badsig: {status} {body[:80]!r}"
        rid = headers.get("x-amz-request-id", "")
        if not rid or f"<RequestId>{rid}</RequestId>".encode() not in body:
            return "badsig: request id"
    elif status != 200 or body != PASS_BODY:
        return f"pass: {status} {body[:80]!r}"
    return None


def client_process(port: int, threads: int, deadline: float, seed: int, queue) -> None:
    """Run ``threads`` clients until ``deadline`` (time.time()); put the results on ``queue``."""
    rng = random.Random(seed)
    # Signed once per process (SigV4 allows 15 minutes of clock skew): the
    # clients measure the server, not botocore.
    requests = {
        "list": [("GET", "/", _sign("GET", "/", SECRET, port)) for _ in range(4)],
        "badsig": [("GET", "/", _sign("GET", "/", SECRET + "x", port)) for _ in range(4)],
        "pass": [("GET", f"/load-bucket-001/object-{i}", {"Host": f"127.0.0.1:{port}"})
                 for i in range(4)],
    }
    kinds = ["list"] * 5 + ["badsig"] * 2 + ["pass"] * 3
    lock = threading.Lock()
    out = {"latencies": [], "counts": {}, "wrong": [], "server_errors": 0, "conn_errors": 0}

    def run(thread_seed: int) -> None:
        r = random.Random(thread_seed)
        conn = None
        latencies, counts, wrong = [], {}, []
        server_errors = conn_errors = 0
        while time.time() < deadline:
            kind = r.choice(kinds)
            method, path, headers = r.choice(requests[kind])
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            started = time.perf_counter()
            try:
                conn.request(method, path, headers=headers)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                conn_errors += 1
                conn.close()
                conn = None
                continue
            latencies.append(time.perf_counter() - started)
            status = response.status
            counts[f"{kind} {status}"] = counts.get(f"{kind} {status}", 0) + 1
            if status >= 500:
                server_errors += 1
            problem = _check(kind, status, {k.lower(): v for k, v in response.getheaders()},
                             body)
            if problem:
                wrong.append(problem)
            if response.will_close:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()
        with lock:
            out["latencies"].extend(latencies)
            for k, v in counts.items():
                out["counts"][k] = out["counts"].get(k, 0) + v
            out["wrong"].extend(wrong)
            out["server_errors"] += server_errors
            out["conn_errors"] += conn_errors

    pool = [threading.Thread(target=run, args=(rng.random(),)) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    queue.put(out)


# -- the run ----------------------------------------------------------------------------------

def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=50, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=16, help="threads per gunicorn worker")
    parser.add_argument("--client-processes", type=int, default=5)
    args = parser.parse_args(argv)
    if args.workers * args.threads < args.clients:
        parser.error("workers * threads must be at least clients (each keeps a connection)")

    with tempfile.TemporaryDirectory(prefix="s3s-load-") as tmp:
        proc, port, log_path = start_server(Path(tmp), args.workers, args.threads)
        try:
            return _run(args, proc, port, log_path)
        finally:
            stop_server(proc)


def _run(args: argparse.Namespace, proc: subprocess.Popen, port: int, log_path: Path) -> int:
    workers = worker_pids(proc.pid)
    print(f"gunicorn pid {proc.pid} on 127.0.0.1:{port}, {len(workers)} gthread workers x "
          f"{args.threads} threads; {args.clients} clients for {args.seconds:g} s")
    # Warm up every worker a little (imports, first allocations) before the first RSS.
    warm = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(50):
        warm.request("GET", "/", headers=_sign("GET", "/", SECRET, port))
        warm.getresponse().read()
        warm.close()
    rss = {"start": {pid: rss_kib(pid) for pid in workers}}

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    nproc = max(1, min(args.client_processes, args.clients))
    share = [args.clients // nproc + (1 if i < args.clients % nproc else 0) for i in range(nproc)]
    started = time.time()
    deadline = started + args.seconds
    procs = [ctx.Process(target=client_process, args=(port, n, deadline, i, queue), daemon=True)
             for i, n in enumerate(share)]
    for p in procs:
        p.start()
    time.sleep(args.seconds / 2)
    rss["middle"] = {pid: rss_kib(pid) for pid in workers}
    results = [queue.get(timeout=args.seconds + 120) for _ in procs]
    elapsed = time.time() - started
    rss["end"] = {pid: rss_kib(pid) for pid in workers}
    for p in procs:
        p.join(30)

    latencies = sorted(x for r in results for x in r["latencies"])
    counts: dict[str, int] = {}
    for r in results:
        for k, v in r["counts"].items():
            counts[k] = counts.get(k, 0) + v
    wrong = [w for r in results for w in r["wrong"]]
    server_errors = sum(r["server_errors"] for r in results)
    conn_errors = sum(r["conn_errors"] for r in results)
    total = len(latencies)
    print(f"requests: {total} in {elapsed:.1f} s = {total / elapsed:.0f} req/s")
    print(f"latency: p50 {percentile(latencies, 0.50) * 1000:.1f} ms, "
          f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
          f"max {latencies[-1] * 1000 if latencies else float('nan'):.1f} ms")
    for k in sorted(counts):
        print(f"  {counts[k]:8d}  {k}")
    print(f"wrong answers: {len(wrong)}  5xx: {server_errors}  connection errors: {conn_errors}")
    for w in sorted(set(wrong))[:10]:
        print(f"  wrong: {w}")
    print("worker RSS (KiB):        start     middle        end")
    for pid in workers:
        print(f"  pid {pid:<8d}  {rss['start'][pid]:10d} {rss['middle'][pid]:10d} "
              f"{rss['end'][pid]:10d}")
    totals = {when: sum(v.values()) for when, v in rss.items()}
    growth = totals["end"] - totals["middle"]
    print(f"  total          {totals['start']:10d} {totals['middle']:10d} {totals['end']:10d}"
          f"   (middle->end: {growth:+d} KiB, {100 * growth / max(1, totals['middle']):+.1f}%)")
    log = log_path.read_text(errors="replace")
    bad_log = [line for line in log.splitlines() if "Traceback" in line or "[ERROR]" in line]
    if bad_log:
        print("server log has errors:\n" + "\n".join(bad_log[:10]))
    return 1 if wrong or server_errors or conn_errors or bad_log else 0


if __name__ == "__main__":
    sys.exit(main())
