"""Sphinx configuration: ``sphinx-build -W -b html docs docs/_build/html``
(``pip install -e '.[docs,testing,sql]'``)."""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

import s3service  # noqa: E402

project = "s3service"
author = "The s3service authors"
copyright = "the s3service authors; Apache License 2.0"
release = version = s3service.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.viewcode", "s3docs"]
exclude_patterns = ["_build"]
root_doc = "index"
html_theme = "alabaster"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Optional parts whose libraries a docs build need not have.
autodoc_mock_imports = ["granian", "psycopg", "awscrt", "paste", "gunicorn"]
# What the library's docstrings name but the reference does not document.
suppress_warnings = ["ref.python"]
