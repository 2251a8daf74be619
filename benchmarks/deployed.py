"""What users deploy, over HTTP: ``s3service serve`` as shipped, next to bare apps and s3rver.

For each size N (``--sizes``, default 10 and 1,000 buckets) it starts, side
by side on 127.0.0.1:

``serve``
    ``s3service serve`` as shipped: the ``s3service`` console script of the
    running interpreter's virtualenv, ``--db URL serve --port P`` and no
    other flag (``--serve-args`` adds some), on a store seeded through the
    library API (``SQLBackend``) with N buckets under one account.  The store
    is a fresh SQLite file per size, or ``--db URL`` (e.g. PostgreSQL).
``granian``
    the bare app under granian with the very settings ``serve`` runs with
    (read from the ``s3service`` command itself by ``serve_options.py``, not
    written down here) serving ``replay_app.py``: one real answer of
    ``serve``, recorded, sent back byte for byte (same status, headers and
    body framing).  The floor: the cost of granian and HTTP alone.
``gunicorn``
    the same bare app under stock gunicorn, as many ``sync`` workers as
    ``serve`` has: what a plain WSGI deployment costs.
``s3rver``
    s3rver 3 (npm; installed by ``setup.sh``) holding the same N buckets (as
    directories of its data directory), as shipped.

Each answer is checked before anything is timed: status 200, the seeded
names exactly (``serve``), byte for byte ``serve``'s answer (the bare apps;
gunicorn may cut a chunked body into other pieces), the same names (``s3rver``).  Then ``wrk`` replays one presigned ListBuckets URL
(SigV4, signed by botocore) against each, in turn, for ``--rounds`` rounds of
``--seconds`` (after a short warm-up), so that the drift of a shared
machine's speed hits the four alike.  Printed per size: requests/s (median
of the rounds), p50/p99 latency (medians of the rounds'), the server's CPU
time per request, wrk's error counts, every ratio of two servers' requests/s
(medians of the per-round ratios, with their range), and PASS/FAIL against
the targets (:data:`TARGETS`; :data:`TARGETS_POSTGRES` with a PostgreSQL
``--db``).  The exit status is 0 unless ``--strict`` is given and a
target is missed (1), or the run itself fails (2; 130 on Ctrl-C).

Everything started is stopped on the way out, also on errors and Ctrl-C; the
temporary directory (stores, s3rver's data, logs) is removed unless ``--keep``.

Run from the project's root (see ``benchmarks/README.rst``)::

    sh benchmarks/setup.sh                      # wrk and s3rver, once
    .venv/bin/python benchmarks/deployed.py     # ~3 minutes
    .venv/bin/python benchmarks/deployed.py --db postgres --sizes 10   # a throw-away cluster
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import account  # noqa: E402
import replay_app  # noqa: E402
from account import ACCESS_KEY, ACCOUNT_ID, REGION, SECRET_KEY  # noqa: E402

HOST = "127.0.0.1"
S3RVER_ACCESS_KEY = S3RVER_SECRET_KEY = "S3RVER"      # s3rver 3's built-in account
S3RVER_PREFIX_ENV = "S3RVER_PREFIX"                    # where setup.sh installs s3rver
DEFAULT_S3RVER_PREFIX = Path.home() / ".cache" / "s3service-bench"

#: (server, baseline) -> {N: the least requests/s ratio server/baseline}; issue 20's targets.
TARGETS = {("serve", "gunicorn"): {10: 2.5, 1000: 1.5},
           ("serve", "granian"): {10: 0.35},
           ("serve", "s3rver"): {10: 3.0}}
#: The same with serve on PostgreSQL (a round trip per request for the bucket version).
TARGETS_POSTGRES = {("serve", "gunicorn"): {10: 1.0}}
WRK_TIMEOUT = "10s"                    # a request slower than this counts as an error
START_TIMEOUT = 60.0                   # seconds for a server to start answering
STOP_TIMEOUT = 15.0                    # seconds for a server to stop before SIGKILL
FETCH_TIMEOUT = 60.0                   # seconds for one checked request
MAX_PRESIGN_SECONDS = 604800           # SigV4 presigned URLs live a week at most

# Headers the server writes itself (the bare app must not send them), and the
# ones whose value changes with every request.
SERVER_HEADERS = {"server", "date", "connection", "transfer-encoding"}
CHANGING_HEADERS = {"date", "x-amz-request-id", "x-amz-id-2"}


class BenchError(RuntimeError):
    """The benchmark cannot go on (a server failed to start, a wrong answer...)."""


def log(message: str) -> None:
    """Progress, on stderr (the figures go to stdout)."""
    print(message, file=sys.stderr, flush=True)


def bucket_names(n: int) -> list[str]:
    """The N bucket names (sorted; the same names as the shared harness's)."""
    return ["bench-bucket-%05d" % i for i in range(n)]


# -- HTTP, by hand: the exact bytes ----------------------------------------------------------

@dataclass
class RawResponse:
    """One HTTP response as it came over the wire."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    chunks: list[bytes]          # the body: its chunks if chunked, else one piece
    chunked: bool

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def comparable(self) -> tuple[Any, ...]:
        """Everything but the values that change with each request and the headers the
        server writes itself (in any order)."""
        headers = sorted((name.lower(), "" if name.lower() in CHANGING_HEADERS else value)
                         for name, value in self.headers if name.lower() not in SERVER_HEADERS)
        return self.status, headers, self.chunked, [len(c) for c in self.chunks], self.body


def parse_chunked(data: bytes) -> list[bytes]:
    """The chunks of a ``Transfer-Encoding: chunked`` body (without the final empty one)."""
    chunks = []
    pos = 0
    while True:
        line_end = data.index(b"\r\n", pos)
        size = int(data[pos:line_end].split(b";")[0], 16)
        pos = line_end + 2
        if size == 0:
            return chunks
        chunks.append(data[pos:pos + size])
        pos += size + 2


def fetch_raw(url: str, timeout: float = FETCH_TIMEOUT) -> RawResponse:
    """``GET url`` over one fresh connection (``Connection: close``), read to the end."""
    parts = urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    request = (f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               "Connection: close\r\n\r\n").encode("latin-1")
    data = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    _, status, reason = (lines[0].split(" ", 2) + [""])[:3]
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    chunked = any(name.lower() == "transfer-encoding" and "chunked" in value.lower()
                  for name, value in headers)
    if chunked:
        chunks = parse_chunked(rest)
    else:
        length = next((int(value) for name, value in headers
                       if name.lower() == "content-length"), len(rest))
        chunks = [rest[:length]]
    return RawResponse(int(status), reason, headers, chunks, chunked)


def listed_names(body: bytes) -> list[str]:
    """The bucket names of a ``ListAllMyBucketsResult``, in the order listed (any namespace)."""
    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    root = ElementTree.fromstring(body)
    names = []
    for element in root.iter():
        if local(element.tag) == "Bucket":
            for child in element:
                if local(child.tag) == "Name":
                    names.append(child.text or "")
    return names


def presign(port: int, access_key: str, secret_key: str, expires: int) -> str:
    """A SigV4 presigned ListBuckets URL for ``http://127.0.0.1:port/`` (botocore)."""
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "s3", region_name=REGION, endpoint_url=f"http://{HOST}:{port}",
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    return client.generate_presigned_url("list_buckets", ExpiresIn=expires)


# -- servers ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """One server under test, run as a process group of its own."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    url: str = ""                # the presigned URL wrk replays

    def start(self) -> None:
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                            stderr=subprocess.STDOUT, env=self.env,
                                            start_new_session=True)

    def wait_listening(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise BenchError(f"{self.name} did not listen on {HOST}:{self.port} within "
                         f"{timeout:.0f} s{self.log_tail()}")

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            status = None if self.process is None else self.process.returncode
            raise BenchError(f"{self.name} exited (status {status}){self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return f"; the end of its log ({self.log_path}):\n    " + "\n    ".join(text)

    def stop(self) -> None:
        """SIGTERM to the server, SIGKILL to what is left of its process group."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)    # workers left behind, if any
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()
        self.process = None

    def children(self) -> list[int] | None:
        """The process ids of the server's children (gunicorn: its workers); None if unknown."""
        if self.process is None:
            return []
        pids: list[int] = []
        try:
            for task in Path(f"/proc/{self.process.pid}/task").iterdir():
                pids += [int(pid) for pid in (task / "children").read_text().split()]
        except OSError:
            return None
        return pids

    def worker_count(self) -> int:
        """How many child processes the server runs now (-1: cannot tell)."""
        children = self.children()
        return -1 if children is None else len(children)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server and its children, from /proc."""
        if self.process is None:
            return 0.0
        ticks = 0
        for pid in [self.process.pid, *(self.children() or [])]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue                     # a worker that just exited
            ticks += int(fields[11]) + int(fields[12])   # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")


# -- the settings serve runs with ------------------------------------------------------------

@dataclass
class ServeSettings:
    """The granian settings of ``s3service serve``, as read from the command."""

    options: dict[str, Any]      # granian's Server settings, as JSON (serve_options.to_json)
    workers: int
    threads: int
    source: str


def serve_command(script: Path, db: str, port: int, serve_args: list[str]) -> list[str]:
    return [str(script), "--db", db, "serve", "--port", str(port), *serve_args]


def read_serve_settings(db: str, serve_args: list[str], tmp: Path) -> ServeSettings:
    """Ask the ``s3service`` command which granian settings it would run with."""
    out = tmp / "serve-options.json"
    command = ["--db", db, "serve", "--port", str(free_port()), *serve_args]
    proc = subprocess.run([sys.executable, str(HERE / "serve_options.py"), str(out), *command],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        reason = " / ".join(proc.stderr.strip().splitlines()[-2:]) or "no message"
        shown = ["--db", safe_url(db), *command[2:]]          # no password
        raise BenchError(f"cannot read the settings of s3service {shlex.join(shown)}: {reason}")
    data = json.loads(out.read_text())
    options = {name: value for name, value in data["options"].items()
               if name not in ("address", "port")}
    return ServeSettings(options=options, source=f"read from the s3service command "
                         f"({data['entry_point']})", **data["effective"])


# -- seeding ---------------------------------------------------------------------------------

def seed(db: str, names: list[str]) -> float:
    """Give the store at ``db`` one account, its key and exactly ``names``; returns seconds.

    Buckets the account had before (an earlier size on the same ``--db``) go first.
    """
    from s3service.backends.sql import SQLBackend

    started = time.monotonic()
    store = SQLBackend(db)
    try:
        account.seed(store, names)
    finally:
        store.close()
    return time.monotonic() - started


def unseed(db: str) -> None:
    """Remove the account's buckets from ``db`` again (the account and key stay)."""
    from s3service.backends.sql import SQLBackend

    store = SQLBackend(db)
    try:
        for info in list(store.list_buckets(ACCOUNT_ID)):
            store.delete_bucket(info.name)
    finally:
        store.close()


def safe_url(db: str) -> str:
    """``db`` without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(db).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", db)


# -- wrk -------------------------------------------------------------------------------------

@dataclass
class WrkRun:
    """What one wrk run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int                  # non-2xx/3xx answers + socket errors
    cpu_seconds: float = 0.0     # the server's CPU time during the run

    @property
    def cpu_us_per_request(self) -> float:
        return 1e6 * self.cpu_seconds / self.requests if self.requests else 0.0


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk(output: str) -> WrkRun:
    """The figures of ``wrk --latency``'s report."""
    def latency(percent: str) -> float:
        found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M)
        if found is None:
            raise BenchError(f"no {percent}% latency in wrk's output:\n{output}")
        return float(found.group(1)) * _UNITS_MS[found.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    requests = re.search(r"(\d+) requests in", output)
    if rps is None or requests is None:
        raise BenchError(f"cannot read wrk's output:\n{output}")
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                        output)
    if sockets:
        errors += sum(int(count) for count in sockets.groups())
    return WrkRun(rps=float(rps.group(1)), p50_ms=latency("50"), p99_ms=latency("99"),
                  requests=int(requests.group(1)), errors=errors)


def run_wrk(url: str, seconds: int, threads: int, connections: int) -> WrkRun:
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
            "--timeout", WRK_TIMEOUT, "--latency", url]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=seconds + 60)
    if proc.returncode != 0:
        raise BenchError(f"wrk failed ({proc.returncode}): {proc.stderr.strip()}")
    return parse_wrk(proc.stdout)


