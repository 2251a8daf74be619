"""ListBuckets benchmark for s3service: in-process, over HTTP, and memory.

Run by hand or as a CI smoke run (``--quick`` finishes in well under a minute);
this is not a unit test and asserts nothing unless ``--strict`` is given.

1. in-process: a SigV4-signed ``GET /`` (signed by botocore through the shared
   harness) against the middleware over a MemoryBackend with N buckets, beside
   a bare WSGI app returning the very same bytes (the floor) and moto's S3
   app; prints calls/s, median µs and the ratios.  ``--swift`` also runs the
   shared harness (``peers.py``) for the comparison with swift's s3api.
2. over HTTP: gunicorn serving the middleware (N=10) and the same gunicorn
   config serving a bare app with the same bytes and headers, side by side,
   loaded in turns for several rounds from other processes on 127.0.0.1
   (``wrk`` if installed, else a Python keep-alive load generator); prints
   requests/s, the median of the rounds' ratios, and the server's CPU time per
   request.
3. memory: peak RSS growth of a fresh process streaming one listing of
   1,000,000 buckets (100,000 with ``--quick``) from a lazy store through the
   middleware, draining the body.

Targets are printed with PASS/FAIL next to the figures.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import io
import json
import os
import pstats
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import factories  # noqa: E402  (also puts the shared harness on sys.path)
from factories import harness  # noqa: E402
from rss import current_rss_kb, reset_hwm, vm_hwm_kb  # noqa: E402

TARGET_SWIFT_RATIO = 10.0       # ≥ 10× swift-s3api's calls/s at N = 1, 100, 10000
TARGET_HTTP_RATIO = 0.85        # ≥ 85 % of the bare app's requests/s over HTTP at N = 10
TARGET_RSS_MB = 64.0            # < 64 MB peak RSS growth for a 1,000,000-bucket listing
SWIFT_SIZES = (1, 100, 10000)
HTTP_N = 10


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def verdict(ok):
    return "PASS" if ok else "FAIL"


# ==========================================================================
# 1. In-process
# ==========================================================================

def bare_same_bytes(n):
    """A WSGI app that returns exactly the bytes s3service answers for N buckets."""
    app, make_environ = factories.s3service_memory(n)
    status, headers, body = harness.call_app(app, make_environ())
    if not status.startswith("200"):
        raise RuntimeError("s3service answered %s: %r" % (status, body[:300]))
    fixed = [(k, v) for k, v in headers if k.lower() != "content-length"]
    fixed.append(("Content-Length", str(len(body))))

    def bare(environ, start_response):
        start_response("200 OK", fixed)
        return [body]

    return bare, make_environ


def moto_s3(n):
    """moto's S3 as ``moto_server`` serves it, seeded through moto's S3 backend."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    backend.reset()
    for name in harness.bucket_names(n):
        backend.create_bucket(name, factories.REGION)
    return DomainDispatcherApplication(create_backend_app), factories.signer()


def in_process(sizes, seconds, with_moto=True, moto_max=None):
    peers = [("bare", bare_same_bytes), ("s3service", factories.s3service_memory)]
    if factories.has_metrics():
        peers.append(("s3service+metrics", factories.s3service_metered))
    if with_moto:
        if importlib.util.find_spec("moto") is not None:
            peers.append(("moto", moto_s3))
        else:
            log("moto is not installed: skipping the moto peer")
    rows = {}
    for n in sizes:
        for name, factory in peers:
            if name == "moto" and moto_max is not None and n > moto_max:
                rows[name, n] = {"skipped": "N > --moto-max %d" % moto_max}
                continue
            log("... in-process %s N=%d" % (name, n))
            row = harness.run_one(name, factory, n, seconds, check_signature=(n == sizes[0]))
            rows[name, n] = row
            gc.collect()

    print("\n== 1. in-process ListBuckets (SigV4-signed GET /, MemoryBackend) ==")
    print("%-18s %6s %7s %11s %11s %10s %10s" % (
        "peer", "N", "calls", "calls/s", "median µs", "p90 µs", "bad sig"))
    for n in sizes:
        for name, _ in peers:
            r = rows[name, n]
            if "skipped" in r:
                print("%-18s %6d  skipped: %s" % (name, n, r["skipped"]))
                continue
            if "error" in r:
                print("%-18s %6d  FAILED: %s" % (name, n, r["error"][:200]))
                continue
            print("%-18s %6d %7d %11.1f %11.1f %10.1f %10s%s" % (
                name, n, r["calls"], r["calls_per_s"], r["median_us"], r["p90_us"],
                r.get("bad_sig", ""), "  (%d non-2xx!)" % r["errors"] if r["errors"] else ""))
    print("\nratios (median µs per call):")
    print("%6s %22s %22s" % ("N", "s3service / bare", "moto / s3service"))
    for n in sizes:
        ours = rows.get(("s3service", n), {}).get("median_us")
        bare = rows.get(("bare", n), {}).get("median_us")
        moto_us = rows.get(("moto", n), {}).get("median_us")
        print("%6d %21s %21s" % (
            n, "%.1f×" % (ours / bare) if ours and bare else "-",
            "%.1f×" % (moto_us / ours) if ours and moto_us else "-"))
    checks = [(name, r) for (name, n), r in rows.items() if "bad_sig" in r]
    for name, r in checks:
        print("  %-18s botocore client parse: %s; tampered signature: %s"
              % (name, r.get("client"), r["bad_sig"]))
    return rows


