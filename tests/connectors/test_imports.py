"""Connectors and the identity rules stand apart from the provider: neither imports idp/.

(keys/ is left out: its models still live in idp.store.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, wherever the import statement stands."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", ["connectors", "vnid"])
def test_imports_nothing_from_idp(package):
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path)
                                            if name == "idp" or name.startswith("idp."))
        for path in modules
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_identity_rules_import_no_connector():
    for path in (ROOT / "vnid").rglob("*.py"):
        assert not {name for name in imported_modules(path) if name.startswith("connectors")}