# -- one size --------------------------------------------------------------------------------

@dataclass
class SizeResult:
    n: int
    runs: dict[str, list[WrkRun]] = field(default_factory=dict)
    seed_seconds: float = 0.0

    def median_rps(self, name: str) -> float:
        return statistics.median(run.rps for run in self.runs[name])

    def ratios(self, name: str, other: str) -> list[float]:
        return [mine.rps / theirs.rps if theirs.rps else float("inf")
                for mine, theirs in zip(self.runs[name], self.runs[other])]


SERVERS = ("serve", "granian", "gunicorn", "s3rver")
BARE = ("granian", "gunicorn")


def check_serve(response: RawResponse, names: list[str]) -> None:
    if response.status != 200:
        raise BenchError(f"s3service serve answered {response.status}: {response.body[:500]!r}")
    listed = listed_names(response.body)
    if listed != names:
        raise BenchError(f"s3service serve listed {len(listed)} buckets, not the {len(names)} "
                         f"seeded ones (first: {listed[:3]})")


def check_bare(name: str, response: RawResponse, recorded: RawResponse) -> None:
    mine, theirs = response.comparable(), recorded.comparable()
    if name == "gunicorn":          # (gunicorn frames a body of unknown length its own way)
        mine, theirs = mine[:2] + mine[4:], theirs[:2] + theirs[4:]
    if mine != theirs:
        raise BenchError(f"the bare app's answer under {name} differs from s3service serve's:\n"
                         f"  serve: {recorded.status} {recorded.headers} chunks "
                         f"{[len(c) for c in recorded.chunks]}\n"
                         f"  {name}:  {response.status} {response.headers} chunks "
                         f"{[len(c) for c in response.chunks]}")


