"""What metering costs a signed ListBuckets, in-process: metrics at every level on vs off.

Two middlewares over a ``MemoryBackend`` holding the same N buckets (10 and
100 by default)
(``factories.s3service_memory`` and ``factories.s3service_metered``): one
without a metrics store, one metering every request at all four levels (the
service, the account, the user, the bucket when there is one) and flushing to
the same store as it would in production (a background flush every 10 s and
every 10,000 requests).  Each call is a SigV4-signed ``GET /`` made by
botocore through the shared harness; only the WSGI call, the body drain and
``close()`` are timed (``harness.measure``).

The two run in turns (off, on, on, off, ...) in batches of ``--batch`` calls
(environs signed beforehand), for ``--rounds`` pairs of batches.  A batch is
timed by the process's CPU clock (``time.process_time``: every thread of the
process, the meter's flusher included; time spent descheduled while other
processes use the CPU is not counted, so that a busy machine does not blur
the figures).  Per pair, the cost ``on / off - 1``; printed: the median µs
per call of each, the median cost over the pairs, and PASS/FAIL against the
target (≤ 5 %).  Store: MemoryBackend, in-process, one thread, no server.

    .venv/bin/python benchmarks/metering.py [--n 10 100] [--rounds 40] [--batch 2000] [--strict]

It first measures metering off against a second instance of itself (the
noise floor of the machine at the time), then each size.  ``--http-rounds R``
also serves both (N = 10) under gunicorn (1 sync worker) and loads them in
turns with wrk, comparing the server's CPU µs per request.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import factories  # noqa: E402  (also puts the shared harness on sys.path)
from factories import harness  # noqa: E402

TARGET_COST = 0.05          # metering adds at most 5 % to a signed ListBuckets


def cpu_us_per_call(app, environs) -> float:
    """CPU µs per call of ``app`` over ``environs`` (call, body drained, closed)."""
    def start_response(status, headers, exc_info=None):
        if status[0] != "2":
            raise RuntimeError(f"answered {status}")
        return lambda data: None

    t0 = time.process_time_ns()
    for environ in environs:
        result = app(environ, start_response)
        for _ in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return (time.process_time_ns() - t0) / len(environs) / 1000


def compare(a, b, make, rounds: int, batch: int) -> tuple[float, float, float]:
    """Median µs/call of ``a`` and ``b`` and the median of the per-pair costs ``b / a - 1``."""
    for app in (a, b):                                     # warm-up
        cpu_us_per_call(app, [make() for _ in range(batch)])
    costs, times = [], {"a": [], "b": []}
    for round_ in range(rounds):
        order = (("a", a), ("b", b)) if round_ % 2 == 0 else (("b", b), ("a", a))
        got = {}
        for name, app in order:
            got[name] = cpu_us_per_call(app, [make() for _ in range(batch)])
            times[name].append(got[name])
        costs.append(got["b"] / got["a"] - 1)
    return (statistics.median(times["a"]), statistics.median(times["b"]),
            statistics.median(costs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 100],
                        help="buckets listed (default 10 100)")
    parser.add_argument("--rounds", type=int, default=40, help="pairs of batches (default 40)")
    parser.add_argument("--batch", type=int, default=2000, help="calls per batch (default 2000)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if the target is missed")
    parser.add_argument("--http-rounds", type=int, default=0,
                        help="also over HTTP, this many rounds (default 0: not)")
    parser.add_argument("--http-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)

    print(f"store: MemoryBackend, in-process (no server), one thread; {args.rounds} pairs of "
          f"batches of {args.batch} signed ListBuckets per size; CPU time of the process")
    all_ok = True
    for n in args.n:
        off, make = factories.s3service_memory(n)
        other_off, _ = factories.s3service_memory(n)
        on, make_on = factories.s3service_metered(n)
        for app in (off, other_off, on):
            harness.verify(app, make, n)
        if n == args.n[0]:
            # The same app twice: how far apart two measurements of one thing fall here.
            _, _, noise = compare(off, other_off, make, args.rounds, args.batch)
            print(f"noise floor (metering off against itself, N = {n}): {noise:+.1%}")
        t_off, t_on, cost = compare(off, on, make, args.rounds, args.batch)
        on.meter.flush()
        listed = on.metrics.get_metrics(0, 2 ** 62).operations.get("s3:ListAllMyBuckets", 0)
        if listed == 0:
            raise RuntimeError("the metered app counted nothing")
        ok = cost <= TARGET_COST
        all_ok = all_ok and ok
        print(f"N = {n}: off {t_off:.1f} µs/call, metering at every level {t_on:.1f} µs/call; "
              f"median cost {cost:+.1%} (target <= {TARGET_COST:.0%}): "
              f"{'PASS' if ok else 'FAIL'}; {listed} ListAllMyBuckets counted")
    if args.http_rounds:
        over_http(args)
    return 1 if args.strict and not all_ok else 0


def over_http(args: argparse.Namespace) -> None:
    """The same two apps under gunicorn, loaded by wrk in turns: server CPU µs per request."""
    import listbuckets

    http = argparse.Namespace(workers=1, worker_class="sync", threads=1, loadgen="auto",
                              clients=1, conns=8, warmup=1, http_seconds=args.http_seconds)
    print(f"over HTTP: gunicorn on 127.0.0.1, 1 sync worker, 1 thread, N = "
          f"{listbuckets.HTTP_N}, MemoryBackend; wrk (or the Python load generator), 1 thread, "
          f"8 connections; {args.http_rounds} rounds of {args.http_seconds} s in turns")
    kinds = ("s3service", "s3service-metered")
    servers, runs = {}, {kind: [] for kind in kinds}
    try:
        for kind in kinds:
            servers[kind] = listbuckets.start_gunicorn(kind, http)
        for round_ in range(args.http_rounds):
            for kind in kinds if round_ % 2 == 0 else kinds[::-1]:
                runs[kind].append(listbuckets.load_once(*servers[kind], http))
    finally:
        for _, server in servers.values():
            listbuckets.stop_gunicorn(server)
    for kind in kinds:
        if any(r["errors"] for r in runs[kind]):
            raise RuntimeError(f"{kind}: errors under load")
    cpu = {k: statistics.median(r["cpu_us_per_req"] for r in rs) for k, rs in runs.items()}
    rps = {k: statistics.median(r["rps"] for r in rs) for k, rs in runs.items()}
    costs = [m["cpu_us_per_req"] / o["cpu_us_per_req"] - 1
             for o, m in zip(runs["s3service"], runs["s3service-metered"])]
    print(f"over HTTP: off {rps['s3service']:.0f} req/s, {cpu['s3service']:.0f} server CPU "
          f"µs/req; metering on {rps['s3service-metered']:.0f} req/s, "
          f"{cpu['s3service-metered']:.0f} µs/req; median cost in server CPU "
          f"{statistics.median(costs):+.1%} (rounds {min(costs):+.1%} to {max(costs):+.1%})")


if __name__ == "__main__":
    sys.exit(main())
