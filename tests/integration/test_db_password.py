"""The database URL's password given with ``--db`` does not stay in ``ps``.

``/proc/PID/cmdline`` is world-readable, and the database holds every
tenant's secret keys.  A real ``serve`` on PostgreSQL with two granian workers
is started with the password on its command line; the command lines of the
main process and of each worker, as ``ps`` reads them, must not hold it.
(``--db-file`` and ``$S3SERVICE_DB``, which never show it: tests/gateway/test_dbfile.py.)
"""
from __future__ import annotations

import http.client
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.helpers.cliserver import run_cli, start_server  # noqa: F401 (a fixture)

PASSWORD = "Zq8-not-in-ps-7Hd"


def _with_password(url: str) -> str:
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found


def test_serve_hides_the_password_given_with_db(make_sql_url, start_server):
    url = _with_password(make_sql_url("postgresql"))    # (the test cluster trusts loopback)
    assert PASSWORD in url
    server = start_server(url, "--workers", "2")
    server.wait_ready()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/")                       # a worker answers, on that database
    assert connection.getresponse().status == 403
    connection.close()

    workers = _descendants(server.proc.pid)
    assert len(workers) >= 2
    for pid in (server.proc.pid, *workers):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        assert b"serve" in cmdline, cmdline
        assert PASSWORD.encode() not in cmdline, (pid, cmdline)
    main = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes()
    assert b"://postgres:***@" in main or b":***@" in main, main