def swift_comparison(seconds, peers_py):
    """Run the shared harness (a separate measuring tool) for the swift-s3api target."""
    print("\n== 1b. shared harness: s3service vs swift's s3api (%s) ==" % peers_py)
    if importlib.util.find_spec("swift") is None:
        print("swift is not installed in %s: SKIPPED (run this script with the bench "
              "virtualenv, see README.rst)" % sys.executable)
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rows.json")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [HERE, os.path.dirname(harness.__file__)] + [p for p in [env.get("PYTHONPATH")] if p])
        cmd = [sys.executable, peers_py, "--peers", "bare,swift-s3api",
               "--candidate", "s3service=factories:s3service_memory",
               "--sizes", ",".join(map(str, SWIFT_SIZES)), "--seconds", str(seconds),
               "--json", out]
        subprocess.run(cmd, env=env, check=True)
        with open(out) as f:
            rows = json.load(f)
    rate = {(r["peer"], r["n"]): r.get("calls_per_s") for r in rows}
    result = {}
    for n in SWIFT_SIZES:
        ours, swift_rate = rate.get(("s3service", n)), rate.get(("swift-s3api", n))
        result[n] = ours / swift_rate if ours and swift_rate else None
    return result


# ==========================================================================
# 2. Over HTTP (gunicorn)
# ==========================================================================

def http_app(kind, n=HTTP_N):
    """gunicorn app factory: ``listbuckets:http_app('s3service', 10)``, ``('bare', 10)``..."""
    if kind == "s3service":
        app, _ = factories.s3service_memory(n)
        return app
    if kind == "s3service-metered":                 # (for metering.py)
        app, _ = factories.s3service_metered(n)
        return app
    if kind == "bare":
        app, _ = bare_same_bytes(n)
        return app
    raise ValueError(kind)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not listen on %d within %ss" % (port, timeout))


