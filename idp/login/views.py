"""Login screens: CCCD + password, then a code (SMS or authenticator app), then consent.
Views only parse and render; the rules live in `password`, `throttle`, `idp.otp` and
`idp.sessions`."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError
from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from sqlalchemy import select

from idp.audit import record_event
from idp.deadline import extend_deadline
from idp.interaction import (
    Interaction,
    bind_to_new_browser_id,
    end_interaction,
    save_interaction,
)
from idp.interaction.methods import PASSWORD_SMS, PASSWORD_TOTP
from idp.login.outcome import (
    current_login,
    pending_account,
    second_factor_exhausted,
    second_factor_passed,
)
from idp.login.password import check_password_login
from idp.login.throttle import CITIZENS, Gate, GateAnswer
from idp.oidc.authorize import answer_with_error, continue_authorization, validated_grant
from idp.oidc.claims_request import claims_to_consent
from idp.oidc.consent import consent_lines
from idp.otp.codes import LOGIN, Challenge, pending_code, spend_try
from idp.otp.step import CodeStep, OtherWays
from idp.params import parse_id
from idp.provider import provider
from idp.security.captcha import captcha_audio, captcha_image, check_captcha, new_captcha
from idp.security.headers import allow_form_target
from idp.security.totp import verify_account_code
from idp.store.models import Account, Consent, OtpPhone
from idp.vntime import clock_time
from vnid.person import mask_phone

bp = Blueprint("login", __name__)


LOGIN_CODE = CodeStep(LOGIN, heading="Xác thực đăng nhập", title="Nhập mã xác thực – Đăng nhập",
                      check_endpoint="login.otp", resend_endpoint="login.resend_otp")

REJECTED = "Số định danh hoặc mật khẩu không đúng. Vui lòng kiểm tra lại."
GATE_MESSAGES = {
    Gate.CAPTCHA: "Vui lòng nhập mã kiểm tra (captcha) bên dưới rồi bấm Đăng nhập.",
    Gate.WAIT: "Để bảo vệ tài khoản, vui lòng chờ {wait} giây rồi bấm Đăng nhập lại.",
    Gate.PAUSED: "Do có nhiều lần đăng nhập không thành công, việc đăng nhập vào số định danh "
                 "này từ trình duyệt này được tạm dừng đến {until}.",
    Gate.ADDRESS_PAUSED: "Có quá nhiều lần đăng nhập từ mạng bạn đang dùng, nên đăng nhập từ "
                         "trình duyệt này được tạm dừng đến {until}.",
}


def _field(name: str, limit: int) -> str:
    return (request.form.get(name) or "").strip()[:limit]


def _gate_message(answer: GateAnswer) -> str:
    return GATE_MESSAGES[answer.gate].format(wait=answer.wait_seconds,
                                             until=clock_time(answer.until))


@bp.route("/login", methods=["GET", "POST"])
def password():
    """Step 1: CCCD and password (and a captcha when failures call for one)."""
    interaction = current_login()
    hint = interaction.cccd_hint or interaction.params.get("login_hint", "")
    if request.method == "GET":
        return _password_page(interaction, hint if hint.isascii() and hint.isdigit() else "")

    cccd = _field("cccd", 20).replace(" ", "")
    if request.form.get("captcha_refresh"):
        return _password_page(interaction, cccd, captcha=True)
    secret = (request.form.get("password") or "")[:200]
    if not (len(cccd) == 12 and cccd.isascii() and cccd.isdigit()):
        return _password_page(interaction, cccd, status=400, errors={
            "cccd": "Số định danh cá nhân (CCCD) gồm đúng 12 chữ số."})
    if not secret:
        return _password_page(interaction, cccd, status=400,
                              errors={"password": "Vui lòng nhập mật khẩu."})
    ip = request.remote_addr
    captcha_ok = check_captcha(request.form.get("captcha_id", ""), _field("captcha", 20))
    result = check_password_login(provider().db.session, cccd, secret, ip=ip,
                                  captcha_ok=captcha_ok)
    gate = result.gate.gate
    if gate is Gate.CAPTCHA:
        message = GATE_MESSAGES[Gate.CAPTCHA] if not request.form.get("captcha") else (
            "Mã kiểm tra chưa đúng. Vui lòng nhập mã mới bên dưới.")
        return _password_page(interaction, cccd, status=400, captcha=True,
                              errors={"captcha": message})
    if gate is not Gate.OPEN:
        return _password_page(interaction, cccd, status=429, paused=gate,
                              error=_gate_message(result.gate), wait=result.gate.wait_seconds)
    if not result.ok:
        return _password_page(interaction, cccd, REJECTED, 401)
    return _second_factor(interaction, result.account)


def _second_factor(interaction: Interaction, account: Account):
    """Password right: on to the code page. An account with an authenticator app uses it
    first and no SMS is sent; otherwise an SMS goes to the default phone, and when it
    cannot, the page says why and offers the other ways on."""
    interaction.pending_account_id = account.id
    bind_to_new_browser_id(interaction)
    phone = account.default_phone
    if account.totp_secret is None and phone is not None:
        LOGIN_CODE.send(_challenge(interaction, account), phone.phone)
    return redirect(url_for(".otp", tx=interaction.id), 303)


def _password_page(interaction: Interaction, cccd: str, error: str | None = None,
                   status: int = 200, *, errors: dict[str, str] | None = None,
                   captcha: bool = False, paused: Gate | None = None, wait: int = 0):
    ip = request.remote_addr
    needs_captcha = captcha or CITIZENS.captcha_needed(cccd or None, ip)
    return render_template(
        "login/password.html", interaction=interaction, cccd=cccd, error=error,
        errors=errors or {}, paused=paused, wait=wait,
        captcha_id=new_captcha() if needs_captcha and paused is None else None,
    ), status


@bp.route("/login/check")
def check():
    """For the page's script, once the CCCD is typed: whether the captcha (or a wait) will
    be asked, so it is on the page before the first submit. Says nothing about accounts."""
    current_login()  # only a live login of this browser may ask
    cccd = (request.args.get("cccd") or "")[:20]
    if not (len(cccd) == 12 and cccd.isascii() and cccd.isdigit()):
        return {"captcha": None}
    if (paused := CITIZENS.paused_until(cccd)) is not None:
        return {"captcha": None, "paused_until": clock_time(paused)}
    if not CITIZENS.captcha_needed(cccd, request.remote_addr):
        return {"captcha": None}
    return {"captcha": captcha_urls(new_captcha())}


def captcha_urls(captcha_id: str) -> dict[str, str]:
    """What a page's script needs to show a captcha."""
    return {"id": captcha_id, "image": url_for("login.captcha", captcha_id=captcha_id),
            "audio": url_for("login.captcha_sound", captcha_id=captcha_id)}