def check_s3rver(response: RawResponse, names: list[str]) -> None:
    if response.status != 200:
        raise BenchError(f"s3rver answered {response.status}: {response.body[:500]!r}")
    listed = listed_names(response.body)
    if sorted(listed) != names:       # s3rver lists in directory order
        raise BenchError(f"s3rver listed {len(listed)} buckets, not the {len(names)} "
                         f"seeded ones (first: {sorted(listed)[:3]})")


def bare_options(name: str, settings: ServeSettings, port: int) -> dict[str, Any]:
    """The bare app's server settings: serve's own under granian, stock sync ones under gunicorn."""
    if name == "granian":
        return dict(settings.options, address=HOST, port=port)
    return {"bind": [f"{HOST}:{port}"], "workers": settings.workers, "worker_class": "sync",
            "proc_name": "s3service-bench-bare", "control_socket_disable": True}


def bench_size(n: int, db: str | None, args: argparse.Namespace, settings: ServeSettings,
               script: Path, s3rver: Path, tmp: Path, expires: int) -> SizeResult:
    """Start the four servers for N buckets, check them, load them in turns, stop them."""
    names = bucket_names(n)
    folder = tmp / f"n{n}"
    folder.mkdir()
    db = db or f"sqlite:///{folder}/s3service.db"
    result = SizeResult(n)
    data_dir = folder / "s3rver-data"
    ports = {name: free_port() for name in SERVERS}
    bare_env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    servers = {
        "serve": Server("serve", serve_command(script, db, ports["serve"], args.serve_args),
                        ports["serve"], folder / "serve.log"),
        **{name: Server(name, [sys.executable, str(HERE / "replay_app.py"), name,
                               str(folder / "bare-response.json"),
                               str(folder / f"{name}-options.json")],
                        ports[name], folder / f"{name}.log", env=bare_env) for name in BARE},
        "s3rver": Server("s3rver", [str(s3rver), "-d", str(data_dir), "-a", HOST,
                                    "-p", str(ports["s3rver"]), *args.s3rver_args],
                         ports["s3rver"], folder / "s3rver.log"),
    }
    try:
        log(f"... N={n}: seeding {safe_url(db)}")
        result.seed_seconds = seed(db, names)
        data_dir.mkdir()
        for name in names:
            (data_dir / name).mkdir()
        servers["serve"].start()
        servers["s3rver"].start()
        for name in ("serve", "s3rver"):
            servers[name].wait_listening()

        serve = servers["serve"]
        serve.url = presign(ports["serve"], ACCESS_KEY, SECRET_KEY, expires)
        recorded = fetch_raw(serve.url)
        check_serve(recorded, names)
        check_workers(serve, settings.workers)

        app_headers = [(name, value) for name, value in recorded.headers
                       if name.lower() not in SERVER_HEADERS]
        replay_app.save_response(str(folder / "bare-response.json"),
                                 f"{recorded.status} {recorded.reason}", app_headers,
                                 recorded.chunks)
        for name in BARE:
            (folder / f"{name}-options.json").write_text(
                json.dumps(bare_options(name, settings, ports[name])))
            bare = servers[name]
            bare.start()
            bare.wait_listening()
            bare.url = f"http://{HOST}:{ports[name]}/"
            check_bare(name, fetch_raw(bare.url), recorded)

        other = servers["s3rver"]
        other.url = presign(ports["s3rver"], S3RVER_ACCESS_KEY, S3RVER_SECRET_KEY, expires)
        check_s3rver(fetch_raw(other.url), names)

        if args.warmup > 0:
            for name in SERVERS:
                log(f"... N={n}: warm-up {name}")
                run_wrk(servers[name].url, args.warmup, args.threads_wrk, args.connections)
        result.runs = {name: [] for name in SERVERS}
        for round_index in range(args.rounds):
            # A B C D, then B C D A...: each goes first as often as the others.
            shift = round_index % len(SERVERS)
            for name in SERVERS[shift:] + SERVERS[:shift]:
                log(f"... N={n}: round {round_index + 1}/{args.rounds}: {name}")
                cpu_before = servers[name].cpu_seconds()
                run = run_wrk(servers[name].url, args.seconds, args.threads_wrk,
                              args.connections)
                run.cpu_seconds = servers[name].cpu_seconds() - cpu_before
                servers[name].check_alive()
                result.runs[name].append(run)
    finally:
        for server in servers.values():
            server.stop()
        if args.db:
            try:
                unseed(db)
            except Exception as exc:  # the figures (or the first error) matter more
                log(f"WARNING: could not remove the buckets from {safe_url(db)}: {exc}")
    return result


