"""The reStructuredText files outside the Sphinx doc set render without a warning.

(The doc set itself is built with ``sphinx-build -W`` by ``.ci/run``, in a venv
with the ``docs`` extra.)
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest

docutils_core = pytest.importorskip("docutils.core")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["README.rst", "CHANGES.rst", "benchmarks/README.rst",
                                  "benchmarks/RESULTS.rst"])
def test_renders_without_warnings(name):
    warnings = io.StringIO()
    docutils_core.publish_doctree(
        (ROOT / name).read_text(encoding="utf-8"), source_path=name,
        settings_overrides={"report_level": 2, "halt_level": 5, "warning_stream": warnings})
    assert warnings.getvalue() == ""
