"""How the packages of idp/ depend on each other: no cycle among them, and the protocol
layer knows login methods only through their table (idp.interaction.methods)."""

from __future__ import annotations

import pytest
from flask import Flask

from idp.interaction.methods import PASSWORD_SMS, SIM_SIGNATURE, USB_TOKEN, entry_for, offer
from tests.connectors.test_imports import ROOT, imported_modules

METHOD_AND_PAGE_PACKAGES = ("idp.login", "idp.certificates", "idp.usbtoken", "idp.simsign",
                            "idp.account", "idp.register", "idp.helpdesk", "idp.sharing")


@pytest.mark.parametrize("package", ["idp/oidc", "idp/interaction"])
def test_imports_no_login_method(package):
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path)
            if any(name == p or name.startswith(p + ".") for p in METHOD_AND_PAGE_PACKAGES))
        for path in modules
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_a_level_starts_at_the_first_offered_method_that_reaches_it_and_can_work():
    app = Flask(__name__)
    token_trusted = False
    offer(app, PASSWORD_SMS)
    offer(app, USB_TOKEN, lambda: token_trusted)
    offer(app, SIM_SIGNATURE)
    with app.app_context():
        assert entry_for(2) is PASSWORD_SMS
        assert entry_for(3) is SIM_SIGNATURE
        token_trusted = True
        assert entry_for(3) is USB_TOKEN
        assert entry_for(4) is None


def package_of(module: str) -> str:
    """`idp.oidc.token` and `idp.oidc` -> `idp.oidc`; `idp.audit` -> `idp.audit`."""
    return ".".join(module.split(".")[:2])


def package_graph() -> dict[str, set[str]]:
    """Which idp package imports which. idp/__init__.py, the application factory that
    puts every package together, stands above them all and is left out."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "idp").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if module == "idp.__init__":
            continue
        source = package_of(module.removesuffix(".__init__"))
        graph.setdefault(source, set()).update(
            target for target in map(package_of, imported_modules(path))
            if target.startswith("idp.") and target != source)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that ends where it starts), or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            if (cycle := visit(target, [*path, node])) is not None:
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        if (cycle := visit(start, [])) is not None:
            return cycle
    return None


def test_no_import_cycle_among_idp_packages():
    graph = package_graph()
    assert len(graph) > 20  # every package was read
    assert find_cycle(graph) is None


def test_the_certificate_methods_share_only_the_certificates_package():
    graph = package_graph()
    assert "idp.usbtoken" not in graph["idp.simsign"]
    assert "idp.simsign" not in graph["idp.usbtoken"]
    assert "idp.certificates" in graph["idp.usbtoken"] & graph["idp.simsign"]
    assert graph["idp.certificates"].isdisjoint({"idp.usbtoken", "idp.simsign"})


def test_a_cycle_would_be_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "d": {"a"}}) is None