def check_workers(serve: Server, expected: int, timeout: float = 10.0) -> None:
    """Warn when the running serve does not have the worker processes its settings say."""
    deadline = time.monotonic() + timeout
    count = serve.worker_count()
    while count != expected and count >= 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        count = serve.worker_count()
    if count >= 0 and count != expected:
        log(f"WARNING: s3service serve runs {count} worker process(es), "
            f"its settings say {expected}")


# -- report ----------------------------------------------------------------------------------

@dataclass
class Verdict:
    label: str
    ok: bool


def settings_tag(settings: ServeSettings, db: str | None) -> str:
    """A short reminder of the server settings, for each table."""
    return (f"serve: granian, {settings.workers} worker(s) x {settings.threads} thread(s), "
            f"{store_kind(db)}")


def store_kind(db: str | None) -> str:
    return db.split(":", 1)[0].split("+", 1)[0] if db else "sqlite"


def report_size(result: SizeResult, tag: str, targets: dict) -> list[Verdict]:
    """Print one size's table and every ratio; return its verdicts."""
    rounds = len(result.runs["serve"])
    print(f"\nN={result.n} buckets ({tag}; seeded in {result.seed_seconds:.1f} s)")
    print(f"  medians of {rounds} rounds: requests/s, the rounds' p50 and p99 latency, "
          "server CPU per request")
    print(f"  {'server':<9} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'CPU µs/req':>11} "
          f"{'errors':>7}   req/s per round")
    for name in SERVERS:
        runs = result.runs[name]
        print(f"  {name:<9} {result.median_rps(name):>10.1f} "
              f"{statistics.median(r.p50_ms for r in runs):>9.2f} "
              f"{statistics.median(r.p99_ms for r in runs):>9.2f} "
              f"{statistics.median(r.cpu_us_per_request for r in runs):>11.0f} "
              f"{sum(r.errors for r in runs):>7d}   "
              + " ".join(f"{r.rps:.0f}" for r in runs))
    print("  requests/s ratios (median of the rounds' ratios, and their range):")
    verdicts = []
    for i, name in enumerate(SERVERS):
        for other in SERVERS[i + 1:]:
            ratios = result.ratios(name, other)
            median = statistics.median(ratios)
            line = (f"  {name + '/' + other:<18} {median:7.2f}x  "
                    f"(rounds {min(ratios):.2f}x-{max(ratios):.2f}x)")
            target = targets.get((name, other), {}).get(result.n)
            if target is not None:
                ok = median >= target
                line += f"  target >= {target:.2f}x: {'PASS' if ok else 'FAIL'}"
                verdicts.append(Verdict(f"N={result.n} {name}/{other} {median:.2f}x "
                                        f"(target >= {target:.2f}x)", ok))
            print(line)
    errors = sum(r.errors for r in result.runs["serve"])
    if errors:
        print(f"  serve answered {errors} error(s) under load: FAIL")
        verdicts.append(Verdict(f"N={result.n} serve answered {errors} error(s)", False))
    for name in SERVERS[1:]:
        if sum(r.errors for r in result.runs[name]):
            print(f"  NOTE: {name} answered errors under load: its figures are suspect")
    return verdicts