def process_tree_cpu(pid):
    """utime+stime seconds of a process and its (direct) children, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / tick


def signed_headers(port):
    """Header lines of a SigV4-signed GET / for 127.0.0.1:port, as (name, value) pairs."""
    environ = factories.signer("http://127.0.0.1:%d" % port)()
    return [(k[5:].replace("_", "-").title(), v) for k, v in environ.items()
            if k.startswith("HTTP_")]


def loadgen_python(port, seconds, conns, warmup):
    """Keep-alive load on 127.0.0.1:port from this process; returns (requests, errors, secs).

    ``conns`` connections each keep one request in flight; the signature is
    renewed every minute.
    """
    def request_bytes():
        lines = ["GET / HTTP/1.1"] + ["%s: %s" % hv for hv in signed_headers(port)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def connect():
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def read_response(s, buf):
        while b"\r\n\r\n" not in buf:
            data = s.recv(65536)
            if not data:
                raise ConnectionError("closed")
            buf += data
        head, _, rest = buf.partition(b"\r\n\r\n")
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        need = int(m.group(1)) if m else 0
        while len(rest) < need:
            data = s.recv(65536)
            if not data:
                raise ConnectionError("closed")
            rest += data
        return head[9:12], rest[need:]

    req, signed_at = request_bytes(), time.monotonic()
    socks = [connect() for _ in range(conns)]
    bufs = [b""] * conns
    start = time.monotonic()
    t_measure, t_end = start + warmup, start + warmup + seconds
    count = errors = 0
    while True:
        now = time.monotonic()
        if now >= t_end:
            break
        if now - signed_at > 60:
            req, signed_at = request_bytes(), now
        for s in socks:
            s.sendall(req)
        for i, s in enumerate(socks):
            try:
                status, bufs[i] = read_response(s, bufs[i])
                ok = status == b"200"
            except OSError:
                s.close()
                socks[i], bufs[i], ok = connect(), b"", False
            if now >= t_measure:
                count += 1
                errors += not ok
    for s in socks:
        s.close()
    return count, errors, seconds


def run_load(port, args, mark):
    """Warm the server on ``port`` up, call ``mark()``, then load it for the measured run.

    Returns dict(rps, errors, requests, tool) of the measured run.
    """
    tool = args.loadgen
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    if tool == "wrk":
        def wrk(seconds):
            cmd = ["wrk", "-t", str(args.clients), "-c", str(args.clients * args.conns),
                   "-d", "%ds" % max(1, round(seconds))]
            for name, value in signed_headers(port):
                if name.lower() != "host":  # wrk sends Host: 127.0.0.1:port, as signed
                    cmd += ["-H", "%s: %s" % (name, value)]
            cmd.append("http://127.0.0.1:%d/" % port)
            return cmd

        if args.warmup > 0:
            subprocess.run(wrk(args.warmup), check=True, capture_output=True)
        mark()
        out = subprocess.run(wrk(args.http_seconds), check=True, capture_output=True,
                             text=True).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        total = int(re.search(r"(\d+) requests in", out).group(1))
        m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        errors = int(m.group(1)) if m else 0
        errors += sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
        return {"rps": rps, "requests": total, "errors": errors, "tool": "wrk"}

    def python_clients(seconds):
        procs = [subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--_loadgen", str(port), str(seconds),
             str(args.conns), "0"], stdout=subprocess.PIPE, text=True)
            for _ in range(args.clients)]
        return [json.loads(p.communicate()[0]) for p in procs]

    if args.warmup > 0:
        python_clients(args.warmup)
    mark()
    results = python_clients(args.http_seconds)
    return {"rps": sum(r[0] / r[2] for r in results), "requests": sum(r[0] for r in results),
            "errors": sum(r[1] for r in results), "tool": "python x%d" % args.clients}


def start_gunicorn(kind, args):
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:%d" % port,
           "--workers", str(args.workers), "--worker-class", args.worker_class,
           "--threads", str(args.threads), "--log-level", "warning", "--chdir", HERE,
           "listbuckets:http_app(%r, %d)" % (kind, HTTP_N)]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    server = subprocess.Popen(cmd, env=env)
    try:
        wait_for_port(port, server)
    except BaseException:
        stop_gunicorn(server)
        raise
    return port, server


def stop_gunicorn(server):
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def load_once(port, server, args):
    marks = []
    result = run_load(port, args, lambda: marks.append(process_tree_cpu(server.pid)))
    cpu = process_tree_cpu(server.pid) - marks[0]  # over the measured run only
    result["server_cpu_s"] = cpu
    result["server_cpu_share"] = cpu / args.http_seconds
    result["cpu_us_per_req"] = cpu * 1e6 / result["requests"] if result["requests"] else 0
    return result


def over_http(args):
    """Both apps served side by side, loaded in turns; the median of the rounds' ratios counts.

    The machine's speed drifts (a shared VM varies by a third from one minute
    to the next): loading the two in short alternating turns, and comparing
    each round's pair, keeps that drift out of the ratio.
    """
    print("\n== 2. over HTTP: gunicorn on 127.0.0.1, N=%d, %s worker(s) x %d thread(s), "
          "%s, %d rounds of %ss each ==" % (HTTP_N, args.workers, args.threads,
                                            args.worker_class, args.rounds, args.http_seconds))
    if importlib.util.find_spec("gunicorn") is None:
        print("gunicorn is not installed: SKIPPED")
        return None
    kinds = ("s3service", "bare")
    runs = {kind: [] for kind in kinds}
    servers = {}
    try:
        for kind in kinds:
            servers[kind] = start_gunicorn(kind, args)
        time.sleep(0.5)  # let every worker boot
        for round_ in range(args.rounds):
            for kind in kinds if round_ % 2 == 0 else kinds[::-1]:
                log("... over HTTP: %s (round %d)" % (kind, round_ + 1))
                runs[kind].append(load_once(*servers[kind], args))
    finally:
        for _, server in servers.values():
            stop_gunicorn(server)
    print("%5s %-10s %12s %9s %8s %13s %14s  %s" % (
        "round", "app", "requests/s", "requests", "errors", "server CPU", "CPU µs/req", "load"))
    ratios = []
    for round_ in range(args.rounds):
        for kind in kinds:
            r = runs[kind][round_]
            print("%5d %-10s %12.1f %9d %8d %12.0f%% %14.1f  %s, %d conns" % (
                round_ + 1, kind, r["rps"], r["requests"], r["errors"],
                100 * r["server_cpu_share"], r["cpu_us_per_req"], r["tool"],
                args.clients * args.conns))
        ratios.append(runs["s3service"][round_]["rps"] / runs["bare"][round_]["rps"])
    ratio = statistics.median(ratios)
    if statistics.median(r["server_cpu_share"] for rs in runs.values() for r in rs) \
            < 0.8 * args.workers:
        print("NOTE: the server used < 80% of a CPU per worker: it was not the bottleneck "
              "(busy machine or too few connections), so the requests/s ratio does not "
              "measure the app; the server CPU µs per request are the better guide.")
    cpu = {kind: statistics.median(r["cpu_us_per_req"] for r in rs) for kind, rs in runs.items()}
    print("s3service / bare requests/s: median of the %d rounds' ratios %.1f%% "
          "(rounds ranged %.1f%%-%.1f%%); server CPU µs per request (medians): %.1f vs %.1f"
          % (len(ratios), 100 * ratio, 100 * min(ratios), 100 * max(ratios),
             cpu["s3service"], cpu["bare"]))
    return ratio


# ==========================================================================
# 3. Memory: streaming a huge listing from a lazy store
# ==========================================================================

class LazyBuckets:
    """A BucketStore yielding ``n`` generated buckets one at a time (none held in memory)."""

    def __init__(self, n, account_id=factories.ACCOUNT_ID):
        self.n, self.account_id = n, account_id

    @staticmethod
    def name(i):
        return "bench-bucket-%07d" % i

    def list_buckets(self, account_id, *, prefix="", after=None, region=None, limit=None):
        from s3service.backends.base import BucketInfo

        if account_id != self.account_id or region not in (None, factories.REGION):
            return
        given = 0
        for i in range(self.n):
            name = self.name(i)
            if limit is not None and given >= limit:
                return
            if after is not None and name <= after:
                continue
            if not name.startswith(prefix):
                continue
            given += 1
            yield BucketInfo(name=name, created=factories.CREATED, region=factories.REGION)


def memory_worker(n):
    """Runs in a fresh process: one ListBuckets of ``n`` lazily generated buckets."""
    credentials = factories.memory_store(())
    app = factories.middleware(LazyBuckets(n), credentials=credentials)
    make_environ = factories.signer()
    harness.call_app(factories.middleware(LazyBuckets(1), credentials=credentials),
                     make_environ())  # warm every code path on a one-bucket listing
    environ = make_environ()
    gc.collect()
    base_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    base_now = current_rss_kb()
    hwm_reset = reset_hwm()
    base_hwm = vm_hwm_kb()
    status = []
    t0 = time.perf_counter()
    body = app(environ, lambda s, h, exc_info=None: status.append((s, h)))
    size = buckets = chunks = 0
    first = last = b""
    try:
        for chunk in body:
            if not first:
                first = chunk[:100]
            size += len(chunk)
            chunks += 1
            buckets += chunk.count(b"<Bucket>")
            last = chunk[-100:]
    finally:
        close = getattr(body, "close", None)
        if close:
            close()
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_hwm = vm_hwm_kb()
    ok = (status and status[0][0].startswith("200") and buckets == n
          and first.startswith(b"<?xml") and last.endswith(b"</ListAllMyBucketsResult>"))
    return {"n": n, "status": status[0][0] if status else None, "buckets": buckets,
            "bytes": size, "chunks": chunks, "seconds": elapsed, "ok": bool(ok),
            "base_peak_kb": base_peak, "base_now_kb": base_now, "peak_kb": peak,
            "hwm_reset": hwm_reset, "base_hwm_kb": base_hwm, "peak_hwm_kb": peak_hwm,
            "content_length": dict(status[0][1]).get("Content-Length") if status else None}


def memory(n):
    print("\n== 3. memory: one ListBuckets of %s buckets from a lazy store, fresh process =="
          % format(n, ","))
    log("... memory: %d buckets" % n)
    # ru_maxrss survives exec: a child spawned straight from this (by now large)
    # process would start with this process's peak as its own.  A small
    # intermediate interpreter spawns the worker, so its baseline is its own.
    launcher = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"
    out = subprocess.run([sys.executable, "-c", launcher, sys.executable,
                          os.path.abspath(__file__), "--_memory", str(n)],
                         check=True, capture_output=True, text=True)
    r = json.loads(out.stdout)
    growth_peak = (r["peak_kb"] - r["base_peak_kb"]) / 1024
    growth_now = (r["peak_kb"] - r["base_now_kb"]) / 1024
    growths = [growth_peak, growth_now]
    print("status %s, %s buckets listed (%s), %.1f MB of XML in %d chunks, Content-Length %s" % (
        r["status"], format(r["buckets"], ","), "ok" if r["ok"] else "WRONG",
        r["bytes"] / 2**20, r["chunks"], r["content_length"] or "none (streamed)"))
    print("time %.2f s (%.0f buckets/s, %.1f MB/s)" % (
        r["seconds"], r["buckets"] / r["seconds"], r["bytes"] / 2**20 / r["seconds"]))
    print("RSS: peak before %.1f MB, current before %.1f MB, peak after %.1f MB" % (
        r["base_peak_kb"] / 1024, r["base_now_kb"] / 1024, r["peak_kb"] / 1024))
    print("peak RSS growth: %.1f MB (ru_maxrss after - before); %.1f MB (ru_maxrss after - "
          "current RSS before)" % (growth_peak, growth_now))
    if r["hwm_reset"] and r["base_hwm_kb"] is not None and r["peak_hwm_kb"] is not None:
        growth_hwm = (r["peak_hwm_kb"] - r["base_hwm_kb"]) / 1024
        growths.append(growth_hwm)
        print("cross-check: VmHWM reset to %.1f MB before the request, %.1f MB after: "
              "%.1f MB growth" % (r["base_hwm_kb"] / 1024, r["peak_hwm_kb"] / 1024, growth_hwm))
    return max(growths), r["ok"]


# ==========================================================================
# Profiling
# ==========================================================================

def profile(n, seconds, limit=25):
    """cProfile s3service's ListBuckets at N buckets; prints the top functions."""
    app, make_environ = factories.s3service_memory(n)
    harness.verify(app, make_environ, n)
    environs = []
    calls = 0
    prof = cProfile.Profile()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        environs = [make_environ() for _ in range(20)]
        prof.enable()
        for environ in environs:
            harness.call_app(app, environ)
        prof.disable()
        calls += len(environs)
    print("\n== profile: s3service ListBuckets, N=%d, %d calls ==" % (n, calls))
    stream = io.StringIO()
    stats = pstats.Stats(prof, stream=stream)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    print(stream.getvalue())


