"""Helpers of the QR-code sharing tests: a citizen, a share made through the service, the
provider's own verification with its keys and database."""

from __future__ import annotations

import pytest

from idp.store.models import Account
from tests.account.conftest import console_login, other_browser  # noqa: F401 - for the tests


@pytest.fixture
def citizen(app, make_account):
    """A citizen account (CCCD, name, birth date, gender, phone, verified e-mail)."""
    account_id, person = make_account()
    with app.app_context():
        session = app.extensions["idp.provider"].db.session
        session.get(Account, account_id).email_verified = True
        session.commit()
    return account_id, person


@pytest.fixture
def share_of(app):
    """Make a share for an account through the service; returns (share id, code)."""
    from idp.sharing.services import ShareRequest, create_share

    def make(account_id: int, items=("name", "birthdate"), *, one_time: bool = False,
             validity: int = 900, note: str | None = None) -> tuple[int, str]:
        with app.test_request_context():
            account = app.extensions["idp.provider"].db.session.get(Account, account_id)
            share, code = create_share(account, ShareRequest(list(items), note, validity,
                                                             one_time))
            return share.id, code

    return make


@pytest.fixture
def read(app):
    """Read a share's URL as a verifier would (in a request context of its own)."""
    from idp.sharing.services import read_share

    def go(code: str, ip: str = "203.0.113.7"):
        with app.test_request_context(environ_base={"REMOTE_ADDR": ip}):
            return read_share(code, ip)

    return go


@pytest.fixture
def check(app):
    """Verify a credential with the provider's own keys and status lists."""
    from idp.sharing.status import local_status
    from idp.sharing.verifier import verify_credential

    def go(presentation: str, **overrides):
        with app.test_request_context():
            p = app.extensions["idp.provider"]
            arguments = {"issuer": p.issuer, "keys": p.keys.verification_keys(),
                         "status_of": local_status, **overrides}
            return verify_credential(presentation, **arguments)

    return go