def print_header(args: argparse.Namespace, db: str | None, settings: ServeSettings,
                 script: Path, s3rver: Path, estimate: float) -> None:
    store = (safe_url(db) if db
             else "sqlite:///<tmp>/n<N>/s3service.db (a fresh SQLite file per size)")
    if args.db == "postgres":
        store += " (a throw-away cluster, tests/helpers/pg.py)"
    serve_extra = shlex.join(args.serve_args)
    s3rver_extra = shlex.join(args.s3rver_args)
    http1 = settings.options.get("http1_settings") or {}
    print(f"server: s3service serve {'with ' + serve_extra if serve_extra else 'as shipped'}: "
          f"granian {tool_version([sys.executable, '-c', 'import granian; print(granian.__version__)'])}"
          f", {settings.options.get('interface')} interface, workers={settings.workers}, "
          f"blocking threads={settings.threads}, http={settings.options.get('http')}, "
          f"header read timeout={http1.get('header_read_timeout')} ms, "
          f"log level={settings.options.get('log_level')}")
    print(f"store: {store}")
    print(f"  command: {script} --db <store> serve --port <P> {serve_extra}".rstrip())
    print(f"  settings {settings.source}")
    print("granian: benchmarks/replay_app.py under granian with serve's settings, sending "
          "serve's recorded answer")
    print(f"gunicorn: the same app under "
          f"{tool_version([sys.executable, '-m', 'gunicorn', '--version'])}, "
          f"{settings.workers} sync worker(s)")
    print(f"s3rver: {tool_version([str(s3rver), '--version'])} on node "
          f"{tool_version(['node', '--version'])}, "
          f"{'with ' + s3rver_extra if s3rver_extra else 'as shipped'} (one process; "
          "SigV4 signatures are not verified by s3rver 3)")
    print(f"load: wrk, {args.threads_wrk} thread(s), {args.connections} connection(s), one "
          f"presigned ListBuckets URL (SigV4); {args.rounds} round(s) of {args.seconds} s per "
          f"server, in turn, after a {args.warmup} s warm-up; 127.0.0.1 only")
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPU(s), load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f}; sizes {', '.join(map(str, args.sizes))}; about "
          f"{estimate / 60:.1f} minutes", flush=True)


