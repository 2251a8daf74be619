"""What the SQL store's request-path statements cost with a million tenants, on PostgreSQL.

Two databases on one throw-away PostgreSQL cluster (``tests/helpers/pg.py``,
with ``pg_stat_statements`` and ``auto_explain`` preloaded):

* *small*: ``--small-accounts`` accounts (1,000) with 10 buckets each;
* *large*: ``--accounts`` accounts (1,000,000) and ``--buckets`` buckets
  (10,000,000), about 10 per account;

each account with one access key.  In both, account ``probe-10`` owns 10
buckets and ``probe-1000`` 1,000.  The rows are loaded with ``COPY`` (triggers
and foreign key checks off while loading, the secondary indexes built
afterwards, then ``ANALYZE``), exactly the values ``SQLBackend`` writes.

Then, in this process, in ``--rounds`` rounds alternating between the two
databases (medians reported), through ``SQLBackend`` itself (its pool, its Reader,
``credential_cache_seconds=0``), each operation ``--samples`` times after a
warm-up, timed one by one:

* ``list-10`` / ``list-1000``: ListBuckets of a probe account as the request
  path runs it when the worker's listing snapshot is current (the version
  check only) -- the steady state;
* ``list-10-cold`` / ``list-1000-cold``: the same with the snapshot dropped
  first (the version check and the read of every bucket);
* ``credential``: the look-up of a key drawn at random from all accounts';
* ``create`` / ``delete``: CreateBucket of a new name for an account drawn at
  random, and DeleteBucket of it (``owner=``, as the gateway does).

Per operation and database: p50 and p99 in µs, the statements the database
ran per request (``pg_stat_statements``, BEGIN/COMMIT included) and the
time it spent executing them, and the round trips the driver made per request
(exchanges psycopg waited for, the pool's pings included); then the ratio large/small of each p50 and PASS/FAIL against
issue 27's target (list-10, credential and create within 1.5x).  The table
and index sizes of both databases follow, and the plans of every request-path
statement on the large database (``auto_explain``, ANALYZE and BUFFERS) are
written to ``--out``/plans.txt, the figures to ``--out``/scale.json.

Usage::

    python benchmarks/scale.py --out /tmp/scale            # the full run (~20 min, ~5 GB)
    python benchmarks/scale.py --accounts 20000 --buckets 200000 --samples 300  # a smoke run

The cluster runs with ``fsync = off`` (as the tests'): commits cost no disk
flush, so CreateBucket and DeleteBucket show the database's work, not the disk's.
Not a test: exit status 0, or 1 with ``--strict`` when a target is missed.
The cluster is removed on the way out unless ``--keep``.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import signal
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/ and tests/

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import pg  # noqa: E402

from s3service.backends.records import BucketInfo  # noqa: E402
from s3service.backends.sql import SQLBackend  # noqa: E402
from s3service.backends.sql import pgwait  # noqa: E402
from s3service.regions import DEFAULT_REGION  # noqa: E402

TARGET = 1.5                      # large/small p50, issue 27
TARGETED = ("list-10", "credential", "create")
COPY_BATCH = 50_000               # rows per COPY write
CLUSTER_SETTINGS = """
# benchmarks/scale.py
shared_preload_libraries = 'pg_stat_statements,auto_explain'
pg_stat_statements.track_utility = on
shared_buffers = 1GB
max_wal_size = 8GB
maintenance_work_mem = 512MB
log_line_prefix = '%m [%p] '
"""
EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


def account_id(i: int) -> str:
    """The canonical id of account ``i``: 64 hex digits, scattered like real ones."""
    return hashlib.sha256(b"account-%d" % i).hexdigest()


def access_key(i: int) -> str:
    return "AKIA%016X" % (i * 2654435761 % (1 << 64))


def bucket_name(i: int) -> str:
    """Bucket ``i``'s name: not in account order (as real names are not)."""
    return "b%08x-%d" % (i * 2654435761 % (1 << 32), i)


PROBES = {"probe-10": 10, "probe-1000": 1000}


# -- loading -----------------------------------------------------------------------

def _text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _copy(conn: Any, table: str, columns: str, rows: Any) -> int:
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buf = io.StringIO()
        for row in rows:
            buf.write("\t".join(row))
            buf.write("\n")
            count += 1
            if count % COPY_BATCH == 0:
                copy.write(buf.getvalue())
                buf = io.StringIO()
        copy.write(buf.getvalue())
    return count