# ==========================================================================

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="CI smoke run: short timings, 100,000-bucket memory run (< 60 s)")
    parser.add_argument("--sizes", help="in-process bucket counts (default 1,100,1000,10000)")
    parser.add_argument("--seconds", type=float, help="timed seconds per peer and size "
                        "in-process (default 2; 0.3 with --quick)")
    parser.add_argument("--no-moto", action="store_true", help="leave moto out of section 1")
    parser.add_argument("--moto-max", type=int, help="largest N to time moto at (moto takes "
                        "seconds per call at N=10000; default: all sizes, 100 with --quick)")
    parser.add_argument("--swift", action="store_true",
                        help="also run the shared harness against swift-s3api (needs swift)")
    parser.add_argument("--peers-py", default=os.path.normpath(
        os.path.join(os.path.dirname(harness.__file__), "peers.py")),
        help="the shared harness's peers.py (default %(default)s)")
    parser.add_argument("--http-seconds", type=float,
                        help="measured seconds per app and round over HTTP (default 3; 1 with "
                        "--quick)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="HTTP warm-up seconds before each measured run")
    parser.add_argument("--rounds", type=int, help="HTTP rounds, loading the two apps in turn; "
                        "the median of the rounds' ratios counts (default 10; 2 with --quick)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto",
                        help="HTTP load generator (auto: wrk if installed)")
    parser.add_argument("--clients", type=int, default=2,
                        help="load-generator processes (wrk threads) (default %(default)s)")
    parser.add_argument("--conns", type=int, default=4,
                        help="keep-alive connections per client (default %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class")
    parser.add_argument("--memory-n", type=int,
                        help="buckets in the memory run (default 1,000,000; 100,000 with --quick)")
    parser.add_argument("--only", default="inprocess,http,memory",
                        help="comma-separated sections to run (inprocess,http,memory)")
    parser.add_argument("--profile", type=int, metavar="N", action="append", default=[],
                        help="cProfile s3service at N buckets (repeatable) and print top functions")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--_loadgen", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--_memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._loadgen:
        port, seconds, conns, warmup = args._loadgen
        print(json.dumps(loadgen_python(int(port), float(seconds), int(conns), float(warmup))))
        return 0
    if args._memory:
        print(json.dumps(memory_worker(args._memory)))
        return 0

    quick = args.quick
    sizes = [int(s) for s in (args.sizes or "1,100,1000,10000").split(",")]
    seconds = args.seconds if args.seconds is not None else (0.3 if quick else 2.0)
    if args.http_seconds is None:
        args.http_seconds = 1.0 if quick else 3.0
    if args.rounds is None:
        args.rounds = 2 if quick else 10
    if quick:
        args.warmup = min(args.warmup, 0.5)
    memory_n = args.memory_n or (100_000 if quick else 1_000_000)
    only = set(args.only.split(","))

    import platform
    import s3service
    print("s3service %s ListBuckets benchmark — %s, Python %s, %d CPUs%s" % (
        s3service.__version__, time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        platform.python_version(), os.cpu_count(), " (--quick)" if quick else ""))

    targets = []
    if "inprocess" in only:
        moto_max = args.moto_max if args.moto_max is not None else (100 if quick else None)
        in_process(sizes, seconds, with_moto=not args.no_moto, moto_max=moto_max)
        if args.swift:
            ratios = swift_comparison(seconds, args.peers_py)
            if ratios is not None:
                for n, ratio in ratios.items():
                    targets.append(("≥ %g× swift-s3api calls/s at N=%d"
                                    % (TARGET_SWIFT_RATIO, n),
                                    "%.1f×" % ratio if ratio else "failed",
                                    ratio is not None and ratio >= TARGET_SWIFT_RATIO))
    if "http" in only:
        ratio = over_http(args)
        if ratio is not None:
            targets.append(("over HTTP ≥ %d%% of bare requests/s at N=%d"
                            % (TARGET_HTTP_RATIO * 100, HTTP_N), "%.1f%%" % (100 * ratio),
                            ratio >= TARGET_HTTP_RATIO))
    if "memory" in only:
        growth, ok = memory(memory_n)
        targets.append(("%s-bucket listing: peak RSS growth < %g MB%s"
                        % (format(memory_n, ","), TARGET_RSS_MB,
                           "" if memory_n >= 1_000_000 else " (target is for 1,000,000)"),
                        "%.1f MB%s" % (growth, "" if ok else ", WRONG LISTING"),
                        ok and growth < TARGET_RSS_MB))
    for n in args.profile:
        profile(n, 3.0)

    if targets:
        print("\n== targets ==")
        for text, figure, ok in targets:
            print("%-4s %-58s %s" % (verdict(ok), text, figure))
        if not args.swift and "inprocess" in only:
            print("(the swift-s3api target: rerun with --swift in the bench virtualenv, "
                  "or run the shared harness, see README.rst)")
    return 1 if args.strict and not all(ok for _, _, ok in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