def tool_version(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return proc.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


# -- finding things --------------------------------------------------------------------------

def find_script() -> Path:
    """The ``s3service`` console script next to this interpreter (its virtualenv's bin)."""
    script = Path(sys.executable).parent / "s3service"    # not resolved: a venv's python is a link
    if not os.access(script, os.X_OK):
        raise BenchError(f"no s3service command at {script}: install the project in this "
                         "interpreter's virtualenv (pip install -e '.[server,sql]')")
    return script


def find_s3rver(given: str | None) -> Path:
    """``--s3rver``, else setup.sh's install (``$S3RVER_PREFIX``), else ``s3rver`` on PATH."""
    if given:
        candidates = [Path(given)]
    else:
        prefix = Path(os.environ.get(S3RVER_PREFIX_ENV) or DEFAULT_S3RVER_PREFIX)
        candidates = [prefix / "node_modules" / ".bin" / "s3rver"]
        on_path = shutil.which("s3rver")
        if on_path:
            candidates.append(Path(on_path))
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    raise BenchError(f"s3rver not found (looked at {', '.join(map(str, candidates))}): "
                     "run sh benchmarks/setup.sh, or give --s3rver PATH")


# -- main ------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="s3service serve as shipped vs a bare app under granian and gunicorn vs "
                    "s3rver, over HTTP on 127.0.0.1, loaded by wrk.")
    parser.add_argument("--sizes", default="10,1000",
                        help="bucket counts, comma-separated (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default: %(default)s)")
    parser.add_argument("--seconds", type=int, default=3,
                        help="seconds of load per server and round (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="seconds of warm-up per server and size (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=8,
                        help="wrk connections (default: %(default)s)")
    parser.add_argument("--threads", dest="threads_wrk", type=int, default=1,
                        help="wrk threads (default: %(default)s)")
    parser.add_argument("--db", metavar="URL",
                        help="the store of s3service serve, e.g. postgresql+psycopg://user@host/db, "
                             "or 'postgres' for a database on a throw-away cluster (tests/helpers/pg.py; "
                             "needs PostgreSQL's server binaries) (default: a fresh SQLite file "
                             "per size).  The benchmark's account and key are written to it, "
                             "and its buckets are removed when done")
    parser.add_argument("--serve-args", default="", metavar="ARGS",
                        help='extra flags for s3service serve, e.g. --serve-args="--workers 2"')
    parser.add_argument("--s3rver", metavar="PATH", help="the s3rver command "
                        f"(default: ${S3RVER_PREFIX_ENV} or {DEFAULT_S3RVER_PREFIX}, as setup.sh "
                        "installs it, else s3rver on PATH)")
    parser.add_argument("--s3rver-args", default="", metavar="ARGS",
                        help='extra flags for s3rver, e.g. --s3rver-args=--silent')
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when a target is missed")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (stores, logs)")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(size) for size in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes wants numbers, e.g. 10,1000: {args.sizes!r}")
    if any(size < 1 for size in args.sizes) or len(set(args.sizes)) != len(args.sizes):
        parser.error("--sizes wants distinct numbers of at least 1")
    if args.rounds < 1 or args.seconds < 1 or args.warmup < 0:
        parser.error("--rounds and --seconds must be at least 1, --warmup at least 0")
    if args.connections < args.threads_wrk or args.threads_wrk < 1:
        parser.error("wrk wants at least 1 thread and no fewer connections than threads")
    args.serve_args = shlex.split(args.serve_args)
    args.s3rver_args = shlex.split(args.s3rver_args)
    return args


