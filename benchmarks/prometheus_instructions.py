"""What ``serve --prometheus-port``'s instrumentation costs a signed ListBuckets, in instructions.

Timings on a shared machine drift by more than the few percent measured
here; instruction counts do not.  Under valgrind's cachegrind, one process
answers signed ListBuckets in-process (the WSGI app ``serve`` runs: the
gateway behind the middleware, on SQLite with N = 10 buckets), plain or
instrumented as a worker of ``serve --prometheus-port`` is (the app wrapped,
each of the store's calls timed, and the tally added up and published every
500 requests -- more often than its thread does, each second).  Each is run
for ``--few`` and ``--many`` requests; the difference, divided, is the instructions one request
costs, start-up excluded.  Printed: both, and the instrumentation's share.

    .venv/bin/python benchmarks/prometheus_instructions.py      # ~1 minute; needs valgrind

(The instructions of the HTTP server and the kernel are not in it: over HTTP
the share is smaller; ``prometheus.py`` measures that, with the noise.)

With ``--http``, also a request served over HTTP: ``s3service serve --workers
1`` as shipped, with and without ``--prometheus-port``, runs under cachegrind
(all its processes: granian's own code counted, the kernel's not) and answers
the presigned ListBuckets on one kept-alive connection; the difference
between ``--few`` and ``--many`` requests, divided, again.  (Under valgrind a
request takes ~50 times as long, so what the workers do once a second --
publishing, the exporter waiting -- weighs more per request than it does
at full speed: the share is, if anything, too large.)  ~1 more minute.
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
    from s3service.gateway.instrumented import InstrumentedApp
    from s3service.gateway.server import make_policed_app
    from s3service.gateway.tally import Tally

    store = SQLBackend(db)
    tally = Tally()
    if variant == "plain":
        app = make_policed_app(store)
    else:
        store.observe_database(tally)
        app = make_policed_app(store)
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


def served_instructions(on: bool, count: int, db: str, tmp: Path) -> int:
    """(All the processes of) ``serve --workers 1`` answering ``count`` ListBuckets over HTTP."""
    import http.client
    import signal
    import time

    import account
    import deployed

    out = tmp / "served"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    port = deployed.free_port()
    flags = ["--prometheus-port", str(deployed.free_port())] if on else []
    script = Path(sys.executable).with_name("s3service")
    proc = subprocess.Popen(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--trace-children=yes",
         f"--cachegrind-out-file={out}/cg.%p", str(script), "--db", db, "serve", "--port",
         str(port), "--workers", "1", *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env=dict(os.environ, PYTHONHASHSEED="0"))
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                conn.connect()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("serve under valgrind did not start") from None
                time.sleep(0.5)
        url = deployed.presign(port, account.ACCESS_KEY, account.SECRET_KEY, 3600)
        target = url[url.index(str(port)) + len(str(port)):]
        for _ in range(count):
            conn.request("GET", target)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"serve answered {response.status}")
        conn.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=300)
    # Each process writes its file as it leaves; the worker, in a process
    # group of its own, may leave after the main process.
    expected = 3 if on else 2           # (the main process, the worker, the exporter)
    deadline = time.monotonic() + 120
    while len(names := _finished(out)) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    if len(names) < expected:
        # (granian kills a worker that takes over STOP_TIMEOUT to stop, as one
        # under valgrind on a busy machine may: it leaves no counts)
        raise Lost(f"only {len(names)} of serve's processes left their counts")
    total = 0
    for name in names:
        with open(name) as lines:
            total += sum(int(line.split()[1]) for line in lines if line.startswith("summary:"))
    return total


def _finished(out: Path) -> list[str]:
    """The cachegrind files in ``out`` written whole (their summary line last)."""
    import glob

    names = []
    for name in glob.glob(f"{out}/cg.*"):
        with open(name) as lines:
            if any(line.startswith("summary:") for line in lines):
                names.append(name)
    return names


class Lost(RuntimeError):
    """A measurement lost a process's counts: to be run again."""


def served_retried(on: bool, count: int, db: str, tmp: Path, attempts: int = 3) -> int:
    """:func:`served_instructions`, run again (at most ``attempts`` times) when it lost a process."""
    for attempt in range(1, attempts + 1):
        try:
            return served_instructions(on, count, db, tmp)
        except Lost as exc:
            if attempt == attempts:
                raise
            print(f"({exc}: again)", file=sys.stderr)
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--few", type=int, default=500, help="(default: %(default)s)")
    parser.add_argument("--many", type=int, default=2500, help="(default: %(default)s)")
    parser.add_argument("--http", action="store_true",
                        help="also a request served over HTTP by serve --workers 1")
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
        if args.http:
            for on in (False, True):
                few = served_retried(on, args.few, db, tmp)
                many = served_retried(on, args.many, db, tmp)
                per_request["served " + ("on" if on else "off")] = \
                    (many - few) / (args.many - args.few)
    plain, instrumented = per_request["plain"], per_request["instrumented"]
    print(f"signed ListBuckets in-process (the app serve runs, SQLite, N = {N}), "
          f"instructions per request, {args.many - args.few} requests' difference:")
    print(f"  plain         {plain:10,.0f}")
    print(f"  instrumented  {instrumented:10,.0f}  (+{instrumented - plain:,.0f}, "
          f"+{(instrumented / plain - 1) * 100:.1f}%)")
    if args.http:
        off, on = per_request["served off"], per_request["served on"]
        print("served over HTTP (serve --workers 1, all its processes; the kernel's "
              "instructions not counted):")
        print(f"  off           {off:10,.0f}")
        print(f"  on            {on:10,.0f}  (+{on - off:,.0f}, +{(on / off - 1) * 100:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
