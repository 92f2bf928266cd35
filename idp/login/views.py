"""Login screens: CCCD + password, then SMS OTP, then consent. Views only parse and render;
the rules live in `password`, `idp.otp` and `idp.sessions`."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError
from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from idp.account.totp import PASSWORD_TOTP_AMR, verify_login_code
from idp.audit import record_event
from idp.errors import error_page
from idp.identity import mask_phone
from idp.interaction import (
    Interaction,
    end_interaction,
    save_interaction,
)
from idp.levels import PASSWORD_SMS_AMR
from idp.login.outcome import (
    current_login,
    pending_account,
    second_factor_exhausted,
    second_factor_passed,
)
from idp.login.password import (
    PasswordOutcome,
    captcha_required,
    check_password_login,
)
from idp.oidc.authorize import answer_with_error, validated_grant
from idp.oidc.claims_request import claims_to_consent
from idp.oidc.consent import consent_lines
from idp.otp import (
    SEND_MESSAGES,
    CheckOutcome,
    SendOutcome,
    check_otp,
    pending_otp,
    render_otp_page,
    send_otp,
)
from idp.provider import provider
from idp.security.captcha import captcha_image, check_captcha, new_captcha
from idp.security.headers import allow_form_target
from idp.store.models import Account, Consent, OtpPhone

bp = Blueprint("login", __name__)

REJECTED = (
    "Số định danh hoặc mật khẩu không đúng, hoặc tài khoản đang tạm khóa do nhập sai nhiều lần. "
    "Vui lòng kiểm tra lại hoặc thử lại sau ít phút."
)


def _field(name: str, limit: int) -> str:
    return (request.form.get(name) or "").strip()[:limit]


@bp.route("/login", methods=["GET", "POST"])
def password():
    """Step 1: CCCD and password (and a captcha after repeated failures)."""
    interaction = current_login()
    hint = interaction.params.get("login_hint", "")
    if request.method == "GET":
        return _password_page(interaction, cccd=hint if hint.isdigit() else "")

    cccd = _field("cccd", 20).replace(" ", "")
    secret = (request.form.get("password") or "")[:200]
    if not (len(cccd) == 12 and cccd.isdigit()):
        return _password_page(
            interaction, cccd, "Số định danh cá nhân (CCCD) gồm đúng 12 chữ số.", 400
        )
    if not secret:
        return _password_page(interaction, cccd, "Vui lòng nhập mật khẩu.", 400)
    ip = request.remote_addr
    captcha_ok = check_captcha(request.form.get("captcha_id", ""), _field("captcha", 20))
    result = check_password_login(
        provider().db.session, cccd, secret, ip=ip, captcha_ok=captcha_ok
    )
    if result.outcome is PasswordOutcome.CAPTCHA_REQUIRED:
        return _password_page(
            interaction, cccd, "Vui lòng nhập đúng mã kiểm tra (captcha).", 400
        )
    if result.outcome is PasswordOutcome.IP_LIMITED:
        return _password_page(interaction, cccd, SEND_MESSAGES[SendOutcome.IP_LIMIT], 429)
    if result.outcome is not PasswordOutcome.OK:
        return _password_page(interaction, cccd, REJECTED, 401)

    account = result.account
    interaction.pending_account_id = account.id
    save_interaction(interaction)
    phone = account.default_phone
    if phone is None:
        return error_page(403, "Tài khoản chưa có số điện thoại nhận OTP. "
                          "Vui lòng liên hệ bộ phận một cửa để được hỗ trợ.")
    sent = send_otp(interaction.id, phone.phone, purpose="đăng nhập", ip=ip, account_id=account.id)
    if sent.outcome not in (SendOutcome.SENT, SendOutcome.COOLDOWN):
        return _password_page(interaction, cccd, SEND_MESSAGES[sent.outcome], 429)
    return redirect(url_for(".otp", tx=interaction.id), 303)


def _password_page(interaction: Interaction, cccd: str, error: str | None = None,
                   status: int = 200):
    needs_captcha = bool(cccd) and captcha_required(cccd, request.remote_addr)
    return render_template(
        "login/password.html",
        interaction=interaction,
        cccd=cccd,
        error=error,
        captcha_id=new_captcha() if needs_captcha else None,
    ), status


@bp.route("/login/otp", methods=["GET", "POST"])
def otp():
    """Step 2: the 6-digit code sent to the account's OTP phone."""
    interaction = current_login()
    account = pending_account(interaction)
    if request.method == "GET":
        return _otp_page(interaction)
    result = check_otp(interaction.id, _field("otp", 12))
    if result.outcome is CheckOutcome.OK:
        return second_factor_passed(interaction, account, PASSWORD_SMS_AMR, "pwd+sms",
                                    "login.otp")
    record_event("login.otp", "failure", account_id=account.id, reason=result.outcome.value)
    if result.outcome is CheckOutcome.EXHAUSTED:
        return second_factor_exhausted(interaction, account)
    if result.outcome is CheckOutcome.EXPIRED:
        message = "Mã OTP đã hết hiệu lực. Vui lòng bấm \"Gửi lại OTP\" để nhận mã mới."
    else:
        message = f"Mã OTP không đúng. Bạn còn {result.tries_left} lần thử."
    return _otp_page(interaction, message, 400)


