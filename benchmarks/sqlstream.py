"""Streamed ListBuckets of one huge account through the SQL store, next to the memory store.

The SQL store keeps in-memory snapshots only of accounts of up to
``listingcache.MAX_ACCOUNT`` buckets; a larger account is streamed from the
database in keyset pages of ``sortedbuckets.RUN`` rows.  This script measures
that path end to end, as a client sees it:

1. seed ONE account with ``--buckets`` N buckets (default 1,000,000) in each
   SQL store (``--stores sqlite,postgresql``): the account and its key through
   the store's API (which also creates the schema), the buckets by a bulk
   insert (SQLAlchemy Core executemany, batches of 10,000 rows, one
   transaction) of exactly the values ``SQLBackend.add_bucket`` writes;
2. in a fresh process per store (so its RSS is its own), a SigV4-signed
   unpaged ``GET /`` through ``S3ServiceMiddleware`` over ``SQLBackend(url)``,
   the body drained chunk by chunk and its ``<Bucket>`` entries counted:
   one verified listing (every store must answer the very same bytes), then
   ``--repeat`` timed ones; the median counts;
3. the same for ``MemoryBackend`` holding the same N buckets: the baseline
   for time (it holds them all, so its memory is not flat by design).

Prints seconds per listing, µs per bucket, peak RSS growth (``ru_maxrss``
before and after, cross-checked with ``VmHWM``), the ratios SQL/memory, and
PASS/FAIL against the targets: ≤ 1.5 µs per bucket on SQLite, ≤ 2.5 µs on
PostgreSQL, and memory flat (RSS growth < 50 MB).  ``--breakdown`` also
times the layers one by one (driver fetch, BucketInfo construction, the
store's iterator, rendering, the middleware) and ``--profile`` prints a
cProfile of one listing per store.

Not a test: exit status 0, or 1 with ``--strict`` when a target is missed;
2 when the run itself fails.  Everything it starts (worker processes, the
throw-away PostgreSQL cluster, temporary files) is stopped or removed on the
way out, Ctrl-C and errors included; ``--time-limit`` bounds the whole run.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import pstats
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import timedelta

sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/ and tests/

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _path in (HERE, os.path.join(ROOT, "tests", "helpers")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from account import (ACCESS_KEY, ACCOUNT_ID, CREATED, DISPLAY_NAME, REGION,  # noqa: E402
                     SECRET_KEY)
from rss import current_rss_kb, reset_hwm, vm_hwm_kb  # noqa: E402

TARGET_US = {"sqlite": 1.5, "postgresql": 2.5}   # µs per bucket, full streamed listing
TARGET_RSS_MB = 50.0                              # "memory flat": peak RSS growth below this
BATCH = 10_000                                    # rows per executemany when seeding
ENDPOINT = "http://localhost"
WORKER_FLAG = "--_worker"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def bucket_name(i: int) -> str:
    """The i-th bucket (1-based): ``bench-bucket-0000001``."""
    return "bench-bucket-%07d" % i


def bucket_created(i: int):
    """When bucket i was created: an aware UTC datetime, a second apart each."""
    return CREATED + timedelta(seconds=i)


# ==========================================================================
# Seeding (in this process)
# ==========================================================================

class OutOfTime(RuntimeError):
    pass


def seed_sql(url: str, n: int, deadline: float, label: str) -> str:
    """Give the store at ``url`` the bench account, its key and exactly N buckets.

    Reuses what is there when the account already holds exactly these N
    names; otherwise replaces its buckets.  Returns what it did.
    """
    from sqlalchemy import delete, func, insert, select, update

    from s3service.backends.base import BucketInfo
    from s3service.backends.sql.schema import accounts, buckets
    from s3service.backends.sql import SQLBackend

    store = SQLBackend(url)
    try:
        store.add_account(ACCOUNT_ID, display_name=DISPLAY_NAME)   # creates the schema too
        store.add_key(ACCOUNT_ID, ACCESS_KEY, SECRET_KEY)
        engine = store.engine
        mine = buckets.c.owner == ACCOUNT_ID
        with engine.connect() as conn:
            count, first, last = conn.execute(
                select(func.count(), func.min(buckets.c.name), func.max(buckets.c.name))
                .where(mine)).one()
        if (count, first, last) == (n, bucket_name(1), bucket_name(n)):
            log(f"... {label}: {n:,} buckets already seeded, reused")
            return "reused"
        t0 = time.monotonic()
        postgres = engine.dialect.name == "postgresql"
        with engine.begin() as conn:
            if postgres:
                # The row trigger bumping the account's bucket version makes a new
                # version of the account's row per bucket, and within one
                # transaction each finds the last by walking all the others:
                # quadratic.  Off for the bulk load (in this transaction only;
                # others wait on the table's lock), and the version bumped once.
                conn.exec_driver_sql("ALTER TABLE s3service_buckets DISABLE TRIGGER USER")
            if count:
                log(f"... {label}: deleting the account's {count:,} buckets")
                conn.execute(delete(buckets).where(mine))
            step = max(BATCH, n // 10)
            for start in range(1, n + 1, BATCH):
                if time.monotonic() > deadline:
                    raise OutOfTime(f"seeding {label} ran out of time (--time-limit)")
                rows = []
                for i in range(start, min(start + BATCH, n + 1)):
                    name, created = bucket_name(i), bucket_created(i)
                    # exactly what SQLBackend.add_bucket writes
                    rows.append({"name": name, "owner": ACCOUNT_ID, "created": created,
                                 "region": REGION,
                                 "listing_entry": BucketInfo.entry(name, created)})
                conn.execute(insert(buckets), rows)
                done = start + len(rows) - 1
                if done % step < BATCH or done == n:
                    rate = done / max(time.monotonic() - t0, 1e-9)
                    log(f"... {label}: {done:,}/{n:,} rows inserted ({rate:,.0f} rows/s, "
                        f"~{(n - done) / rate:.0f} s left)")
            if postgres:
                conn.exec_driver_sql("ALTER TABLE s3service_buckets ENABLE TRIGGER USER")
                conn.execute(update(accounts).where(accounts.c.account_id == ACCOUNT_ID)
                             .values(bucket_version=accounts.c.bucket_version + 1))
        log(f"... {label}: committed in {time.monotonic() - t0:.1f} s; analyzing")
        # Statistics and a clean table, as a deployment's would soon have (autovacuum,
        # SQLite's WAL checkpoints): the listing should not read a 300 MB WAL.
        if postgres:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE s3service_buckets")
                conn.exec_driver_sql("VACUUM ANALYZE s3service_accounts")
        else:
            raw = engine.raw_connection()
            try:
                cur = raw.dbapi_connection.cursor()
                cur.execute("ANALYZE")
                cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cur.close()
            finally:
                raw.close()
        log(f"... {label}: seeded in {time.monotonic() - t0:.1f} s")
        return "seeded in %.0f s" % (time.monotonic() - t0)
    finally:
        store.close()


# ==========================================================================
# The worker (a fresh process per store)
# ==========================================================================

def max_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _start_response(seen: list):
    def start_response(status, headers, exc_info=None):
        seen.append((status, headers))
    return start_response


def call_listing(app, query: str = "", digest: bool = False) -> dict:
    """One signed ``GET /`` through ``app``, its body drained chunk by chunk."""
    import signing

    environ = signing.signed_environ("GET", f"{ENDPOINT}/{query}", ACCESS_KEY, SECRET_KEY,
                                     region=REGION)
    seen: list = []
    count = size = chunks = 0
    crc = 0
    tail = b""
    first = b""
    t0 = time.perf_counter()
    c0 = time.process_time()
    body = app(environ, _start_response(seen))
    try:
        for chunk in body:
            if not chunks:
                first = chunk[:200]
            chunks += 1
            size += len(chunk)
            # (an entry cut between two chunks is counted too)
            count += chunk.count(b"<Bucket>") + (tail + chunk[:7]).count(b"<Bucket>")
            tail = chunk[-7:]
            if digest:
                crc = zlib.crc32(chunk, crc)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    status, headers = seen[0] if seen else (None, [])
    return {"status": status, "buckets": count, "bytes": size, "chunks": chunks,
            "seconds": seconds, "cpu": cpu, "crc": crc if digest else None,
            "first": first.decode("utf-8", "replace"), "last": tail.decode("utf-8", "replace"),
            "content_length": dict(headers).get("Content-Length")}


def make_store(kind: str, url: str | None, n: int):
    if kind == "memory":
        from s3service.backends.memory import MemoryBackend

        store = MemoryBackend()
        store.add_account(ACCOUNT_ID, display_name=DISPLAY_NAME)
        store.add_key(ACCOUNT_ID, ACCESS_KEY, SECRET_KEY)
        t0 = time.monotonic()
        for i in range(1, n + 1):
            store.add_bucket(ACCOUNT_ID, bucket_name(i), created=bucket_created(i), region=REGION)
        log(f"... memory: {n:,} buckets added in {time.monotonic() - t0:.1f} s")
        return store
    from s3service.backends.sql import SQLBackend
    return SQLBackend(url)


def gateway_app(environ, start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"gateway"]


def breakdown(kind: str, store, n: int, repeat: int) -> dict:
    """The layers of one full listing timed one by one (median of ``repeat`` each), seconds.

    Each stage does what the one before did and more, so the differences are
    what each layer adds.
    """
    from s3service import listing as listing_mod
    from s3service.backends.base import BucketInfo
    from s3service.backends.sortedbuckets import RUN

    stages: dict[str, list[float]] = {}

    def timed(name, fn):
        for _ in range(repeat):
            gc.collect()
            t0 = time.perf_counter()
            got = fn()
            stages.setdefault(name, []).append(time.perf_counter() - t0)
            if got != n:
                raise RuntimeError(f"breakdown stage {name}: {got} buckets, expected {n}")

    if kind != "memory":
        # The keyset pages the store reads (SQLBackend._read_run's statement
        # for an unpaged listing), straight through the driver.
        raw = store.engine.raw_connection()
        dbapi = raw.dbapi_connection
        if hasattr(dbapi, "autocommit"):
            dbapi.autocommit = True
        qmark = store.engine.dialect.paramstyle == "qmark"
        select_ = ("SELECT name, region, listing_entry, CASE WHEN listing_entry IS NULL "
                   "THEN created END FROM s3service_buckets")
        first_sql = f"{select_} WHERE owner = ? ORDER BY name LIMIT ?"
        next_sql = f"{select_} WHERE owner = ? AND name > ? ORDER BY name LIMIT ?"
        if not qmark:
            first_sql, next_sql = first_sql.replace("?", "%s"), next_sql.replace("?", "%s")

        def pages():
            cur = dbapi.cursor()
            try:
                cur.execute(first_sql, (ACCOUNT_ID, RUN))
                rows = cur.fetchall()
                while rows:
                    yield rows
                    if len(rows) < RUN:
                        return
                    cur.execute(next_sql, (ACCOUNT_ID, rows[-1][0], RUN))
                    rows = cur.fetchall()
            finally:
                cur.close()

        def fetch():
            return sum(len(rows) for rows in pages())

        def construct():
            from_entry = BucketInfo.from_entry
            got = 0
            for rows in pages():
                got += len([from_entry(name, region, entry) for name, region, entry, _ in rows])
            return got

        try:
            timed("1 driver fetch (keyset pages, fetchall)", fetch)
            timed("2 + BucketInfo.from_entry", construct)
        finally:
            raw.close()

    def iterate():
        got = 0
        for _ in store.list_buckets(ACCOUNT_ID):
            got += 1
        return got

    def render():
        got = 0
        for chunk in listing_mod.render(ACCOUNT_ID, DISPLAY_NAME, store.list_buckets(ACCOUNT_ID)):
            got += chunk.count(b"<Bucket>")
        return got

    from s3service import S3ServiceMiddleware
    app = S3ServiceMiddleware(gateway_app, credentials=store, buckets=store, region=REGION,
                              service_hosts=["localhost"])

    def middleware():
        return call_listing(app)["buckets"]

    timed("3 + store.list_buckets (the store's iterator)", iterate)
    timed("4 + listing.render (XML chunks, UTF-8)", render)
    timed("5 + the middleware (signed GET /, streamed body)", middleware)
    return {name: statistics.median(times) for name, times in stages.items()}


def worker(spec: dict) -> dict:
    """Runs in a fresh process: the listings of one store."""
    from s3service import S3ServiceMiddleware

    kind, url, n, repeat = spec["kind"], spec.get("url"), spec["n"], spec["repeat"]
    store = make_store(kind, url, n)
    app = S3ServiceMiddleware(gateway_app, credentials=store, buckets=store, region=REGION,
                              service_hosts=["localhost"])
    # Warm every code path, the connection and (SQL) the store's one-time
    # finding that the account is too large to keep, on one page.
    t0 = time.perf_counter()
    warm = call_listing(app, "?max-buckets=1000")
    warm_seconds = time.perf_counter() - t0
    if not (warm["status"] or "").startswith("200") or warm["buckets"] != min(n, 1000):
        raise RuntimeError(f"warm-up listing answered {warm['status']} with {warm['buckets']} "
                           f"buckets: {warm['first'][:200]!r}")
    gc.collect()
    # (the reset lowers ru_maxrss as well, to the current RSS: read both after it)
    hwm_reset = reset_hwm()
    base_peak, base_now, base_hwm = max_rss_kb(), current_rss_kb(), vm_hwm_kb()
    log(f"... {kind}: verified listing")
    verified = call_listing(app, digest=True)
    runs = []
    for k in range(repeat):
        log(f"... {kind}: timed listing {k + 1}/{repeat}")
        run = call_listing(app)
        if run["buckets"] != n or not (run["status"] or "").startswith("200"):
            raise RuntimeError(f"listing {k + 1} answered {run['status']} with "
                               f"{run['buckets']} buckets")
        runs.append(run)
    peak, peak_hwm = max_rss_kb(), vm_hwm_kb()
    result = {"kind": kind, "n": n, "warm_seconds": warm_seconds, "verified": verified,
              "runs": runs, "base_peak_kb": base_peak, "base_now_kb": base_now,
              "peak_kb": peak, "hwm_reset": hwm_reset, "base_hwm_kb": base_hwm,
              "peak_hwm_kb": peak_hwm}
    if spec.get("breakdown"):
        log(f"... {kind}: breakdown")
        result["breakdown"] = breakdown(kind, store, n, repeat)
    if spec.get("profile"):
        log(f"... {kind}: profile")
        prof = cProfile.Profile()
        prof.enable()
        call_listing(app)
        prof.disable()
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("tottime").print_stats(spec["profile"])
        stats.sort_stats("cumulative").print_stats(spec["profile"])
        result["profile"] = out.getvalue()
    close = getattr(store, "close", None)
    if close is not None:
        close()
    return result


# ==========================================================================
# Running the workers
# ==========================================================================

# ru_maxrss survives exec: a worker spawned straight from this (by now larger)
# process would start with this process's peak as its own.  A small launcher
# interpreter spawns it, so its baseline is its own.
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


def run_worker(spec: dict, timeout: float) -> dict:
    cmd = [sys.executable, "-c", LAUNCHER, sys.executable, os.path.abspath(__file__),
           WORKER_FLAG, json.dumps(spec)]
    # A session of its own, so that the launcher and the worker can be killed together.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=max(timeout, 1))
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"{spec['kind']} worker failed (exit status {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def growths_mb(r: dict) -> tuple[float, float, float | None]:
    """Peak RSS growth: ru_maxrss after - before, after - current before, VmHWM after - reset."""
    by_peak = (r["peak_kb"] - r["base_peak_kb"]) / 1024
    by_now = (r["peak_kb"] - r["base_now_kb"]) / 1024
    by_hwm = None
    if r["hwm_reset"] and r["base_hwm_kb"] is not None and r["peak_hwm_kb"] is not None:
        by_hwm = (r["peak_hwm_kb"] - r["base_hwm_kb"]) / 1024
    return by_peak, by_now, by_hwm


def report(results: dict[str, dict], n: int, rss_limit: float) -> bool:
    """Print the figures and the verdicts; True when every target is met."""
    print(f"\n== sqlstream: one unpaged ListBuckets of {n:,} buckets through the middleware, "
          f"fresh process per store ==")
    print(f"(median of {len(next(iter(results.values()))['runs'])} timed listings; "
          f"\"cpu\" is the worker's own CPU time; RSS growth in MB: ru_maxrss after - before / "
          f"after - current RSS before / VmHWM after - reset)")
    mem = results.get("memory")
    mem_us = None
    if mem is not None:
        mem_us = statistics.median(r["seconds"] for r in mem["runs"]) / n * 1e6
    print(f"{'store':<11} {'s/listing':>10} {'min s':>7} {'cpu s':>6} {'µs/bucket':>10} "
          f"{'vs memory':>10} {'first s':>8}  RSS growth MB")
    for kind, r in results.items():
        med = statistics.median(x["seconds"] for x in r["runs"])
        cpu = statistics.median(x["cpu"] for x in r["runs"])
        low = min(x["seconds"] for x in r["runs"])
        us = med / n * 1e6
        ratio = f"{us / mem_us:.2f}x" if mem_us and kind != "memory" else "-"
        g = growths_mb(r)
        rss = " / ".join("%.1f" % v for v in g if v is not None)
        note = "  (holds all N; not a target)" if kind == "memory" else ""
        print(f"{kind:<11} {med:>10.3f} {low:>7.3f} {cpu:>6.2f} {us:>10.3f} {ratio:>10} "
              f"{r['verified']['seconds']:>8.3f}  {rss}{note}")
    v = next(iter(results.values()))["verified"]
    print(f"body: {v['bytes'] / 2**20:.1f} MB in {v['chunks']:,} chunks, "
          f"Content-Length {v['content_length'] or 'none (streamed)'}; "
          f"the first listing of each process (\"first s\") is checked: status 200, "
          f"{n:,} entries, the same bytes (CRC-32) from every store")
    ok = True
    crcs = {kind: r["verified"]["crc"] for kind, r in results.items()}
    same = len(set(crcs.values())) == 1
    if not same:
        print("WRONG: the stores answered different bodies: %s" % crcs)
        ok = False
    for kind, r in results.items():
        verified = r["verified"]
        good = ((verified["status"] or "").startswith("200") and verified["buckets"] == n
                and verified["first"].startswith("<?xml")
                and verified["last"].endswith("Result>"))
        if not good:
            print(f"WRONG: {kind} answered {verified['status']} with {verified['buckets']:,} "
                  f"entries")
            ok = False
    print("\nTargets:")
    for kind, r in results.items():
        if kind == "memory":
            continue
        us = statistics.median(x["seconds"] for x in r["runs"]) / n * 1e6
        target = TARGET_US[kind]
        print(f"  {verdict(us <= target)}  {kind}: {us:.3f} µs/bucket (target ≤ {target} µs)")
        growth = max(v for v in growths_mb(r) if v is not None)
        print(f"  {verdict(growth < rss_limit)}  {kind}: memory flat, peak RSS growth "
              f"{growth:.1f} MB (target < {rss_limit:.0f} MB)")
        ok = ok and us <= target and growth < rss_limit
    if mem is not None:
        growth = max(v for v in growths_mb(mem) if v is not None)
        print(f"  info  memory: {mem_us:.3f} µs/bucket, peak RSS growth {growth:.1f} MB "
              f"(baseline only; it holds all {n:,} buckets, so its memory is not a target)")
    for kind, r in results.items():
        if "breakdown" in r:
            print(f"\nBreakdown, {kind} (median of {len(r['runs'])} each; each stage includes "
                  f"the ones before):")
            before = 0.0
            for name, seconds in r["breakdown"].items():
                print(f"  {name:<52} {seconds:7.3f} s  {seconds / n * 1e6:6.3f} µs/bucket  "
                      f"(+{(seconds - before) / n * 1e6:.3f})")
                before = seconds
        if "profile" in r:
            print(f"\ncProfile of one listing, {kind}:\n{r['profile']}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", default="sqlite,postgresql",
                        help="SQL stores to measure (default sqlite,postgresql)")
    parser.add_argument("--buckets", type=int, default=1_000_000,
                        help="buckets of the one account (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed listings per store; the median counts (default 3)")
    parser.add_argument("--pg-url", help="postgresql+psycopg://... to use (the bench account's "
                        "buckets are replaced unless they are already the N wanted); default: "
                        "a throw-away cluster (tests/helpers/pg.py), removed at exit")
    parser.add_argument("--keep", metavar="DIR", help="keep the seeded SQLite file in DIR and "
                        "reuse it next time (default: a temporary file)")
    parser.add_argument("--no-memory", action="store_true", help="skip the MemoryBackend baseline")
    parser.add_argument("--rss-limit-mb", type=float, default=TARGET_RSS_MB,
                        help="\"memory flat\": peak RSS growth below this (default 50)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the layers one by one (driver fetch, BucketInfo, "
                        "store iterator, rendering, middleware)")
    parser.add_argument("--profile", type=int, nargs="?", const=25, default=0, metavar="LINES",
                        help="also cProfile one listing per store (top LINES functions)")
    parser.add_argument("--time-limit", type=float, default=1800,
                        help="seconds for the whole run, seeding included (default 1800)")
    parser.add_argument("--strict", action="store_true", help="exit status 1 when a target is missed")
    args = parser.parse_args(argv)

    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = set(stores) - set(TARGET_US)
    if unknown:
        parser.error(f"unknown store(s): {', '.join(sorted(unknown))}")
    n = args.buckets
    if not 1 <= n <= 9_999_999:
        parser.error("--buckets must be between 1 and 9,999,999")
    deadline = time.monotonic() + args.time_limit

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise OutOfTime("out of time (--time-limit)")
        return remaining

    # SIGTERM unwinds like Ctrl-C, so the cleanups below run.
    def interrupt(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, interrupt)
    spec_extra = {"repeat": args.repeat, "n": n, "breakdown": args.breakdown,
                  "profile": args.profile}
    results: dict[str, dict] = {}
    with contextlib.ExitStack() as cleanup:
        try:
            if not args.no_memory:
                log(f"... memory: baseline worker ({n:,} buckets)")
                results["memory"] = run_worker({"kind": "memory", **spec_extra}, left())
            for kind in stores:
                if kind == "sqlite":
                    if args.keep:
                        os.makedirs(args.keep, exist_ok=True)
                        path = os.path.join(os.path.abspath(args.keep), f"sqlstream-{n}.sqlite")
                    else:
                        tmp = tempfile.mkdtemp(prefix="s3s-sqlstream-")
                        cleanup.callback(shutil.rmtree, tmp, True)
                        path = os.path.join(tmp, "bench.sqlite")
                    url = f"sqlite:///{path}"
                else:
                    url = args.pg_url
                    if url is None:
                        import pg
                        log("... postgresql: starting a throw-away cluster")
                        server = pg.PostgresServer.create()
                        cleanup.callback(server.cleanup)
                        url = server.create_database()
                seed_sql(url, n, deadline, kind)
                log(f"... {kind}: worker")
                results[kind] = run_worker({"kind": kind, "url": url, **spec_extra}, left())
        except KeyboardInterrupt:
            log("interrupted; cleaning up")
            return 2
        except Exception as exc:
            log(f"run failed: {type(exc).__name__}: {exc}")
            if results:
                report(results, n, args.rss_limit_mb)
            return 2
    ok = report(results, n, args.rss_limit_mb)
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == WORKER_FLAG:
        print(json.dumps(worker(json.loads(sys.argv[2]))))
        sys.exit(0)
    sys.exit(main())
