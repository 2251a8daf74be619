"""What ``serve --prometheus-port``'s instrumentation costs a signed ListBuckets, in instructions.

Timings on a shared machine drift by more than the few percent measured
here; instruction counts do not.  Under valgrind's cachegrind, one process
answers signed ListBuckets in-process (the WSGI app ``serve`` runs: the
gateway behind the middleware, on SQLite with N = 10 buckets), plain or
instrumented as a worker of ``serve --prometheus-port`` is (the app wrapped,
the store's calls counted and one in 16 timed, and the tally added up and
published every 500 requests -- more often than its thread does, each second).  Each is run for ``--few`` and
``--many`` requests; the difference, divided, is the instructions one request
costs, start-up excluded.  Printed: both, and the instrumentation's share.

    .venv/bin/python benchmarks/prometheus_instructions.py      # ~1 minute; needs valgrind

(The instructions of the HTTP server and the kernel are not in it: over HTTP
the share is smaller; ``prometheus.py`` measures that, with the noise.)
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/

HERE = Path(__file__).resolve().parent
N = 10


def answer(variant: str, count: int, db: str) -> None:
    """(In the measured process) answer ``count`` signed ListBuckets with the ``variant`` app."""
    import io
    from urllib.parse import urlsplit

    sys.path.insert(0, str(HERE))
    import account
    from s3service.auth.presign import presign
    from s3service.backends.sql import SQLBackend
    from s3service.gateway import prometheus
    from s3service.gateway.instrumented import InstrumentedApp, instrument_store
    from s3service.gateway.server import make_policed_app
    from s3service.gateway.tally import Tally

    store = SQLBackend(db)
    tally = Tally()
    if variant == "plain":
        app = make_policed_app(store)
    else:
        app = make_policed_app(instrument_store(store, tally))
        app = InstrumentedApp(app, app.hosts, tally)
    query = urlsplit(presign("GET", "http://127.0.0.1:8000/", account.ACCESS_KEY,
                             account.SECRET_KEY, region=account.REGION, expires=86400)).query

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        assert status.startswith("200"), status

    for number in range(count):
        app({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SCRIPT_NAME": "", "QUERY_STRING": query,
             "HTTP_HOST": "127.0.0.1:8000", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
             "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b"")}, start_response)
        if variant != "plain" and number % 500 == 499:
            prometheus.publish(tally.take())


def instructions(variant: str, count: int, db: str, tmp: Path) -> int:
    env = dict(os.environ, PYTHONHASHSEED="0", PROMETHEUS_MULTIPROC_DIR=str(tmp / "prom"))
    shutil.rmtree(tmp / "prom", ignore_errors=True)
    (tmp / "prom").mkdir()
    proc = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, __file__, "--answer", variant, str(count), db],
        capture_output=True, text=True, env=env, timeout=1200)
    found = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"valgrind failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--few", type=int, default=500, help="(default: %(default)s)")
    parser.add_argument("--many", type=int, default=2500, help="(default: %(default)s)")
    parser.add_argument("--answer", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.answer:
        answer(args.answer[0], int(args.answer[1]), args.answer[2])
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE))
    import account
    from deployed import bucket_names

    with tempfile.TemporaryDirectory(prefix="s3service-bench-instr-") as name:
        tmp = Path(name)
        db = f"sqlite:///{tmp / 'store.db'}"
        from s3service.backends.sql import SQLBackend

        store = SQLBackend(db)
        account.seed(store, bucket_names(N))
        store.close()
        per_request = {}
        for variant in ("plain", "instrumented"):
            few = instructions(variant, args.few, db, tmp)
            many = instructions(variant, args.many, db, tmp)
            per_request[variant] = (many - few) / (args.many - args.few)
    plain, instrumented = per_request["plain"], per_request["instrumented"]
    print(f"signed ListBuckets in-process (the app serve runs, SQLite, N = {N}), "
          f"instructions per request, {args.many - args.few} requests' difference:")
    print(f"  plain         {plain:10,.0f}")
    print(f"  instrumented  {instrumented:10,.0f}  (+{instrumented - plain:,.0f}, "
          f"+{(instrumented / plain - 1) * 100:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
