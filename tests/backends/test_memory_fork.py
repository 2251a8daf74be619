"""A MemoryBackend shared by several processes is refused (serve) or warned about (a fork)."""
from __future__ import annotations

import os
import warnings

import pytest

from s3service.backends.memory import CopiedStoreWarning, MemoryBackend


def warnings_in_forked_child() -> list[str]:
    """The warnings a forked child sees at fork (sent back through a pipe)."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pid = os.fork()
        if pid == 0:                                       # the child
            try:
                os.write(write_end, "\n".join(f"{w.category.__name__}: {w.message}"
                                              for w in caught).encode())
            finally:
                os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        seen = pipe.read().decode()
    os.waitpid(pid, 0)
    return [line for line in seen.splitlines() if line]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_store_holding_data_warns_in_the_forked_child():
    store = MemoryBackend()
    store.add_account("a" * 64, display_name="a")
    store.add_key("a" * 64, "AKIDROOT", "secret")
    [seen, *_] = warnings_in_forked_child()
    assert seen.startswith(f"{CopiedStoreWarning.__name__}: a MemoryBackend holding accounts")
    assert "run one worker, or use SQLBackend" in seen
    del store


def test_serve_refuses_several_workers_on_a_memory_store(capsys):
    pytest.importorskip("granian")
    from s3service.gateway.cli import main

    assert main(["--db", "memory", "serve", "--workers", "2"]) == 2
    error = capsys.readouterr().err
    assert "an in-memory store needs --workers 1" in error
    assert "each worker would have its own" in error
