"""``s3service serve`` and the ``s3service`` command as subprocesses, for tests."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def command_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3SERVICE_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``s3service serve`` as a subprocess; always stopped by ``stop()``."""

    def __init__(self, tmp_path: Path, db: str, *args: str) -> None:
        self.port = free_port()
        self.out = tmp_path / f"serve-{self.port}.out"
        self.err = tmp_path / f"serve-{self.port}.err"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "s3service", "--db", db, "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), *args],
                stdout=out, stderr=err, cwd=tmp_path, env=command_env(), start_new_session=True)

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

    def start(db: str, *args: str) -> Server:
        server = Server(tmp_path, db, *args)
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
    """SIGTERM (a graceful stop), then SIGKILL -- of its process group when ``group`` -- if need be."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait(timeout=timeout)
