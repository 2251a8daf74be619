"""A throw-away PgBouncer in transaction pooling mode, in front of a test PostgreSQL server.

``PgBouncer.start(server)`` writes a configuration into a temporary
directory and runs Debian's ``pgbouncer`` on 127.0.0.1 (a free port) in the
foreground, as the ``postgres`` system user when run as root (PgBouncer
refuses root); ``url(database_url)`` is that database's URL through it, and
``stop()`` ends it.  Every database of the server is reachable (``* =``),
trust authentication, the settings a fleet runs it with (docs/scaling.rst):
``pool_mode = transaction``, ``server_login_retry = 1`` (back within a second
of the database), a bounded ``query_wait_timeout``.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

POOL_SIZE = 20         # server connections per database and user
START_TIMEOUT = 10.0


class PgBouncerUnavailable(RuntimeError):
    """No pgbouncer binary, or it would not start."""


def find_binary() -> str | None:
    for candidate in (shutil.which("pgbouncer"), "/usr/sbin/pgbouncer"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgBouncer:
    """A running PgBouncer; :meth:`url` routes a database URL through it."""

    def __init__(self, proc: subprocess.Popen, port: int, tmpdir: Path) -> None:
        self.proc, self.port, self.tmpdir = proc, port, tmpdir

    @classmethod
    def start(cls, server_host: str, server_port: int) -> PgBouncer:
        binary = find_binary()
        if binary is None:
            raise PgBouncerUnavailable("no pgbouncer binary (apt-get install pgbouncer)")
        tmpdir = Path(tempfile.mkdtemp(prefix="s3s-pgbouncer-"))
        port = _free_port()
        (tmpdir / "userlist.txt").write_text('"postgres" ""\n')
        (tmpdir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={server_host} port={server_port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {tmpdir / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {POOL_SIZE}\nmax_client_conn = 1000\n"
            "server_login_retry = 1\nquery_wait_timeout = 10\n"
            f"logfile = {tmpdir / 'pgbouncer.log'}\n")
        argv = [binary, str(tmpdir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for path in (tmpdir, *tmpdir.iterdir()):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            argv = ["runuser", "-u", "postgres", "--", *argv]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.STDOUT)
        bouncer = cls(proc, port, tmpdir)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return bouncer
            except OSError:
                time.sleep(0.05)
        log = bouncer.log()
        bouncer.stop()
        raise PgBouncerUnavailable(f"pgbouncer did not start:\n{log[-2000:]}")

    def url(self, database_url: str) -> str:
        """``database_url`` (a database of the server behind) through this PgBouncer."""
        return (make_url(database_url).set(host="127.0.0.1", port=self.port)
                .render_as_string(hide_password=False))

    def log(self) -> str:
        try:
            return (self.tmpdir / "pgbouncer.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()       # (runuser passes it on)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


class Behind:
    """A test PostgreSQL server as clients see it through a :class:`PgBouncer`.

    ``url`` goes through the PgBouncer; everything else (``stop``, ``start``,
    ``pause``, ``resume``...) is the server's own, so a test can fail the
    database behind the pooler.
    """

    def __init__(self, server, bouncer: PgBouncer) -> None:
        self.server, self.bouncer = server, bouncer

    @property
    def url(self) -> str:
        return self.bouncer.url(self.server.url)

    def __getattr__(self, name: str):
        return getattr(self.server, name)


@contextmanager
def in_front_of(server) -> Iterator[Behind]:
    """A PgBouncer in front of ``server`` (a tests/helpers/pg.py server) for one test or module.

    The server's database gets the statement_timeout a fleet sets for it (30 s),
    since PgBouncer cannot pass on the one the store asks for.  Skips the test
    when there is no pgbouncer (fails instead when CI=true).
    """
    import pytest

    if find_binary() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("pgbouncer is required in CI")
        pytest.skip("no pgbouncer binary")
    server.set_for_database(server.url, "statement_timeout", "30s")
    bouncer = PgBouncer.start("127.0.0.1", server.port)
    try:
        yield Behind(server, bouncer)
    finally:
        bouncer.stop()
