"""What the IAM layer costs a signed ListBuckets at N=10 over HTTP: before and after, against
the run-to-run noise.

Three gunicorn servers (one ``sync`` worker each) on 127.0.0.1 serve the gateway as
``serve`` builds it, each on an SQLite store holding one account with 10 buckets:

``before``, ``before-again``
    the code of ``--before`` (a git revision, default ``main``: extracted with ``git
    archive`` into a temporary directory), :func:`s3service.gateway.server.make_policed_app`:
    the middleware and the gateway as ``serve`` ran them before the IAM API.  Two of them:
    the difference between two identical servers is the noise of this machine.
``after``
    this checkout's code: the same, wrapped in :class:`s3service.iam.IAMLayer`
    (:func:`~s3service.gateway.server.with_iam`), as ``serve`` runs it now -- with the
    store's revocation polling and its record of each key's last use.

Every answer is checked first (200 and the 10 names).  Then ``wrk`` replays one presigned
(SigV4) ListBuckets URL against each server in turn, rotating the order, for
``--rounds`` rounds of ``--seconds``.  Printed: each server's requests/s (median of the
rounds) and server CPU time per request (less swayed by a loaded machine), the per-round
ratios after/before and before-again/before of both (medians and ranges), and PASS when
the median after/before is no worse than 1 by more than the widest gap between the two
identical servers in any round (the noise), for requests/s and for CPU per request.

Run from the project's root (needs ``wrk`` and gunicorn, see ``benchmarks/setup.sh``)::

    .venv/bin/python benchmarks/iam_layer.py                 # ~2 minutes
    .venv/bin/python benchmarks/iam_layer.py --rounds 9 --seconds 8
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import account  # noqa: E402
from deployed import check_serve, fetch_raw, presign, run_wrk  # noqa: E402
from listbuckets import process_tree_cpu  # noqa: E402
from serving import free_port, wait_listening  # noqa: E402

N = 10
KINDS = ("before", "before-again", "after")


def app(kind: str, db: str):
    """The WSGI app gunicorn serves for ``kind`` (see the module documentation)."""
    from s3service.backends.sql import SQLBackend
    from s3service.gateway.server import make_policed_app, with_iam

    store = SQLBackend(db)
    gateway = make_policed_app(store, region=account.REGION)
    return with_iam(gateway, store) if kind == "after" else gateway


def code_path(kind: str, before: Path) -> str:
    """``PYTHONPATH`` for a server of ``kind``: the old code's tree first for ``before``."""
    return os.pathsep.join(([str(before)] if kind != "after" else [])
                           + [str(HERE), str(HERE.parent)])


def start(kind: str, db: str, tmp: Path, before: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    log = open(tmp / f"{kind}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--worker-class", "sync", "--log-level", "warning", "--chdir", str(tmp),
         f"iam_layer:app({kind!r}, {db!r})"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "PYTHONPATH": code_path(kind, before), "PYTHONDONTWRITEBYTECODE": "1"})
    wait_listening(proc, port)
    return proc, port


