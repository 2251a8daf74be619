"""The ``s3service`` command for tests: run in this process; ``s3service serve`` as a subprocess.

Admin commands, ``--json`` output, exit statuses and error lines are checked
in-process (:func:`run_cli`); a server clients talk to over HTTP is a real
``s3service serve`` (:class:`Server`, the ``start_server`` fixture).
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / "tests" / "apps"


def command_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3SERVICE_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_cli(*argv: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``s3service argv`` in this process, as the console script runs it.

    What a subprocess run would give: the exit status (what ``main()`` returns,
    or the ``SystemExit`` argparse raises), stdout and stderr as text.  The
    environment is :func:`command_env` (``env`` added) and the working directory
    ``cwd``, both restored afterwards.  As in a fresh process, log records of
    WARNING and above and the Python warnings a plain interpreter shows go to
    stderr, where a check for a one-line error sees them.  ``serve`` must fail
    before it starts its server: getting that far fails the test.
    """
    from s3service.gateway import cli, server

    def no_serving(*args: object, **kwargs: object) -> None:
        pytest.fail(f"s3service {' '.join(argv)} would serve in the test process", pytrace=False)

    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    with mock.patch.dict(os.environ, command_env(**(env or {})), clear=True), \
            mock.patch.object(server, "serve", no_serving), _cwd(cwd), \
            warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        _plain_interpreter_warning_filters()
        root.addHandler(logging.lastResort)          # writes to the sys.stderr of the moment
        try:
            try:
                status = cli.main(list(argv))
            except SystemExit as exc:
                status = _exit_status(exc.code)
        finally:
            root.removeHandler(logging.lastResort)
        for w in caught:
            err.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))
    return subprocess.CompletedProcess(["s3service", *argv], status, out.getvalue(),
                                       err.getvalue())


def _exit_status(code: object) -> int:
    """The exit status of a process ending with ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _plain_interpreter_warning_filters() -> None:
    """The warning filters of ``python`` without -W or PYTHONWARNINGS (not pytest's)."""
    warnings.resetwarnings()
    warnings.simplefilter("default")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                     ResourceWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")


@contextlib.contextmanager
def _cwd(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``s3service serve`` as a subprocess; always stopped by ``stop()``.

    ``module`` runs ``python -m module`` instead of ``python -m s3service``
    (one of ``tests/apps``, e.g. ``cli_credential_cache``), with ``env`` added
    to its environment.
    """

    def __init__(self, tmp_path: Path, db: str, *args: str, module: str = "s3service",
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.out = tmp_path / f"serve-{self.port}.out"
        self.err = tmp_path / f"serve-{self.port}.err"
        environ = command_env(**(env or {}))
        if module != "s3service":
            environ["PYTHONPATH"] = os.pathsep.join([str(APPS), environ["PYTHONPATH"]])
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, "--db", db, "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), *args],
                stdout=out, stderr=err, cwd=tmp_path, env=environ, start_new_session=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode}: {self.err.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self.out.read_text()
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"server did not start: {self.err.read_text()}")

    def stop(self) -> None:
        stop_process(self.proc, group=True)  # its own session: only its workers


@pytest.fixture
def start_server(tmp_path):
    servers: list[Server] = []

    def start(db: str, *args: str, **options) -> Server:
        server = Server(tmp_path, db, *args, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def aws_command() -> str:
    beside = Path(sys.executable).with_name("aws")
    found = str(beside) if beside.exists() else shutil.which("aws")
    if found is None:
        pytest.skip("the AWS CLI (aws) is not installed")
    return found


def stop_process(proc: subprocess.Popen, timeout: float = 15, *, group: bool = False) -> None:
    """SIGTERM (a graceful stop), then SIGKILL -- of its process group and its children when
    ``group`` (serve's workers each lead a process group of their own) -- if need be."""
    if proc.poll() is not None:
        return
    children = _children(proc.pid) if group else []
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait(timeout=timeout)
    for child, cmdline in children:      # (a worker its server could not stop)
        try:
            if Path(f"/proc/{child}/cmdline").read_bytes() == cmdline:   # (still that one)
                os.kill(child, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def _children(pid: int) -> list[tuple[int, bytes]]:
    """``pid``'s children, each with its command line (Linux; none found elsewhere)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    found = []
    for task in tasks:
        try:
            for child in (task / "children").read_text().split():
                found.append((int(child), Path(f"/proc/{child}/cmdline").read_bytes()))
        except OSError:
            pass
    return found
