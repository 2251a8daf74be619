"""How much memory a large signed upload costs the server: RSS growth of a granian worker.

    python benchmarks/upload_rss.py [--mib 1024] [--chunk-kib 64]

Serves ``examples/objectgateway.py`` (behind the middleware, on a memory
store; objects in a temporary directory) under granian with the settings
``s3service serve`` runs with (``s3service.gateway.server.granian_options``,
one worker), then PUTs one ``--mib`` MiB object as a client streaming an
``aws-chunked`` body with signed chunks (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``)
would: made as it is sent, never held whole.  The object is read back by
size and its first bytes checked.  Printed: the worker's resident memory
before and after, and its peak (``VmHWM``, reset just before the upload where
the kernel allows); the target is a growth under 64 MB.  Exit status 1 when
the target is missed, 2 when the run fails.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "helpers"), str(ROOT / "examples"), str(ROOT / "benchmarks"),
                 str(ROOT)]
sys.dont_write_bytecode = True  # keep __pycache__ out of benchmarks/

from serving import free_port, wait_listening  # noqa: E402

ACCOUNT = "b" * 64
KEY, SECRET = "AKIDUPLOADRSS0000001", "upload-rss-secret-0000000000000000000001"
REGION = "us-east-1"
TARGET_MB = 64
SERVE_FLAG = "--_serve"


def serve(objects: str, port: int) -> None:
    """(In the server process.)  The object gateway under granian with serve's settings."""
    from objectgateway import make_app

    from s3service.backends.memory import MemoryBackend
    from s3service.gateway.server import granian_options, run_granian

    store = MemoryBackend()
    store.add_account(ACCOUNT, display_name="upload")
    store.add_key(ACCOUNT, KEY, SECRET)
    store.add_bucket(ACCOUNT, "big")
    run_granian(lambda: make_app(objects, store, region=REGION),
                granian_options(port=port, workers=1, log_level="warning"))


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def upload(port: int, mib: int, chunk: int) -> None:
    from awschunked import encoded_length, sign_streaming

    size = mib << 20
    data = hashlib.sha256(b"upload").digest() * (chunk // 32)
    host = f"127.0.0.1:{port}"
    headers, signer = sign_streaming(
        "PUT", f"http://{host}/big/object", KEY, SECRET, REGION,
        {"Host": host, "Content-Encoding": "aws-chunked",
         "Content-Length": str(encoded_length(size, chunk, True)),
         "x-amz-decoded-content-length": str(size)},
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    digest = hashlib.sha256(data).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        conn.putrequest("PUT", "/big/object", skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        for _ in range(size // chunk):
            conn.send(f"{chunk:x};chunk-signature={signer.chunk(data, digest)}\r\n".encode()
                      + data + b"\r\n")
        conn.send(f"0;chunk-signature={signer.chunk(b'')}\r\n\r\n".encode())
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"PUT answered {response.status}: {body[:300]!r}")
    finally:
        conn.close()


def worker_of(proc: subprocess.Popen) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("granian started no worker")


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == SERVE_FLAG:
        serve(sys.argv[2], int(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="object size (default: %(default)s)")
    parser.add_argument("--chunk-kib", type=int, default=64,
                        help="aws-chunked chunk size (default: %(default)s)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="s3s-upload-rss-"))
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, SERVE_FLAG, str(tmp / "objects"),
                             str(port)], stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        (tmp / "objects").mkdir()
        wait_listening(proc, port)
        worker = worker_of(proc)
        upload(port, 1, args.chunk_kib << 10)             # warm up (imports, first buffers)
        before = status_kb(worker, "VmRSS")
        peak_reset = reset_peak(worker)
        started = time.monotonic()
        upload(port, args.mib, args.chunk_kib << 10)
        seconds = time.monotonic() - started
        after, peak = status_kb(worker, "VmRSS"), status_kb(worker, "VmHWM")
        stored = sum(p.stat().st_size for p in (tmp / "objects").rglob("*") if p.is_file())
        if stored < args.mib << 20:
            raise RuntimeError(f"only {stored} bytes stored")
    except (RuntimeError, OSError) as exc:
        print(f"upload_rss.py: error: {exc}", file=sys.stderr)
        return 2
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        shutil.rmtree(tmp, ignore_errors=True)
    growth = (max(after, peak) - before) / 1024 if peak_reset else (after - before) / 1024
    print("server: granian with serve's settings, 1 worker; app: examples/objectgateway.py "
          "behind the middleware, memory store")
    print(f"upload: {args.mib} MiB aws-chunked, signed {args.chunk_kib} KiB chunks, "
          f"in {seconds:.1f} s ({args.mib / seconds:.0f} MiB/s)")
    print(f"worker RSS: before {before / 1024:.1f} MB, after {after / 1024:.1f} MB, peak "
          f"{peak / 1024:.1f} MB{'' if peak_reset else ' (peak not reset: since start)'}")
    ok = growth < TARGET_MB
    print(f"RSS growth {growth:.1f} MB, target < {TARGET_MB} MB: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
