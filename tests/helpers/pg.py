"""Throw-away PostgreSQL clusters for the tests.

``PostgresServer.create()`` runs ``initdb`` into a temporary directory and
starts ``postgres`` on 127.0.0.1 (a free port; its unix socket in the same
directory; trust authentication).  It can be stopped and started again (the
fault tests do that) and removed with ``cleanup()``.

If ``S3SERVICE_TEST_PG_URL`` is set (``postgresql+psycopg://user@host:port/db``),
that server is used instead; it cannot be stopped or started, so tests that
need to do that skip.  Its user needs the CREATEDB privilege.

As root, ``initdb`` and ``postgres`` are run as the ``postgres`` system user.
"""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV_URL = "S3SERVICE_TEST_PG_URL"
DATABASE = "s3service_test"


def find_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    candidates: list[str] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(os.environ["PG_BINDIR"])
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
            candidates.append(out)
        except (OSError, subprocess.SubprocessError):
            pass

    def version(path: str) -> tuple[int, ...]:
        parts = Path(path).parent.name.split(".")
        return tuple(int(p) for p in parts if p.isdigit())

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    candidates += [os.path.dirname(p) for p in filter(None, [shutil.which("initdb")])]
    for cand in candidates:
        path = Path(cand)
        if all((path / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return path
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries (or the cluster would not start)."""


class PostgresServer:
    """A PostgreSQL server for tests; ``.url`` points at its database ``s3service_test``."""

    def __init__(self, url: str, *, bindir: Path | None = None, tmpdir: Path | None = None,
                 port: int | None = None) -> None:
        self.url = url
        self.bindir = bindir
        self.tmpdir = tmpdir
        self.port = port
        self.running = tmpdir is not None
        # Where CREATE/DROP DATABASE run: "postgres" on our own cluster,
        # the given database on an external server.
        self.admin_database: str | None = "postgres" if tmpdir is not None else None

    @property
    def can_restart(self) -> bool:
        """False for an external server (S3SERVICE_TEST_PG_URL)."""
        return self.tmpdir is not None

    # -- construction ---------------------------------------------------------

    @classmethod
    def from_env(cls) -> PostgresServer | None:
        url = os.environ.get(ENV_URL)
        return cls(url) if url else None

    @classmethod
    def create(cls) -> PostgresServer:
        """initdb + start a new cluster, with database ``s3service_test``."""
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable("no PostgreSQL binaries (initdb, pg_ctl, postgres) found")
        tmpdir = Path(tempfile.mkdtemp(prefix="s3s-pg-"))
        server = cls("", bindir=bindir, tmpdir=tmpdir, port=_free_port())
        server.running = False
        server.admin_database = "postgres"
        try:
            server._initdb()
            server.start()
            server.url = f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/{DATABASE}"
            server._admin(f'CREATE DATABASE "{DATABASE}"')
        except BaseException:
            server.cleanup()
            raise
        atexit.register(server.cleanup)      # in case the test session dies early
        return server

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _run(self, argv: list[str], timeout: float = 60) -> None:
        proc = subprocess.run(self._as_owner(argv), capture_output=True, text=True, timeout=timeout,
                              cwd=self.tmpdir)
        if proc.returncode != 0:
            log = ""
            logfile = self.tmpdir / "postgres.log"
            if logfile.exists():
                log = logfile.read_text(errors="replace")[-2000:]
            raise PostgresUnavailable(f"{' '.join(argv[:2])} failed ({proc.returncode}):\n"
                                      f"{proc.stdout}{proc.stderr}{log}")

    def _initdb(self) -> None:
        assert self.tmpdir is not None and self.bindir is not None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.tmpdir, pw.pw_uid, pw.pw_gid)
        data = self.tmpdir / "data"
        base = [str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                "-E", "UTF8", "--no-sync"]
        # A linguistic default collation (ICU en-US), when available, lets the
        # tests notice a column missing COLLATE "C".
        try:
            self._run(base + ["--locale=C.UTF-8", "--locale-provider=icu", "--icu-locale=en-US"])
        except PostgresUnavailable:
            shutil.rmtree(data, ignore_errors=True)
            self._run(base)
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# s3service tests\n"
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.tmpdir}'\n"
                "fsync = off\nfull_page_writes = off\n"
                "max_connections = 200\n"
            )

    # -- control --------------------------------------------------------------

    def _pg_ctl(self, *args: str) -> None:
        assert self.tmpdir is not None and self.bindir is not None
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.tmpdir / "data"),
                   "-l", str(self.tmpdir / "postgres.log"), *args])

    def start(self) -> None:
        if not self.can_restart:
            raise RuntimeError("cannot start an external PostgreSQL server")
        self._pg_ctl("-w", "-t", "60", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: smart, fast or immediate)."""
        if not self.can_restart:
            raise RuntimeError("cannot stop an external PostgreSQL server")
        self._pg_ctl("-w", "-t", "60", "-m", mode, "stop")
        self.running = False

    def processes(self) -> list[int]:
        """The server's process ids: the postmaster, then its children."""
        master = int((self.tmpdir / "data" / "postmaster.pid").read_text().split()[0])
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rpartition(")")[2].split()[1]) == master:
                    children.append(int(entry.name))
        return [master, *children]

    def pause(self) -> None:
        """SIGSTOP every server process: connections stay open, nothing answers."""
        for pid in self.processes():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.processes():
            os.kill(pid, signal.SIGCONT)

    def cleanup(self) -> None:
        if self.tmpdir is None:
            return
        if self.running:
            try:
                self.resume()           # (a test may have left it stopped)
            except OSError:
                pass
            try:
                self.stop("immediate")
            except (PostgresUnavailable, subprocess.SubprocessError):
                pass
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None

    # -- databases ------------------------------------------------------------

    def _admin(self, sql: str) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.url)
        with psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                             dbname=self.admin_database or url.database, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        from sqlalchemy.engine import make_url

        name = f"t_{uuid.uuid4().hex}"
        self._admin(f'CREATE DATABASE "{name}"')
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def set_for_database(self, url: str, setting: str, value: str) -> None:
        """``ALTER DATABASE ... SET setting = 'value'``: what every new session of it starts with."""
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        self._admin(f'ALTER DATABASE "{name}" SET {setting} = \'{value}\'')

    def drop_database(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def private_server() -> Iterator[PostgresServer]:
    """A new cluster for one test or module, removed afterwards; skips the test if none starts."""
    import pytest

    if find_bindir() is None:
        pytest.skip("no PostgreSQL binaries")
    try:
        server = PostgresServer.create()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL would not start: {exc}")
    try:
        yield server
    finally:
        server.cleanup()