def throwaway_postgres() -> str:
    """A new database on a PostgreSQL cluster of the tests' helper (``tests/helpers/pg.py``: initdb
    into a temporary directory, on 127.0.0.1; stopped and removed at exit)."""
    import importlib.util

    path = HERE.parent / "tests" / "helpers" / "pg.py"
    spec = importlib.util.spec_from_file_location("s3service_tests_pg", path)
    if spec is None or spec.loader is None:
        raise BenchError(f"no PostgreSQL helper at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    log("... starting a throw-away PostgreSQL cluster")
    try:
        return module.PostgresServer.create().create_database()
    except Exception as exc:
        raise BenchError(f"cannot start PostgreSQL ({exc})") from None


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Stop the servers on Ctrl-C, kill and hang-up alike (SIGINT too when the
    # shell started us with it ignored, as it does for background jobs).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    tmp = Path(tempfile.mkdtemp(prefix="s3s-deployed-"))
    try:
        if shutil.which("wrk") is None:
            raise BenchError("wrk is not installed: run sh benchmarks/setup.sh")
        script = find_script()
        s3rver = find_s3rver(args.s3rver)
        per_size = len(SERVERS) * (args.warmup + args.rounds * args.seconds) + 15
        estimate = len(args.sizes) * per_size
        expires = min(MAX_PRESIGN_SECONDS, int(3 * estimate) + 3600)
        db = throwaway_postgres() if args.db == "postgres" else args.db
        settings = read_serve_settings(db or f"sqlite:///{tmp}/settings.db", args.serve_args,
                                       tmp)
        print_header(args, db, settings, script, s3rver, estimate)
        targets = TARGETS_POSTGRES if store_kind(db) == "postgresql" else TARGETS
        verdicts: list[Verdict] = []
        for n in args.sizes:
            result = bench_size(n, db, args, settings, script, s3rver, tmp, expires)
            verdicts += report_size(result, settings_tag(settings, db), targets)
            sys.stdout.flush()
    except KeyboardInterrupt:
        log("interrupted: every server started was stopped")
        return 130
    except BenchError as exc:
        log(f"deployed.py: error: {exc}")
        return 2
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    failed = [v for v in verdicts if not v.ok]
    print()
    if failed:
        print(f"RESULT: FAIL ({len(failed)} of {len(verdicts)} targets missed): "
              + "; ".join(v.label for v in failed))
    else:
        print(f"RESULT: PASS (all {len(verdicts)} targets met)")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
