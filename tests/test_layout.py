"""The package layout is the architecture: the library never imports the product built on it."""
from __future__ import annotations

import ast
from pathlib import Path

import s3service

PACKAGE = Path(s3service.__file__).parent
PRODUCT = ("s3service.gateway",)
ENTRY_POINT = PACKAGE / "__main__.py"   # ``python -m s3service`` runs the product's command


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The modules ``path`` imports, relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def library_modules() -> list[Path]:
    return [path for path in PACKAGE.rglob("*.py")
            if path != ENTRY_POINT and not module_name(path).startswith(PRODUCT)]


def test_the_library_never_imports_the_product():
    offenders = {module_name(path): sorted(i for i in imports(path) if i.startswith(PRODUCT))
                 for path in library_modules()}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_stores_do_not_import_the_metrics_package():
    # The metering and the API use the stores (and the metrics store protocol,
    # which lives with the other protocols); the other way round would be a cycle.
    for path in (PACKAGE / "backends").rglob("*.py"):
        assert not {i for i in imports(path) if i.startswith("s3service.metrics")}, path


REQUEST_PATH = ("s3service.middleware", "s3service.layers", "s3service.auth", "s3service.metrics",
                "s3service.timeouts", "s3service.envelope", "s3service.payload")


def test_the_stores_know_nothing_of_the_request_path():
    # The layers use the stores through backends.protocols, never the other way round.
    for path in (PACKAGE / "backends").rglob("*.py"):
        assert not {i for i in imports(path)
                    if any(i == m or i.startswith(m + ".") for m in REQUEST_PATH)}, path


def test_each_layer_stands_alone():
    # The middleware composes the layers; no layer reaches into another or into it.
    for path in (PACKAGE / "layers").glob("*.py"):
        others = {f"s3service.layers.{p.stem}" for p in (PACKAGE / "layers").glob("*.py")
                  if p.stem not in (path.stem, "apperrors", "__init__")}
        found = imports(path)
        assert "s3service.middleware" not in found and not found & others, path


def test_the_checks_see_imports():
    gateway_app = imports(PACKAGE / "gateway" / "app.py")
    assert "s3service.middleware" in gateway_app and "s3service.backends.base" in gateway_app
    assert "s3service.gateway.cli" in imports(ENTRY_POINT)
    assert len(library_modules()) > 20
    assert "s3service.layers.apperrors" in imports(PACKAGE / "layers" / "authentication.py")