def _challenge(interaction: Interaction, account: Account) -> Challenge:
    return Challenge(interaction.id, LOGIN, account_id=account.id, cccd=account.cccd,
                     ip=request.remote_addr, device=CITIZENS.known_device(account.cccd))


def _ways(interaction: Interaction, account: Account) -> OtherWays:
    pending = pending_code(interaction.id)
    outstanding = pending.phone if pending else None
    return OtherWays(
        app_action=url_for(".totp") if account.totp_secret else None,
        app_first=account.totp_secret is not None and pending is None,
        phones=[(phone.id, mask_phone(phone.phone)) for phone in account.phones
                if phone.phone != outstanding],
        lost_phone_url=url_for("account.lost_phone", tx=interaction.id),
        counter=True,
        back_url=url_for(".cancel", tx=interaction.id),
    )


def _otp_page(interaction: Interaction, account: Account, error: str | None = None,
              status: int = 200):
    # A right code may end in the redirect to the portal.
    if "redirect_uri" in interaction.params:
        allow_form_target(interaction.params["redirect_uri"])
    return LOGIN_CODE.page(interaction.id, {"tx": interaction.id}, error=error, status=status,
                           ways=_ways(interaction, account))


@bp.route("/login/otp", methods=["GET", "POST"])
def otp():
    """Step 2: the code sent by SMS (or the other ways on)."""
    interaction = current_login()
    account = pending_account(interaction)
    if request.method == "GET":
        return _otp_page(interaction, account)
    if "redirect_uri" in interaction.params:
        allow_form_target(interaction.params["redirect_uri"])
    return LOGIN_CODE.answer_code(
        interaction.id, _field("otp", 12), {"tx": interaction.id},
        passed=lambda: second_factor_passed(interaction, account, PASSWORD_SMS,
                                            "login.otp"),
        exhausted=lambda: _exhausted(interaction, account, "login.otp"),
        spent=lambda: second_factor_exhausted(interaction, account, counted=False),
        ways=lambda: _ways(interaction, account),
    )


def _exhausted(interaction: Interaction, account: Account, step: str):
    record_event(step, "failure", account_id=account.id, reason="exhausted")
    return second_factor_exhausted(interaction, account)


@bp.route("/login/totp", methods=["POST"])
def totp():
    """Step 2 with the code of the authenticator app instead of an SMS code."""
    interaction = current_login()
    account = pending_account(interaction)
    if account.totp_secret is None:
        return redirect(url_for(".otp", tx=interaction.id), 303)
    # One try counter for SMS and app codes: switching never buys more guesses.
    left = spend_try(interaction.id)
    if left is not None and verify_account_code(account, _field("totp", 12)):
        return second_factor_passed(interaction, account, PASSWORD_TOTP, "login.totp")
    record_event("login.totp", "failure", account_id=account.id)
    if left is None:
        return second_factor_exhausted(interaction, account, counted=False)
    if left == 0:
        return second_factor_exhausted(interaction, account)
    return _otp_page(interaction, account, "Mã của ứng dụng xác thực không đúng hoặc đã được "
                     f"dùng. Bạn còn {left} lần thử.", 400)


