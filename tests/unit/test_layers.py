"""The protocol layer knows login methods only through their table
(idp.interaction.methods): it imports no login method's package, and no page package."""

from __future__ import annotations

import pytest
from flask import Flask

from idp.interaction.methods import PASSWORD_SMS, SIM_SIGNATURE, USB_TOKEN, entry_for, offer
from tests.connectors.test_imports import ROOT, imported_modules

METHOD_AND_PAGE_PACKAGES = ("idp.login", "idp.usbtoken", "idp.simsign", "idp.account",
                            "idp.register", "idp.helpdesk", "idp.sharing")


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
