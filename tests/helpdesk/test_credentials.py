"""Staff replace the password and TOTP secret an admin handed them, before doing anything."""

from __future__ import annotations

import pyotp
from sqlalchemy import select

from idp.store.models import StaffMember
from tests.helpdesk.conftest import NEW_STAFF_PASSWORD, STAFF_PASSWORD, Console, audit_rows


def _member(provider, member_id: int) -> StaffMember:
    with provider.db.sessions() as session:
        return session.scalar(select(StaffMember).where(StaffMember.id == member_id))


def test_handed_over_credentials_must_be_replaced_first(app, provider, make_staff):
    user = make_staff("supervisor", handed_over=True)
    handed_secret = user.secret
    page = Console(app, user).login(then="/helpdesk/credentials")
    for path in ("/helpdesk/", "/helpdesk/complaints", "/helpdesk/audit"):
        assert page.get(path).headers["Location"].endswith("/helpdesk/credentials"), path
    form = page.get("/helpdesk/credentials").get_data(as_text=True)
    assert 'id="replace-notice"' in form and "<svg" in form

    assert page.replace_credentials().status_code == 303
    assert page.get("/helpdesk/").status_code == 200
    assert page.get("/helpdesk/credentials").headers["Location"].endswith("/helpdesk/")
    member = _member(provider, user.id)
    assert member.must_replace_credentials is False
    [row] = audit_rows(provider, "staff.credentials_replace")
    assert row.result == "success" and row.actor == user.actor

    # Whoever handed them over can no longer use them.
    stale = Console(app, user)
    assert stale.start(STAFF_PASSWORD).status_code == 401
    assert stale.start(NEW_STAFF_PASSWORD).status_code == 303
    assert stale.totp(pyotp.TOTP(handed_secret).now()).status_code == 401
    Console(app, user).login()  # the new password and secret (user now holds them)


def test_bad_replacements_change_nothing(app, provider, make_staff):
    user = make_staff("helpdesk", handed_over=True)
    page = Console(app, user).login(then="/helpdesk/credentials")
    before = _member(provider, user.id)
    same = page.replace_credentials(password=STAFF_PASSWORD)
    assert same.status_code == 400 and "khác mật khẩu được cấp" in same.get_data(as_text=True)
    mismatch = page.replace_credentials(confirm="Khac-Hoan#Toan-2026")
    assert mismatch.status_code == 400 and "không khớp" in mismatch.get_data(as_text=True)
    weak = page.replace_credentials(password="12345678")
    assert weak.status_code == 400 and 'id="password-error"' in weak.get_data(as_text=True)
    wrong = page.replace_credentials(code="000000")
    assert wrong.status_code == 400 and 'id="code-error"' in wrong.get_data(as_text=True)
    old_code = page.replace_credentials(code=pyotp.TOTP(user.secret).now())
    assert old_code.status_code == 400  # a code of the handed-over secret is not the new one
    after = _member(provider, user.id)
    assert after.must_replace_credentials is True
    assert (after.password_hash, after.totp_secret) == (before.password_hash, before.totp_secret)
    assert [r.result for r in audit_rows(provider, "staff.credentials_replace")] == [
        "failure"] * 5


def test_the_offered_secret_stays_the_same_until_used(app, make_staff):
    page = Console(app, make_staff("auditor", handed_over=True)).login(
        then="/helpdesk/credentials")
    first = page.get("/helpdesk/credentials").get_data(as_text=True)
    again = page.get("/helpdesk/credentials").get_data(as_text=True)
    secret = 'id="totp-secret">'
    assert first.split(secret)[1][:32] == again.split(secret)[1][:32]
    out = page.post("/helpdesk/logout")
    assert out.status_code == 303 and out.headers["Location"].endswith("/helpdesk/login")


def test_replacing_credentials_ends_every_other_session_of_the_member(app, make_staff):
    user = make_staff("supervisor", handed_over=True)
    # Someone who knew the handed-over credentials logged in as the member first ...
    intruder = Console(app, user).login(then="/helpdesk/credentials")
    member = Console(app, user).login(then="/helpdesk/credentials")
    assert member.replace_credentials().status_code == 303
    assert member.get("/helpdesk/").status_code == 200  # the member's own session goes on
    # ... and is out the moment the member sets their own.
    assert intruder.get("/helpdesk/").headers["Location"].endswith("/helpdesk/login")


def test_an_admin_totp_reset_ends_the_members_sessions(app, console, make_staff):
    admin = console("admin")
    user = make_staff("helpdesk")
    page = Console(app, user).login()
    assert page.get("/helpdesk/").status_code == 200
    assert admin.post(f"/helpdesk/staff/{user.id}/totp").status_code == 200
    assert page.get("/helpdesk/").headers["Location"].endswith("/helpdesk/login")
