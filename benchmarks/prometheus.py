"""What ``serve --prometheus-port`` costs: signed ListBuckets at N = 10, with it and without.

Two ``s3service serve`` as shipped (the ``s3service`` command of the running
interpreter's virtualenv), on one SQLite store seeded with N buckets, run
side by side on 127.0.0.1: ``off`` (``--db URL serve --port P``) and ``on``
(the same with ``--prometheus-port Q``).  Both answers are checked first (200,
the seeded names); then ``wrk`` replays one presigned ListBuckets URL (SigV4)
against each in turn, the order turned every round, for ``--rounds`` rounds
of ``--seconds``, after a warm-up.  Printed: requests/s (median of the
rounds), each server's CPU µs per request (all its processes, from /proc),
the per-round ratios on/off with their median, and PASS/FAIL against the
target: instrumentation costs at most 3% of requests/s (median ratio >=
0.97).  Finally ``/metrics`` of ``on`` must count at least the requests wrk
saw answered (wrk does not count those cut off at the end of a run).  With
``--control``, a third server, ``off2``, the same as ``off``: the median of
off2/off is what the run's noise alone makes of two equal servers.

Run from the project's root (``sh benchmarks/setup.sh`` installs wrk)::

    .venv/bin/python benchmarks/prometheus.py            # ~1 minute
    .venv/bin/python benchmarks/prometheus.py --rounds 9 --seconds 5 --serve-args "--workers 2"

Exit status: 0; 1 with ``--strict`` when the target is missed; 2 when the run fails.
"""
from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import deployed  # noqa: E402
from account import ACCESS_KEY, SECRET_KEY  # noqa: E402

#: The least requests/s ratio with --prometheus-port over without it (issue 23).
TARGET = 0.97
N = 10


def scraped_listings(port: int) -> float:
    """``s3service_requests_total`` of ListAllMyBuckets 200 in the exporter's text."""
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read()
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if (sample.name == "s3service_requests_total"
                    and sample.labels == {"operation": "s3:ListAllMyBuckets", "status": "200"}):
                return sample.value
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default: %(default)s)")
    parser.add_argument("--seconds", type=int, default=4,
                        help="seconds of each wrk run (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=10, help="(default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="wrk's (default: %(default)s)")
    parser.add_argument("--serve-args", default="", metavar="ARGS",
                        help="more flags for both servers, e.g. '--workers 2'")
    parser.add_argument("--control", action="store_true",
                        help="also a second server without the port, 'off2': off2/off is the "
                             "run's own noise")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)

    script = Path(sys.executable).with_name("s3service")
    if not script.exists():
        print(f"no s3service command beside {sys.executable}: pip install -e '.[bench]'",
              file=sys.stderr)
        return 2
    extra = shlex.split(args.serve_args)
    servers: dict[str, deployed.Server] = {}
    with tempfile.TemporaryDirectory(prefix="s3service-bench-prom-") as tmp:
        try:
            db = f"sqlite:///{Path(tmp) / 'store.db'}"
            names = deployed.bucket_names(N)
            deployed.seed(db, names)
            metrics_port = deployed.free_port()
            kinds = [("off", []), ("on", ["--prometheus-port", str(metrics_port)])]
            if args.control:
                kinds.append(("off2", []))
            for name, flags in kinds:
                port = deployed.free_port()
                server = deployed.Server(name, deployed.serve_command(
                    script, db, port, [*extra, *flags]), port, Path(tmp) / f"{name}.log")
                servers[name] = server
                server.start()
                server.wait_listening()
                server.url = deployed.presign(port, ACCESS_KEY, SECRET_KEY, 3600)
                deployed.check_serve(deployed.fetch_raw(server.url), names)
            print(f"s3service serve, SQLite store, N = {N} buckets, signed ListBuckets "
                  f"(presigned URL) over HTTP on 127.0.0.1; serve flags: "
                  f"{' '.join(extra) or '(none: as shipped)'}; "
                  f"workers: {servers['off'].worker_count()} per server")
            print(f"load: wrk, {args.threads} thread(s), {args.connections} connections; "
                  f"{args.rounds} rounds of {args.seconds} s, order turned each round; "
                  f"machine: {os.getloadavg()[0]:.2f} load average (1 min) before, "
                  f"{os.cpu_count()} CPUs")
            for server in servers.values():
                deployed.run_wrk(server.url, args.warmup, args.threads, args.connections)
            runs: dict[str, list[deployed.WrkRun]] = {name: [] for name in servers}
            names_in_turn = list(servers)
            for number in range(args.rounds):
                turned = names_in_turn[number % len(names_in_turn):] + \
                    names_in_turn[:number % len(names_in_turn)]
                for name in turned if number % 2 == 0 else reversed(turned):
                    server = servers[name]
                    before = server.cpu_seconds()
                    run = deployed.run_wrk(server.url, args.seconds, args.threads,
                                           args.connections)
                    run.cpu_seconds = server.cpu_seconds() - before
                    runs[name].append(run)
                    server.check_alive()
            time.sleep(1.5)                   # (the workers publish their counts each second)
            scraped = scraped_listings(metrics_port)
        except deployed.BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            for server in servers.values():
                server.stop()

    for name in runs:
        rps = statistics.median(run.rps for run in runs[name])
        cpu = statistics.median(run.cpu_us_per_request for run in runs[name])
        errors = sum(run.errors for run in runs[name])
        p50 = statistics.median(run.p50_ms for run in runs[name])
        print(f"  {name:3}  {rps:8.0f} req/s  p50 {p50:6.2f} ms  {cpu:7.1f} CPU µs/request  "
              f"errors {errors}")
    ratios = [on.rps / off.rps for on, off in zip(runs["on"], runs["off"])]
    ratio = statistics.median(ratios)
    cpu_on = statistics.median(run.cpu_us_per_request for run in runs["on"])
    cpu_off = statistics.median(run.cpu_us_per_request for run in runs["off"])
    print(f"  on/off requests/s: median {ratio:.3f} (rounds {min(ratios):.3f} .. "
          f"{max(ratios):.3f}); CPU per request {cpu_on - cpu_off:+.1f} µs "
          f"({(cpu_on / cpu_off - 1) * 100:+.1f}%)")
    if "off2" in runs:
        noise = [off2.rps / off.rps for off2, off in zip(runs["off2"], runs["off"])]
        cpu_off2 = statistics.median(run.cpu_us_per_request for run in runs["off2"])
        print(f"  off2/off requests/s (the noise): median {statistics.median(noise):.3f} (rounds "
              f"{min(noise):.3f} .. {max(noise):.3f}); CPU per request "
              f"{cpu_off2 - cpu_off:+.1f} µs ({(cpu_off2 / cpu_off - 1) * 100:+.1f}%)")
    answered = sum(run.requests for run in runs["on"])
    print(f"  /metrics counted {scraped:.0f} ListBuckets; wrk saw {answered} answered in the "
          f"timed rounds (plus the warm-up and the check)")
    ok = ratio >= TARGET
    print(f"{'PASS' if ok else 'FAIL'}: instrumentation costs {(1 - ratio) * 100:.1f}% of "
          f"requests/s (target: at most {(1 - TARGET) * 100:.0f}%)")
    if scraped < answered:
        print("FAIL: the scrape counted fewer requests than wrk saw answered")
        ok = False
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