def load(url: str, accounts: int, buckets: int) -> dict[str, float]:
    """Fill the (empty) database at ``url``: schema by the store, rows by COPY."""
    import psycopg
    from sqlalchemy.engine import make_url

    store = SQLBackend(url)
    store.list_accounts()                          # creates the schema
    store.close()
    u = make_url(url)
    timings = {}
    started = time.monotonic()
    created = EPOCH.strftime("%Y-%m-%d %H:%M:%S+00")
    per_account = max(1, buckets // accounts)

    def entry(name: str) -> str:
        return _text(BucketInfo.entry(name, EPOCH))

    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database,
                         autocommit=False) as conn:
        conn.execute("SET session_replication_role = replica")   # no triggers, no FK checks
        conn.execute("DROP INDEX ix_s3service_buckets_owner_name")
        conn.execute("DROP INDEX ix_s3service_access_keys_account")
        ids = [account_id(i) for i in range(accounts)]
        _copy(conn, "s3service_accounts", "account_id, display_name, bucket_version",
              ((ids[i], f"tenant {i}", "1") for i in range(accounts)))
        _copy(conn, "s3service_accounts", "account_id, display_name, bucket_version",
              ((name, name, "1") for name in PROBES))
        _copy(conn, "s3service_access_keys", "access_key, secret_key, account_id, active",
              ((access_key(i), f"secret-{i:040d}", ids[i], "t") for i in range(accounts)))
        _copy(conn, "s3service_access_keys", "access_key, secret_key, account_id, active",
              ((f"AKIA{name.upper().replace('-', '')}", "probe-secret", name, "t")
               for name in PROBES))
        timings["accounts_and_keys_s"] = time.monotonic() - started

        def filler():
            for i in range(buckets):
                name = bucket_name(i)
                yield name, ids[(i // per_account) % accounts], created, DEFAULT_REGION, entry(name)

        def probes():
            for owner, count in PROBES.items():
                for j in range(count):
                    name = f"{owner}-bucket-{j:04d}"
                    yield name, owner, created, DEFAULT_REGION, entry(name)

        t = time.monotonic()
        columns = "name, owner, created, region, listing_entry"
        _copy(conn, "s3service_buckets", columns, filler())
        _copy(conn, "s3service_buckets", columns, probes())
        timings["buckets_copy_s"] = time.monotonic() - t
        conn.commit()
        t = time.monotonic()
        conn.execute("CREATE INDEX ix_s3service_buckets_owner_name "
                     "ON s3service_buckets (owner, name)")
        conn.execute("CREATE INDEX ix_s3service_access_keys_account "
                     "ON s3service_access_keys (account_id, access_key)")
        conn.commit()
        timings["indexes_s"] = time.monotonic() - t
        conn.autocommit = True
        t = time.monotonic()
        conn.execute("VACUUM ANALYZE")
        timings["vacuum_analyze_s"] = time.monotonic() - t
    timings["total_s"] = time.monotonic() - started
    return timings


# -- measuring ---------------------------------------------------------------------

class RoundTrips:
    """Counts the exchanges with the server psycopg waits for (one per round trip).

    Every operation of a psycopg connection is a generator its ``wait`` runs;
    one that yields waits for the network (a statement, BEGIN, COMMIT, the
    pool's ping).  One that returns at once (a rollback with no transaction
    open, switching autocommit) is no round trip and is not counted.
    """

    count = 0

    @classmethod
    def install(cls) -> None:
        original = pgwait.BoundedConnection.wait

        def counted(gen: Any) -> Any:
            try:
                item = next(gen)
            except StopIteration as stop:
                return stop.value
            cls.count += 1
            while True:
                sent = yield item
                try:
                    item = gen.send(sent)
                except StopIteration as stop:
                    return stop.value

        def wait(self: Any, gen: Any, *args: Any, **kwargs: Any) -> Any:
            return original(self, counted(gen), *args, **kwargs)

        pgwait.BoundedConnection.wait = wait  # type: ignore[method-assign]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def statements_since_reset(admin: Any, dbname: str) -> tuple[int, float, list[tuple[str, int]]]:
    """Statements run in ``dbname`` since the last reset: count, ms executing, texts."""
    rows = admin.execute(
        "SELECT s.query, s.calls, s.total_exec_time FROM pg_stat_statements s "
        "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s "
        "AND s.query NOT ILIKE '%%pg_stat_statements%%' ORDER BY s.calls DESC",
        (dbname,)).fetchall()
    return (sum(calls for _, calls, _ in rows), sum(ms for _, _, ms in rows),
            [(q, c) for q, c, _ in rows])


def measure(url: str, accounts: int, samples: int, admin: Any) -> dict[str, Any]:
    """p50/p99, statements and round trips per request of each operation on ``url``."""
    from sqlalchemy.engine import make_url

    dbname = make_url(url).database
    store = SQLBackend(url, credential_cache_seconds=0)
    state = store._ready_state()
    rng = random.Random(27)
    made: list[tuple[str, str]] = []
    counter = iter(range(10**9))

    def listing(owner: str, cold: bool) -> Callable[[], None]:
        def run() -> None:
            if cold:
                state.listings.clear()
            assert len(list(store.list_buckets(owner))) == PROBES[owner]
        return run

    def credential() -> None:
        i = rng.randrange(accounts)
        assert store.get_credential(access_key(i)) is not None

    def create() -> None:
        owner = account_id(rng.randrange(accounts))
        name = f"new-{os.getpid()}-{next(counter)}"
        store.add_bucket(owner, name)
        made.append((name, owner))

    def delete() -> None:
        name, owner = made.pop()
        store.delete_bucket(name, owner=owner)

    operations: list[tuple[str, Callable[[], None]]] = [
        ("list-10", listing("probe-10", False)), ("list-10-cold", listing("probe-10", True)),
        ("list-1000", listing("probe-1000", False)),
        ("list-1000-cold", listing("probe-1000", True)),
        ("credential", credential), ("create", create), ("delete", delete)]
    results: dict[str, Any] = {}
    for name, run in operations:
        warm = min(200, samples // 5)
        if name == "delete":
            for _ in range(samples + warm - len(made)):
                create()
        for _ in range(warm):
            run()
        admin.execute("SELECT pg_stat_statements_reset()")
        trips = RoundTrips.count
        times = []
        for _ in range(samples):
            t = time.perf_counter()
            run()
            times.append(time.perf_counter() - t)
        trips = RoundTrips.count - trips
        total, executing_ms, statements = statements_since_reset(admin, dbname)
        results[name] = {
            "p50_us": percentile(times, 0.5) * 1e6, "p99_us": percentile(times, 0.99) * 1e6,
            "mean_us": statistics.fmean(times) * 1e6,
            "statements": total / samples, "round_trips": trips / samples,
            "server_us": executing_ms * 1000 / samples,
            "statement_texts": [(q, round(c / samples, 2)) for q, c in statements[:8]],
        }
    store.close()
    return results


def sizes(admin_url: Any, dbname: str) -> list[tuple[str, int, int, int]]:
    import psycopg

    with psycopg.connect(dbname=dbname, **admin_url) as conn:
        return conn.execute(
            "SELECT relname, pg_relation_size(oid), pg_indexes_size(oid), "
            "pg_total_relation_size(oid) FROM pg_class WHERE relkind = 'r' AND relname IN "
            "('s3service_accounts', 's3service_access_keys', 's3service_buckets') "
            "ORDER BY relname").fetchall()


def plans(server: pg.PostgresServer, url: str, admin: Any, accounts: int) -> str:
    """The plans of the request-path statements, as auto_explain logged them."""
    from sqlalchemy.engine import make_url

    dbname = make_url(url).database
    log = server.tmpdir / "postgres.log"
    start = log.stat().st_size
    for setting in ("auto_explain.log_min_duration = 0", "auto_explain.log_analyze = on",
                    "auto_explain.log_buffers = on", "auto_explain.log_triggers = on",
                    "auto_explain.log_nested_statements = on"):
        admin.execute(f'ALTER DATABASE "{dbname}" SET {setting}')
    store = SQLBackend(url, credential_cache_seconds=0)
    state = store._ready_state()
    for owner in PROBES:
        state.listings.clear()
        list(store.list_buckets(owner))
    store.get_credential(access_key(accounts // 2))
    owner = account_id(accounts // 3)
    store.add_bucket(owner, "explained-bucket")
    store.delete_bucket("explained-bucket", owner=owner)
    store.close()
    admin.execute(f'ALTER DATABASE "{dbname}" RESET ALL')
    with open(log, errors="replace") as f:
        f.seek(start)
        text = f.read()
    blocks = re.split(r"\n(?=\S+ \S+ UTC \[\d+\] )", text)
    return "\n".join(block for block in blocks
                     if "plan:" in block and "s3service_" in block and "pg_catalog" not in block
                     and "schema_version" not in block)


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--buckets", type=int, default=10_000_000)
    parser.add_argument("--small-accounts", type=int, default=1_000)
    parser.add_argument("--samples", type=int, default=1_000, help="per operation and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (medians)")
    parser.add_argument("--out", type=Path, default=Path("scale-results"))
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument("--reuse", nargs=3, metavar=("DATADIR", "SMALL", "LARGE"),
                        help="measure again on a cluster a --keep run left (its data "
                             "directory's parent and the two database names), loading nothing")
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    RoundTrips.install()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))   # clean up on the way out
    print(f"load average at start: {os.getloadavg()}", flush=True)

    if args.reuse:
        tmpdir = Path(args.reuse[0])
        port = int((tmpdir / "data" / "postmaster.pid").read_text().split()[3])
        server = pg.PostgresServer(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
                                   tmpdir=tmpdir, port=port)
        args.keep = True
    else:
        server = pg.PostgresServer.create()
    try:
        if not args.reuse:
            with open(server.tmpdir / "data" / "postgresql.conf", "a") as conf:
                conf.write(CLUSTER_SETTINGS)
            server.stop()
            server.start()
        import psycopg
        admin_url = {"host": "127.0.0.1", "port": server.port, "user": "postgres"}
        admin = psycopg.connect(dbname="postgres", autocommit=True, **admin_url)
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        print(f"cluster: {server.url} ({server.tmpdir}); PostgreSQL "
              f"{admin.execute('SHOW server_version').fetchone()[0]}", flush=True)
        report: dict[str, Any] = {"load_average_start": os.getloadavg(), "databases": {}}
        shapes = [("small", args.small_accounts, args.small_accounts * 10),
                  ("large", args.accounts, args.buckets)]
        urls = {}
        for i, (label, accounts, buckets) in enumerate(shapes):
            if args.reuse:
                url = urls[label] = (f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/"
                                     f"{args.reuse[1 + i]}")
                timings = {}
            else:
                url = urls[label] = server.create_database()
                print(f"[{label}] loading {accounts:,} accounts, {buckets:,} buckets ...",
                      flush=True)
                timings = load(url, accounts, buckets)
            print(f"[{label}] loaded: {json.dumps({k: round(v, 1) for k, v in timings.items()})}",
                  flush=True)
            report["databases"][label] = {
                "accounts": accounts, "buckets": buckets, "load": timings,
                "sizes": sizes(admin_url, url.rsplit("/", 1)[1]), "rounds": []}
        # Measured in alternating rounds, so that both see the same machine load.
        for round_ in range(args.rounds):
            for label, accounts, _ in shapes:
                print(f"[{label}] round {round_ + 1}, load average {os.getloadavg()}", flush=True)
                report["databases"][label]["rounds"].append(
                    measure(urls[label], accounts, args.samples, admin))
        for label, _, _ in shapes:
            db = report["databases"][label]
            db["results"] = {op: {key: (statistics.median(r[op][key] for r in db["rounds"])
                                        if key != "statement_texts" else db["rounds"][0][op][key])
                                  for key in db["rounds"][0][op]}
                             for op in db["rounds"][0]}
        (args.out / "plans.txt").write_text(plans(server, urls["large"], admin, args.accounts))
        report["load_average_end"] = os.getloadavg()
        (args.out / "scale.json").write_text(json.dumps(report, indent=1, default=str))
        return summarize(report, args.strict)
    finally:
        if args.keep:
            import atexit
            atexit.unregister(server.cleanup)
            print(f"cluster kept: {server.tmpdir}")
        else:
            server.cleanup()


def summarize(report: dict[str, Any], strict: bool) -> int:
    small, large = report["databases"]["small"], report["databases"]["large"]
    print(f"\nsmall: {small['accounts']:,} accounts / {small['buckets']:,} buckets; "
          f"large: {large['accounts']:,} accounts / {large['buckets']:,} buckets")
    print(f"{'operation':16} {'small p50':>10} {'p99':>8} {'large p50':>10} {'p99':>8} "
          f"{'ratio':>6} {'stmts':>6} {'trips':>6} {'server µs':>14}")
    failed = False
    for op, s in small["results"].items():
        g = large["results"][op]
        ratio = g["p50_us"] / s["p50_us"]
        verdict = ""
        if op in TARGETED:
            verdict = "PASS" if ratio <= TARGET else "FAIL"
            failed |= ratio > TARGET
        print(f"{op:16} {s['p50_us']:>8.0f}us {s['p99_us']:>6.0f}us {g['p50_us']:>8.0f}us "
              f"{g['p99_us']:>6.0f}us {ratio:>5.2f}x {g['statements']:>6.2f} "
              f"{g['round_trips']:>6.2f} {s['server_us']:>6.0f}/{g['server_us']:<6.0f} {verdict}")
    for label, db in (("small", small), ("large", large)):
        print(f"\n{label}: table / heap / indexes / total")
        for name, heap, indexes, total in db["sizes"]:
            print(f"  {name:24} {human(heap):>9} {human(indexes):>9} {human(total):>9}")
    print(f"\nload average: start {report['load_average_start']}, end {report['load_average_end']}")
    return 1 if strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
