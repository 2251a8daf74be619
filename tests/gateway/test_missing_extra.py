"""A missing extra names the ``pip install`` that fixes it, with exit status 2 (usage)."""
from __future__ import annotations

import subprocess
import sys

import pytest

# The command line, run with one module made unimportable, as when its extra is not installed.
RUN = ("import sys; sys.modules[{module!r}] = None; "
       "from s3service.gateway.cli import main; sys.exit(main({argv!r}))")


@pytest.mark.parametrize("module, argv, extra", [
    ("sqlalchemy", ["--db", "sqlite:///{tmp}/s.db", "account", "list"], "sql"),
    ("psycopg", ["--db", "postgresql+psycopg://u@127.0.0.1:1/d", "account", "list"], "postgres"),
    ("granian", ["--db", "memory", "serve"], "server"),
])
def test_a_missing_extra_says_what_to_install(tmp_path, module, argv, extra):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    done = subprocess.run([sys.executable, "-c", RUN.format(module=module, argv=argv)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"pip install 's3service[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr
