"""The new-browser notice by e-mail (`[notices] new_browser_login = "email"`)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from connectors.email import read_outbox
from idp.store.models import Account
from tests.conftest import Flow, read_otps


@pytest.fixture
def settings(settings_for, simulators, tmp_path):
    sections = {name: {"url": sim.url} for name, sim in simulators.items()}
    sections["email"] = {"outbox_path": str(tmp_path / "mail.jsonl")}
    sections["notices"] = {"new_browser_login": "email"}
    return settings_for(**sections)


def test_notice_goes_to_the_verified_email_else_to_the_phone(browser, other_browser, settings,
                                                            make_account, make_portal,
                                                            provider):
    account_id, person = make_account()
    portal = make_portal()
    Flow(browser, settings, portal).login(person)  # no verified e-mail yet: by SMS
    assert any("thiết bị mới" in m["text"] for m in read_otps(settings))
    with provider.db.sessions() as session:
        session.execute(update(Account).where(Account.id == account_id)
                        .values(email_verified=True))
        session.commit()
    sms_before = len(read_otps(settings))

    Flow(other_browser, settings, portal).login(person)

    [mail] = read_outbox(settings.email.outbox_path)
    assert mail["to"] == person.email and "/account/not-me/" in mail["body"]
    assert "/account/history" in mail["body"]
    assert len(read_otps(settings)) == sms_before + 1  # the login's code, no SMS notice
