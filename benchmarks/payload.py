"""What checking a body costs: verified uploads' MB/s next to an unverified read of the same size.

    python benchmarks/payload.py [--mib 64] [--rounds 5]

Over HTTP: one gunicorn (1 sync worker, on 127.0.0.1) serves
``payload_app.py``; a client on the same machine PUTs ``--mib`` MiB bodies,
in turn (A B C..., B C A..., rounds), as

* ``unverified``: the plain body to ``/raw/``, read by the gateway with no
  middleware at all (the baseline, measured in the same run);
* ``sha256``: the plain body, SigV4 with its hex ``x-amz-content-sha256``;
* ``chunks-1MiB`` / ``chunks-64KiB``:
  ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``, aws-chunked with signed chunks of
  that size;
* ``trailer-crc32`` / ``trailer-crc32c``: ``STREAMING-UNSIGNED-PAYLOAD-TRAILER``
  with that checksum (CRC32C needs the ``checksums`` extra).

Each answer is checked (200, the decoded length read).  Printed: the median
MB/s of each and the median over rounds of its ratio to that round's
``unverified`` (the issue's target: signed chunks at >= 0.70).  Then the
same reads in process, no HTTP, which show the checks' own cost (a memory
read is far faster than a socket).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "helpers"), str(ROOT / "benchmarks"), str(ROOT)]

from awschunked import ChunkSigner, encode, sign_streaming  # noqa: E402
from loadtest import _listening_port, stop_server, worker_pids  # noqa: E402
from payload_app import BENCH_ACCESS_KEY, BENCH_SECRET  # noqa: E402
from signing import signed_headers  # noqa: E402

REGION = "us-east-1"


def start_server(tmp: Path) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT)]),
               PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1",
           "--worker-class", "sync", "--timeout", "120", "--no-control-socket",
           "--log-level", "warning", "payload_app:app"]
    log = open(tmp / "gunicorn.log", "wb")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            env=env, cwd=str(tmp))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        port = _listening_port(proc.pid)
        if port and len(worker_pids(proc.pid)) == 1:
            return proc, port
        time.sleep(0.1)
    stop_server(proc)
    raise SystemExit("gunicorn did not start:\n" + (tmp / "gunicorn.log").read_text())


def _crc_b64(name: str, data: bytes) -> str:
    if name == "crc32":
        return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    from awscrt import checksums
    return base64.b64encode(checksums.crc32c(data).to_bytes(4, "big")).decode()


def requests(host: str, data: bytes) -> dict[str, tuple[str, list[tuple[str, str]], bytes]]:
    """Each case: (path, headers, body), signed once (re-sent within the clock skew)."""
    cases = {"unverified": ("/raw/object", [("Host", host),
                                            ("Content-Length", str(len(data)))], data)}
    path = "/bucket/object"
    headers = signed_headers("PUT", f"http://{host}{path}", BENCH_ACCESS_KEY, BENCH_SECRET,
                             body=data, headers={"Host": host})
    cases["sha256"] = (path, headers + [("Content-Length", str(len(data)))], data)
    for name, chunk in (("chunks-1MiB", 1 << 20), ("chunks-64KiB", 1 << 16)):
        length = len(encode(data, chunk, ChunkSigner(b"k", "d", "s", "0" * 64)))
        signed, signer = sign_streaming(
            "PUT", f"http://{host}{path}", BENCH_ACCESS_KEY, BENCH_SECRET, REGION,
            {"Host": host, "Content-Encoding": "aws-chunked", "Content-Length": str(length),
             "x-amz-decoded-content-length": str(len(data))},
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        cases[name] = (path, list(signed.items()), encode(data, chunk, signer))
    for algorithm in ("crc32", "crc32c"):
        trailer = (f"x-amz-checksum-{algorithm}", _crc_b64(algorithm, data))
        body = encode(data, 1 << 20, None, trailer)
        signed, _ = sign_streaming(
            "PUT", f"http://{host}{path}", BENCH_ACCESS_KEY, BENCH_SECRET, REGION,
            {"Host": host, "Content-Encoding": "aws-chunked", "Content-Length": str(len(body)),
             "x-amz-decoded-content-length": str(len(data)),
             "x-amz-trailer": f"x-amz-checksum-{algorithm}"},
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        cases[f"trailer-{algorithm}"] = (path, list(signed.items()), body)
    return cases


def put(port: int, path: str, headers, body: bytes, expected: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        start = time.perf_counter()
        conn.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        conn.sock.sendall(memoryview(body))
        resp = conn.getresponse()
        answer = resp.read()
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    if resp.status != 200 or answer != str(expected).encode():
        raise SystemExit(f"{path}: {resp.status} {answer[:300]!r}")
    return elapsed


def in_process(data: bytes, cases) -> dict[str, float]:
    """MB/s of the same reads without HTTP: the middleware's checks against a BytesIO."""
    from payload_app import app

    out = {}
    for name, (path, headers, body) in cases.items():
        from signing import environ_from_request
        environ = environ_from_request("PUT", "http://127.0.0.1" + path, dict(headers))
        environ["wsgi.input"] = io.BytesIO(body)
        start = time.perf_counter()
        answer = b"".join(app(environ, lambda *a: None))
        elapsed = time.perf_counter() - start
        assert answer == str(len(data)).encode(), (name, answer[:200])
        out[name] = len(data) / elapsed / 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=64, help="body size in MiB")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    data = hashlib.sha256(b"payload").digest() * (args.mib * 32768)
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_server(Path(tmp))
        try:
            cases = requests(f"127.0.0.1:{port}", data)
            names = list(cases)
            for name in names:  # check every answer, and warm up
                put(port, *cases[name], len(data))
            times: dict[str, list[float]] = {name: [] for name in names}
            for r in range(args.rounds):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    times[name].append(put(port, *cases[name], len(data)))
        finally:
            stop_server(proc)
    print(f"payload verification, {args.mib} MiB bodies, {args.rounds} rounds, median; "
          "store: MemoryBackend (one key); server: gunicorn 1 sync worker on 127.0.0.1, "
          "client on the same host")
    # The machine's load moves from one second to the next: each round's ratio
    # is taken against the unverified upload of that same round.
    print(f"{'case':<18}{'MB/s':>10}{'vs unverified':>16}")
    for name in names:
        rate = len(data) / statistics.median(times[name]) / 1e6
        ratio = statistics.median(base / t for base, t in zip(times["unverified"], times[name]))
        print(f"{name:<18}{rate:>10.1f}{ratio:>16.2f}")
    rates = in_process(data, cases)
    print("\nin process (no HTTP, BytesIO input), MB/s and ratio to the unverified read:")
    for name, rate in rates.items():
        print(f"{name:<18}{rate:>10.1f}{rate / rates['unverified']:>16.2f}")


if __name__ == "__main__":
    main()
