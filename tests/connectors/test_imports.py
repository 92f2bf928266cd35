"""Connectors, signing keys and the identity rules stand apart from the provider: none
imports idp/ when it runs. (keys/ names idp's settings class in annotations only.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports when it runs, wherever the import statement
    stands (`from a import b` counts `a` and `a.b`). Imports under `if TYPE_CHECKING:`
    serve annotations only and are left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    typing_only = {id(node) for branch in ast.walk(tree) if isinstance(branch, ast.If)
                   and getattr(branch.test, "id", "") == "TYPE_CHECKING"
                   for statement in branch.body for node in ast.walk(statement)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("package", ["connectors", "keys", "vnid"])
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
