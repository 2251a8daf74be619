"""``s3service serve --metrics`` on PostgreSQL: a flood during an outage keeps memory bounded.

While the database is down nothing the meter counts can be written, so it
holds it for the next flush; a flood of anonymous requests to distinct made-up
names used to add one held counter per name (+199 MB per process for 300,000).
The processes' resident memory is measured before and after a flood.
"""
from __future__ import annotations

import http.client
import threading
from pathlib import Path

import pytest

from tests.helpers.cliserver import start_server  # noqa: F401 (a fixture)
from tests.integration.test_serve_metrics import cli_json

pg = pytest.importorskip("tests.helpers.pg")

FLOOD = 40_000
THREADS = 4


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and every descendant (Linux)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return total


def flood(endpoint: str, start: int, count: int, prefix: str, status: int,
          failures: list[str]) -> None:
    host, port = endpoint.rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        for i in range(start, start + count):
            conn.request("GET", f"/{prefix}{i:07d}/key")
            response = conn.getresponse()
            response.read()
            if response.status != status:
                failures.append(f"{response.status}, not {status}")
                return
    finally:
        conn.close()


def run_flood(endpoint: str, total: int, prefix: str, status: int) -> None:
    """``total`` anonymous GETs of objects in buckets nobody has, each answered ``status``
    (404 NoSuchBucket; 503 while the database, which says so, is away)."""
    share = total // THREADS
    failures: list[str] = []
    threads = [threading.Thread(target=flood,
                                args=(endpoint, n * share, share, prefix, status, failures))
               for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_flood_during_a_database_outage_keeps_memory_bounded(tmp_path, start_server):
    with pg.private_server() as database:
        if not database.can_restart:
            pytest.skip("this PostgreSQL cannot be stopped by the test")
        db = database.url
        tenant = cli_json(db, "account", "create", "--name", "tenant")["account_id"]
        cli_json(db, "key", "create", tenant)
        server = start_server(db, "--workers", "1", "--metrics")
        server.wait_ready()
        # warm up (threads, connections, caches), then take the database away
        run_flood(server.endpoint, 2000, "w" * 200, 404)
        database.stop()
        try:
            run_flood(server.endpoint, 2000, "v" * 200, 503)
            before = tree_rss(server.proc.pid)
            run_flood(server.endpoint, FLOOD, "x" * 230, 503)
            grown = tree_rss(server.proc.pid) - before
        finally:
            database.start()
        # One held counter per name was ~600 bytes: 40,000 names, ~24 MB.
        assert grown < 8 * 1024 * 1024, f"grew by {grown / 2**20:.1f} MB"
        assert server.proc.poll() is None