@bp.route("/login/otp/resend", methods=["POST"])
def resend_otp():
    """Send a code to one of the account's phones (the default one unless another is
    chosen), never to a typed number."""
    interaction = current_login()
    account = pending_account(interaction)
    phone = account.default_phone
    chosen = parse_id(request.form.get("phone_id"))
    if chosen is not None:
        phone = provider().db.session.scalar(
            select(OtpPhone).where(OtpPhone.id == chosen, OtpPhone.account_id == account.id)
        ) or phone
    if phone is None:
        return _otp_page(interaction, account)
    return LOGIN_CODE.answer_resend(_challenge(interaction, account), phone.phone,
                                    {"tx": interaction.id},
                                    ways=lambda: _ways(interaction, account))


@bp.route("/login/extend", methods=["POST"])
def extend():
    """More time for this login, asked by the page before it runs out (what was typed stays)."""
    return extend_deadline(current_login(), save_interaction,
                           provider().settings.session.transaction_ttl)


@bp.route("/login/cancel")
def cancel():
    """"Quay lại cổng dịch vụ": give up this login; the portal hears access_denied."""
    interaction = current_login()
    record_event("login", "cancelled", client_id=interaction.client_id)
    end_interaction(interaction)
    if interaction.return_to:
        return redirect(url_for("account.home"), 303)
    try:
        grant = validated_grant(interaction.params)
    except OAuth2Error as error:
        return answer_with_error(error, interaction.params.get("state"))
    return answer_with_error(
        # error_description is ASCII only (RFC 6749 §4.1.2.1); the portal shows its own text.
        AccessDeniedError("The user cancelled the login.", redirect_uri=grant.redirect_uri),
        interaction.params.get("state"))


@bp.route("/consent", methods=["GET", "POST"])
def consent():
    """Step 3: the exact data the portal will receive; allow or refuse."""
    interaction = current_login()
    auth = interaction.authenticated
    if auth is None:
        return redirect(url_for(".password", tx=interaction.id))
    session = provider().db.session
    account = session.get(Account, auth.account_id)
    try:
        grant = validated_grant(interaction.params)
    except OAuth2Error as error:  # the portal was removed or changed meanwhile
        end_interaction(interaction)
        return answer_with_error(error, interaction.params.get("state"))
    scopes = grant.request.scope.split()
    claims = claims_to_consent(grant)
    if request.method == "GET":
        allow_form_target(grant.redirect_uri)
        return render_template(
            "login/consent.html",
            interaction=interaction,
            lines=consent_lines(account, scopes, extra=claims),
        )
    if request.form.get("decision") != "allow":
        record_event("consent", "refused", account_id=account.id, client_id=interaction.client_id)
        end_interaction(interaction)
        return answer_with_error(
            AccessDeniedError(redirect_uri=grant.redirect_uri), interaction.params.get("state")
        )
    existing = session.scalar(
        select(Consent).where(
            Consent.account_id == account.id, Consent.client_id == interaction.client_id
        )
    )
    if existing is None:
        session.add(Consent(account_id=account.id, client_id=interaction.client_id, scopes=scopes,
                            claims=claims))
    else:
        existing.scopes = sorted(set(existing.scopes) | set(scopes))
        existing.claims = sorted(set(existing.claims or []) | set(claims))
    session.commit()
    record_event("consent", "granted", account_id=account.id, client_id=interaction.client_id,
                 scopes=scopes)
    interaction.consented = True
    save_interaction(interaction)
    return continue_authorization(interaction)


@bp.route("/captcha/<captcha_id>.png")
def captcha(captcha_id: str):
    """The captcha picture; the answer never leaves the server."""
    image = captcha_image(captcha_id)
    if image is None:
        abort(404)
    return Response(image, mimetype="image/png", headers={"Cache-Control": "no-store"})


@bp.route("/captcha/<captcha_id>.wav")
def captcha_sound(captcha_id: str):
    """The same captcha read aloud in Vietnamese, for those who cannot see the picture."""
    sound = captcha_audio(captcha_id)
    if sound is None:
        abort(404)
    return Response(sound, mimetype="audio/wav", headers={"Cache-Control": "no-store"})


@bp.route("/captcha/new")
def fresh_captcha():
    """A new captcha for a page's "Đổi mã khác" button."""
    return captcha_urls(new_captcha()), 200, {"Cache-Control": "no-store"}
