"""A login in progress and how it ends: the SSO session, the audit, the way back to the
portal. Shared by every login method (password + OTP, USB token, SIM signature, recovery)."""

from __future__ import annotations

import time

from blinker import Namespace
from flask import abort, current_app, redirect, request, url_for

from idp.audit import record_event
from idp.deadline import offer_more_time
from idp.errors import error_page, refuse
from idp.interaction import (
    Authentication,
    Interaction,
    bind_to_new_browser_id,
    end_interaction,
    load_interaction,
    login_to_resume,
    save_interaction,
    set_login_to_resume,
)
from idp.interaction.levels import login_acr
from idp.interaction.methods import LoginMethod
from idp.login.devices import device_of, remember_device
from idp.login.throttle import CITIZENS
from idp.oidc.authorize import continue_authorization
from idp.oidc.backchannel import notify_portals
from idp.otp.codes import forget_code
from idp.provider import provider
from idp.sessions import (
    SsoSession,
    browser_id,
    create_session,
    current_session,
    end_session,
    reauthenticate,
    session_handle,
)
from idp.store.models import Account

new_browser_login = Namespace().signal("new-browser-login", doc=(
    "A login succeeded in a browser the account never logged in from (sender: the app; "
    "`account`, and `event_id` of its audit row)."))

EXPIRED_INTERACTION = (
    "Phiên đăng nhập đã hết hạn hoặc không hợp lệ. Vui lòng quay lại cổng dịch vụ và đăng nhập lại."
)


def start_login_session(account_id: int, now: int, acr: str, amr: list[str]) -> SsoSession:
    """Renew this browser's session for the same account, or replace another account's
    (whose portals are told through back-channel logout)."""
    previous = current_session()
    if previous is not None and previous.account_id == account_id:
        return reauthenticate(previous, now, acr, amr)
    if previous is not None and (ended := end_session(previous.sid)) is not None:
        notify_portals(ended)
    return create_session(account_id, now, acr, amr)


def current_login() -> Interaction:
    """This browser's login named by `tx`, or a Vietnamese 400 page."""
    interaction = load_interaction(request.values.get("tx", ""), browser_id())
    if interaction is None:
        refuse(EXPIRED_INTERACTION)
    offer_more_time(interaction.created + provider().settings.session.transaction_ttl,
                    "login.extend", tx=interaction.id)
    return interaction


def pending_account(interaction: Interaction) -> Account:
    """The account whose password this login checked (else back to the password step)."""
    if interaction.pending_account_id is None:
        abort(redirect(url_for("login.password", tx=interaction.id)))
    account = provider().db.session.get(Account, interaction.pending_account_id)
    if account is None:
        refuse(EXPIRED_INTERACTION)
    return account


def finish_login(interaction: Interaction):
    """Hand the browser back: to the portal's authorization, or to the provider's own page."""
    if interaction.return_to:
        end_interaction(interaction)
        return redirect(interaction.return_to, 303)
    return continue_authorization(interaction)


def login_succeeded(interaction: Interaction, account: Account, method: LoginMethod):
    """`method` proved who this is: start (or renew) this browser's SSO session, record
    the login, and hand the browser back."""
    now = int(time.time())
    acr = login_acr(account.ial, method.level)
    amr = list(method.amr)
    session = start_login_session(account.id, now, acr, amr)
    interaction.authenticated = Authentication(account.id, now, acr, amr, session.sid)
    interaction.pending_account_id = None
    bind_to_new_browser_id(interaction)
    # The session's handle ties this row to what the login started ("Không phải tôi").
    event_id = record_event("login", "success", account_id=account.id,
                            client_id=interaction.client_id, method=method.name, acr=acr,
                            session=session_handle(session.sid))
    if account.cccd:
        new_browser = device_of(CITIZENS.realm, account.cccd) is None
        # From now on this browser is one the owner used: a stranger's failures elsewhere
        # never pause it (DESIGN §7).
        CITIZENS.forgive_device(account.cccd)
        remember_device(CITIZENS.realm, account.cccd)
        if new_browser:
            new_browser_login.send(current_app._get_current_object(), account=account,
                                   event_id=event_id)
    return finish_login(interaction)


def second_factor_passed(interaction: Interaction, account: Account, method: LoginMethod,
                         step: str):
    """Password and second factor (SMS code or app code) passed: start the session, go on."""
    record_event(step, "success", account_id=account.id, client_id=interaction.client_id)
    return login_succeeded(interaction, account, method)


def second_factor_exhausted(interaction: Interaction, account: Account, counted: bool = True):
    """Too many wrong codes: this try ends and counts as a failed login for this CCCD from
    this browser, so typing the password again never buys free guesses. The login itself
    goes on at the password step, so the citizen is never stranded. `counted` is False for
    a request that found the tries already spent: the one that spent the last try counted
    the failure, and one exhausted login counts once however many codes arrive together."""
    if counted:
        CITIZENS.record_failure(account.cccd, request.remote_addr)
    forget_code(interaction.id)
    interaction.pending_account_id = None
    save_interaction(interaction)
    return error_page(
        400, "Bạn đã nhập sai mã xác thực quá số lần cho phép. Để bảo vệ tài khoản, vui lòng "
        "đăng nhập lại từ đầu (nhập lại mật khẩu, rồi nhận mã mới).",
        title="Nhập sai mã quá số lần", actions=login_actions(interaction))


def login_actions(interaction: Interaction) -> list[tuple[str, str]]:
    """The ways on from a dead end of this login: log in again, or back to the portal."""
    return [("Đăng nhập lại", url_for("login.password", tx=interaction.id)),
            ("Quay lại cổng dịch vụ", url_for("login.cancel", tx=interaction.id))]


def keep_login_from_query() -> None:
    """Registration and forgot-password pages opened from a login (`tx`): remember it, so
    they end back in that login and at its portal."""
    tx = request.args.get("tx", "")
    interaction = load_interaction(tx, browser_id()) if tx else None
    if interaction is not None:
        set_login_to_resume(interaction)


def ways_back_to_login(cccd: str | None = None) -> list[tuple[str, str]]:
    """The end of a registration or reset: into the login this browser left (with `cccd`
    filled in) or back to its portal; the account console when there is no such login."""
    interaction = login_to_resume(browser_id(), cccd)
    if interaction is None:
        return [("Đăng nhập", url_for("account.home"))]
    return [("Đăng nhập", url_for("login.password", tx=interaction.id)),
            ("Quay lại cổng dịch vụ", url_for("login.cancel", tx=interaction.id))]