@bp.route("/login/totp", methods=["POST"])
def totp():
    """Step 2 with the code of the authenticator app instead of the SMS code."""
    interaction = current_login()
    account = pending_account(interaction)
    if account.totp_secret is None:
        return redirect(url_for(".otp", tx=interaction.id), 303)
    p = provider()
    limit = p.settings.otp.max_attempts
    # One try counter for SMS and app codes: switching never buys more guesses.
    tries = p.state.incr(f"otp-tries:{interaction.id}", p.settings.session.transaction_ttl)
    if tries <= limit and verify_login_code(account, _field("totp", 12)):
        return second_factor_passed(interaction, account, PASSWORD_TOTP_AMR, "pwd+totp",
                                    "login.totp")
    record_event("login.totp", "failure", account_id=account.id)
    if tries >= limit:
        return second_factor_exhausted(interaction, account)
    return _otp_page(interaction, "Mã của ứng dụng xác thực không đúng hoặc đã được dùng. "
                     f"Bạn còn {limit - tries} lần thử.", 400)


@bp.route("/login/otp/resend", methods=["POST"])
def resend_otp():
    """Send a new code, to the chosen phone of the account (never to a typed number)."""
    interaction = current_login()
    account = pending_account(interaction)
    phone = account.default_phone
    chosen = request.form.get("phone_id", "")
    if chosen.isdigit():
        phone = provider().db.session.scalar(
            select(OtpPhone).where(OtpPhone.id == int(chosen), OtpPhone.account_id == account.id)
        ) or phone
    sent = send_otp(interaction.id, phone.phone, purpose="đăng nhập", ip=request.remote_addr,
                    account_id=account.id)
    if sent.outcome is SendOutcome.SENT:
        return redirect(url_for(".otp", tx=interaction.id), 303)
    message = SEND_MESSAGES[sent.outcome].format(wait=sent.wait_seconds)
    return _otp_page(interaction, message, 429)


def _otp_page(interaction: Interaction, error: str | None = None, status: int = 200):
    account = pending_account(interaction)
    pending = pending_otp(interaction.id)
    # A right code may end in the redirect to the portal.
    if "redirect_uri" in interaction.params:
        allow_form_target(interaction.params["redirect_uri"])
    return render_otp_page(
        interaction.id,
        form_action=url_for(".otp"),
        resend_action=url_for(".resend_otp"),
        hidden={"tx": interaction.id},
        error=error,
        status=status,
        other_phones=[
            (phone.id, mask_phone(phone.phone)) for phone in account.phones
            if pending is None or phone.phone != pending.phone
        ],
        totp_action=url_for(".totp") if account.totp_secret else None,
        lost_phone_url=url_for("account.lost_phone", tx=interaction.id),
    )


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
    return redirect(url_for("oidc.resume", tx=interaction.id), 303)


@bp.route("/captcha/<captcha_id>.png")
def captcha(captcha_id: str):
    """The captcha picture; the answer never leaves the server."""
    image = captcha_image(captcha_id)
    if image is None:
        abort(404)
    return Response(image, mimetype="image/png", headers={"Cache-Control": "no-store"})