def extract(revision: str, into: Path) -> None:
    """The package ``s3service`` as it is at ``revision``, into ``into``."""
    into.mkdir()
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", revision, "s3service"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def seed_with(kind: str, db: str, names: list[str], before: Path) -> None:
    """Seed ``db`` with the code the server of ``kind`` runs (its schema version)."""
    subprocess.run([sys.executable, "-c", "import sys; from deployed import seed; "
                    "seed(sys.argv[1], sys.argv[2:])", db, *names], check=True,
                   env={**os.environ, "PYTHONPATH": code_path(kind, before),
                        "PYTHONDONTWRITEBYTECODE": "1"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--before", default="main", metavar="REVISION",
                        help="the git revision the before servers run (default: %(default)s)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)       # (the servers are stopped on the way out)
    if shutil.which("wrk") is None:
        print("wrk is not installed (sh benchmarks/setup.sh)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="s3service-iam-bench-"))
    names = [f"bucket-{i:05d}" for i in range(N)]
    before = tmp / "before"
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    try:
        extract(args.before, before)
        for kind in KINDS:
            db = f"sqlite:///{tmp / (kind + '.db')}"
            seed_with(kind, db, names, before)
            servers[kind] = start(kind, db, tmp, before)
        urls = {}
        for kind, (_, port) in servers.items():
            urls[kind] = presign(port, account.ACCESS_KEY, account.SECRET_KEY, 3600)
            check_serve(fetch_raw(urls[kind]), names)
            run_wrk(urls[kind], 1, 1, args.connections)                 # warm up
        load = os.getloadavg()
        print(f"before: {args.before}; store: SQLite, N={N}; server: gunicorn 1 sync worker "
              f"each; wrk "
              f"{args.connections} connections, {args.rounds} rounds x {args.seconds} s; "
              f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
              f"on {os.cpu_count()} CPUs")
        rates: dict[str, list[float]] = {kind: [] for kind in KINDS}
        cpu: dict[str, list[float]] = {kind: [] for kind in KINDS}   # µs per request
        for number in range(args.rounds):
            order = KINDS[number % 3:] + KINDS[:number % 3]
            for kind in order:
                used = process_tree_cpu(servers[kind][0].pid)
                run = run_wrk(urls[kind], args.seconds, 1, args.connections)
                used = process_tree_cpu(servers[kind][0].pid) - used
                if run.errors:
                    raise RuntimeError(f"{kind}: {run.errors} errors in round {number + 1}")
                rates[kind].append(run.rps)
                cpu[kind].append(1e6 * used / max(1, run.requests))
            print(f"round {number + 1}: " + ", ".join(
                f"{kind} {rates[kind][-1]:.0f}/s {cpu[kind][-1]:.0f} µs CPU/request"
                for kind in KINDS), flush=True)
        layer = [a / b for a, b in zip(rates["after"], rates["before"])]
        noise = [a / b for a, b in zip(rates["before-again"], rates["before"])]
        for kind in KINDS:
            print(f"{kind:>13}: {statistics.median(rates[kind]):8.0f} requests/s, "
                  f"{statistics.median(cpu[kind]):5.0f} µs server CPU per request (medians)")
        cpu_layer = [a / b for a, b in zip(cpu["after"], cpu["before"])]
        cpu_noise = [a / b for a, b in zip(cpu["before-again"], cpu["before"])]
        print(f"CPU per request, after / before:        median "
              f"{statistics.median(cpu_layer):.3f} (range {min(cpu_layer):.3f} .. "
              f"{max(cpu_layer):.3f})")
        print(f"CPU per request, before-again / before: median "
              f"{statistics.median(cpu_noise):.3f} (range {min(cpu_noise):.3f} .. "
              f"{max(cpu_noise):.3f})")
        print(f"after / before:        median {statistics.median(layer):.3f} "
              f"(range {min(layer):.3f} .. {max(layer):.3f})")
        print(f"before-again / before: median {statistics.median(noise):.3f} "
              f"(range {min(noise):.3f} .. {max(noise):.3f})  <- the noise")
        # The noise: how far apart two identical servers were, at worst, in one round.
        spread = max(abs(1 - r) for r in noise)
        cpu_spread = max(abs(1 - r) for r in cpu_noise)
        verdicts = [("requests/s", statistics.median(layer) >= 1 - spread,
                     f"after/before {statistics.median(layer):.3f} >= {1 - spread:.3f}"),
                    ("CPU per request", statistics.median(cpu_layer) <= 1 + cpu_spread,
                     f"after/before {statistics.median(cpu_layer):.3f} <= {1 + cpu_spread:.3f}")]
        for what, held, detail in verdicts:
            print(f"{'PASS' if held else 'FAIL'} ({what}): the IAM layer costs "
                  f"{'no more than' if held else 'more than'} the run-to-run noise ({detail})")
        load = os.getloadavg()
        print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        return 0
    except Exception:
        for kind in KINDS:                     # what the servers said, for the failure
            log = tmp / f"{kind}.log"
            if log.exists():
                print(f"--- {kind}'s log:\n{log.read_text(errors='replace')[-3000:]}",
                      file=sys.stderr)
        raise
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        for proc, _ in servers.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
