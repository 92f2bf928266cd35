"""The password and OTP steps through HTTP: tries, re-sends, expiry, caps, pauses, captcha, CSRF.

Every test runs on both backends (SQLite + SQL state, PostgreSQL + Redis). Settings are
narrowed per test with ``@config(...)``, which overrides this module's `settings` fixture.
Over 400 lines: the steps' caps interact (a pause, the captcha, the code tries), and their
tests stay side by side.
"""

from __future__ import annotations

import re
import statistics
import threading
import time

from sqlalchemy import select

from idp.store.models import Account, AuditEvent, OtpPhone
from tests.conftest import config, csrf_from, last_otp, make_person, query, read_otps, went_on

WRONG_PASSWORD = "Sai-Mat-Khau#2024-xyz"
REJECTED = "Số định danh hoặc mật khẩu không đúng"
CAPTCHA_ASKED = "Vui lòng nhập mã kiểm tra (captcha) bên dưới"
CAPTCHA_WRONG = "Mã kiểm tra chưa đúng"
OTP_EXHAUSTED = "Bạn đã nhập sai mã xác thực quá số lần cho phép"
OTP_EXPIRED = "Mã OTP đã hết hiệu lực"
PHONE_LIMIT = "Số điện thoại này đã nhận nhiều mã OTP"
PAUSED = "được tạm dừng đến"
QUICK_RESEND = {"sms.resend_wait": "1 per 1 second"}


# --- helpers ---------------------------------------------------------------------------


def start(flow) -> tuple[str, str]:
    """Begin a login at the portal; returns (login page location, tx)."""
    response, *_ = flow.authorize()
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "/login?" in location
    return location, query(location)["tx"]


def to_otp_step(flow, person) -> str:
    """Pass the password step; returns the transaction id now waiting for an OTP."""
    location, tx = start(flow)
    response = flow.submit_password(location, person.cccd, person.password)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert "/login/otp" in response.headers["Location"]
    return tx


def post_otp(browser, tx: str, code: str):
    page = browser.get("/login/otp", query_string={"tx": tx})
    assert page.status_code == 200
    return browser.post("/login/otp", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "tx": tx, "otp": code,
    })


def resend(browser, tx: str, phone_id: int | None = None):
    page = browser.get("/login/otp", query_string={"tx": tx})
    data = {"csrf_token": csrf_from(page.get_data(as_text=True)), "tx": tx}
    if phone_id is not None:
        data["phone_id"] = str(phone_id)
    return browser.post("/login/otp/resend", data=data)


def wrong_code(right: str) -> str:
    return f"{(int(right) + 1) % 1_000_000:06d}"


def age_otp(app, provider, tx: str, *, expired: bool = False) -> None:
    """Let the re-send wait pass (and the code expire) by rewriting the real state store."""
    with app.app_context():
        record = provider.state.get(f"otp:{tx}")
        assert record is not None
        provider.limits.clear("sms.resend_wait", tx, record["phone"])
        if expired:
            record["expires_at"] = time.time() - 1
        provider.state.put(f"otp:{tx}", record, 600)


def audit_rows(provider) -> list[AuditEvent]:
    with provider.db.sessions() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def password_post(browser, location: str, cccd: str, password: str, **extra):
    """POST the password form (fresh CSRF token from the page); `extra` adds captcha fields."""
    page = browser.get(location)
    return browser.post("/login", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "tx": query(location)["tx"],
        "cccd": cccd, "password": password, **extra,
    })


def captcha_id_in(html: str) -> str | None:
    match = re.search(r'src="/captcha/([^"/]+)\.png"', html)
    return match.group(1) if match else None


# --- OTP: wrong tries ------------------------------------------------------------------


def test_wrong_otp_shows_tries_left(flow, make_account, browser, settings):
    _, person = make_account()
    tx = to_otp_step(flow, person)
    message = read_otps(settings)[-1]
    assert message["to"] == person.phone
    assert "hiệu lực 2 phút" in message["text"]  # otp.ttl = 120 s
    response = post_otp(browser, tx, wrong_code(last_otp(settings)))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Mã OTP không đúng. Bạn còn 4 lần thử." in html
    response = post_otp(browser, tx, "12ab56")  # malformed counts as a try too
    assert "Bạn còn 3 lần thử." in response.get_data(as_text=True)


def test_five_wrong_tries_end_the_login_and_count_as_a_failure(
    flow, make_account, browser, settings, app, provider
):
    _, person = make_account()
    tx = to_otp_step(flow, person)
    right = last_otp(settings)
    for left in (4, 3, 2, 1):
        response = post_otp(browser, tx, wrong_code(right))
        assert f"Bạn còn {left} lần thử." in response.get_data(as_text=True)
    token = csrf_from(response.get_data(as_text=True))
    response = post_otp(browser, tx, wrong_code(right))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert OTP_EXHAUSTED in html
    assert 'name="password"' not in html  # no way to buy more guesses in this try
    # Not a dead end: the same login goes on at the password, or back to the portal.
    assert f'href="/login?tx={tx}"' in html and f'href="/login/cancel?tx={tx}"' in html

    # This try is over: the right code no longer logs in, and the CCCD has one failure.
    page = browser.get("/login/otp", query_string={"tx": tx})
    assert page.status_code == 302 and "/login?tx=" in page.headers["Location"]
    late = browser.post("/login/otp", data={"tx": tx, "otp": right, "csrf_token": token})
    assert late.status_code == 302 and "/login?tx=" in late.headers["Location"]
    assert browser.get_cookie("__Host-idp_session", domain="sso.test") is None
    with app.app_context():
        from idp.login.throttle import CITIZENS

        assert CITIZENS.failures_counted(person.cccd) == 1
    # The password again starts a fresh set of codes.
    response = flow.submit_password(f"/login?tx={tx}", person.cccd, person.password)
    assert response.status_code == 303
    assert post_otp(browser, tx, last_otp(settings)).status_code == 303


def test_parallel_wrong_codes_count_one_exhausted_login_once(flow, make_account, browser,
                                                             settings, app):
    """Eight wrong codes sent at the same moment (five tries allowed): the login is
    exhausted once, so the CCCD has one failed login, not four."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import HttpsClient

    _, person = make_account()
    tx = to_otp_step(flow, person)
    code = wrong_code(last_otp(settings))
    token = csrf_from(browser.get("/login/otp", query_string={"tx": tx}).get_data(as_text=True))
    app.test_client_class = HttpsClient
    clients = []
    for _ in range(8):  # eight tabs of the same browser: its cookies, its form token
        client = app.test_client()
        for cookie in browser._cookies.values():
            client.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
        clients.append(client)
    ready = threading.Barrier(len(clients))

    def send(client):
        ready.wait()
        return client.post("/login/otp", data={"csrf_token": token, "tx": tx, "otp": code})

    with ThreadPoolExecutor(len(clients)) as pool:
        answers = list(pool.map(send, clients))
    assert any(OTP_EXHAUSTED in a.get_data(as_text=True) for a in answers)
    assert {a.status_code for a in answers} <= {302, 400}
    with app.app_context():
        from idp.login.throttle import CITIZENS

        assert CITIZENS.failures_counted(person.cccd) == 1


@config(limits=QUICK_RESEND)
def test_resend_never_resets_the_try_count(flow, make_account, browser, settings, app, provider):
    _, person = make_account()
    tx = to_otp_step(flow, person)
    first = last_otp(settings)
    post_otp(browser, tx, wrong_code(first))
    post_otp(browser, tx, wrong_code(first))
    age_otp(app, provider, tx)  # past the re-send wait
    assert resend(browser, tx).status_code == 303
    second = last_otp(settings)
    assert len(read_otps(settings)) == 2
    response = post_otp(browser, tx, wrong_code(second))
    assert "Bạn còn 2 lần thử." in response.get_data(as_text=True)
    # The old code died with the re-send (unless both happen to be equal).
    if first != second:
        response = post_otp(browser, tx, first)
        assert response.status_code == 400
    response = post_otp(browser, tx, second)
    assert went_on(response, flow.portal), response.headers.get("Location")


@config(limits={"sms.resend_wait": "1 per 2 seconds"})
def test_resend_within_cooldown_refused_then_allowed(flow, make_account, browser, settings):
    _, person = make_account()
    tx = to_otp_step(flow, person)
    response = resend(browser, tx)
    assert response.status_code == 429
    assert "Vui lòng chờ" in response.get_data(as_text=True)
    assert len(read_otps(settings)) == 1
    time.sleep(2.1)
    response = resend(browser, tx)
    assert response.status_code == 303
    assert len(read_otps(settings)) == 2
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Đã gửi lại mã OTP tới số" in page  # said once, after the re-send
    assert post_otp(browser, tx, last_otp(settings)).status_code == 303


@config(limits={**QUICK_RESEND, "sms.per_login": "2 per login"})
def test_sends_per_transaction_are_capped(flow, make_account, browser, settings, app, provider):
    _, person = make_account()
    tx = to_otp_step(flow, person)
    age_otp(app, provider, tx)
    assert resend(browser, tx).status_code == 303
    age_otp(app, provider, tx)
    response = resend(browser, tx)
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Đã gửi mã OTP đủ số lần cho phép trong lượt này" in html
    assert 'id="lost-phone"' in html  # the other ways on are still offered
    assert len(read_otps(settings)) == 2


# --- OTP: expiry and single use --------------------------------------------------------


@config(otp={"ttl": 30})
def test_expired_otp_refused(flow, make_account, browser, settings, app, provider):
    _, person = make_account()
    tx = to_otp_step(flow, person)
    code = last_otp(settings)
    assert "hiệu lực 30 giây" in read_otps(settings)[-1]["text"]
    age_otp(app, provider, tx, expired=True)
    response = post_otp(browser, tx, code)
    assert response.status_code == 400
    assert OTP_EXPIRED in response.get_data(as_text=True)
    assert browser.get_cookie("__Host-idp_session", domain="sso.test") is None


def test_otp_cannot_be_used_twice(flow, make_account, browser, settings):
    _, person = make_account()
    tx = to_otp_step(flow, person)
    code = last_otp(settings)
    page = browser.get("/login/otp", query_string={"tx": tx})
    form = {"csrf_token": csrf_from(page.get_data(as_text=True)), "tx": tx, "otp": code}
    first = browser.post("/login/otp", data=form)
    assert went_on(first, flow.portal), first.headers.get("Location")
    assert browser.get_cookie("__Host-idp_session", domain="sso.test") is not None
    second = browser.post("/login/otp", data=form)
    assert second.status_code != 303 and not went_on(second, flow.portal)


def test_otp_check_is_single_use_at_the_service_level(app, provider, make_account):
    """The same code submitted twice (even at once) passes only once."""
    from idp.otp.codes import LOGIN, Challenge, CheckOutcome, check_code, send_code

    _, person = make_account()
    with app.test_request_context("/"):
        send_code(Challenge("tx-replay", LOGIN, ip="127.0.0.1"), person.phone)
    code = last_otp(provider.settings)
    outcomes = []
    barrier = threading.Barrier(4)

    def submit():
        with app.app_context():
            barrier.wait()
            outcomes.append(check_code("tx-replay", code).outcome)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes.count(CheckOutcome.OK) == 1
    assert len(outcomes) == 4
    with app.app_context():
        assert check_code("tx-replay", code).outcome is not CheckOutcome.OK


# --- OTP: where codes go ---------------------------------------------------------------


def test_otp_goes_only_to_phones_of_the_account(
    flow, make_account, browser, settings, app, provider
):
    extra = "+84987654321"
    account_id, person = make_account(make_person(1), extra_phones=[extra])
    other_id, other = make_account(make_person(2))
    with provider.db.sessions() as session:
        foreign = session.scalar(select(OtpPhone).where(OtpPhone.account_id == other_id))
        mine = session.scalar(select(OtpPhone).where(OtpPhone.account_id == account_id,
                                                     OtpPhone.phone_is(extra)))
        foreign_id, mine_id = foreign.id, mine.id
    tx = to_otp_step(flow, person)
    assert read_otps(settings)[-1]["to"] == person.phone

    # Another account's phone id: the code goes to this account's default phone instead.
    age_otp(app, provider, tx)
    assert resend(browser, tx, foreign_id).status_code == 303
    assert read_otps(settings)[-1]["to"] == person.phone
    # The account's own second phone, offered on the page, is honoured.
    page = browser.get("/login/otp", query_string={"tx": tx}).get_data(as_text=True)
    assert f'name="phone_id" value="{mine_id}"' in page
    assert f'name="phone_id" value="{foreign_id}"' not in page
    # No wait for another phone of the account: its code goes out at once.
    assert resend(browser, tx, mine_id).status_code == 303
    assert read_otps(settings)[-1]["to"] == extra
    assert all(message["to"] != other.phone for message in read_otps(settings))
    assert post_otp(browser, tx, last_otp(settings, extra)).status_code == 303


@config(limits={**QUICK_RESEND, "sms.login.phone": "2 per hour"})
def test_sms_per_phone_cap(flow, make_account, browser, settings, app, provider):
    _, person = make_account()
    tx = to_otp_step(flow, person)
    age_otp(app, provider, tx)
    assert resend(browser, tx).status_code == 303
    age_otp(app, provider, tx)
    response = resend(browser, tx)
    assert response.status_code == 429
    assert PHONE_LIMIT in response.get_data(as_text=True)
    assert len(read_otps(settings)) == 2

    # A new login does not get around the cap (it is per phone), but it is no dead end
    # either: the code page comes, says why no SMS went out, and offers the other ways.
    location, new_tx = start(flow)
    response = flow.submit_password(location, person.cccd, person.password)
    assert response.status_code == 303 and "/login/otp" in response.headers["Location"]
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert PHONE_LIMIT in page and 'id="lost-phone"' in page
    assert len(read_otps(settings)) == 2
    refused = [row for row in audit_rows(provider)
               if row.event == "otp.send" and row.result == "refused"]
    assert refused and refused[-1].detail["reason"] == "sms.login.phone"


def test_otp_never_in_audit_or_html(flow, make_account, browser, settings, provider):
    _, person = make_account()
    tx = to_otp_step(flow, person)
    code = last_otp(settings)
    page = browser.get("/login/otp", query_string={"tx": tx}).get_data(as_text=True)
    assert code not in page
    assert person.phone not in page  # the phone number is masked
    wrong = post_otp(browser, tx, wrong_code(code)).get_data(as_text=True)
    assert code not in wrong and wrong_code(code) not in wrong
    done = post_otp(browser, tx, code)
    assert done.status_code == 303
    rows = audit_rows(provider)
    assert {row.event for row in rows} >= {"otp.send", "login.otp", "login.password"}
    for row in rows:
        text = repr((row.event, row.result, row.actor, row.detail, row.user_agent))
        assert code not in text
        assert wrong_code(code) not in text
        assert person.password not in text
        assert person.cccd not in text


# --- password step ---------------------------------------------------------------------


def _set_status(provider, account_id: int, status: str) -> None:
    with provider.db.begin() as session:
        session.get(Account, account_id).status = status


@config(login={"captcha_after_failures": 100, "delay_after_failures": 50},
        limits={"login.failures.cccd": "100 per hour"})
def test_unknown_cccd_wrong_password_and_locked_account_answer_alike(
    flow, make_account, provider
):
    _, person = make_account(make_person(1))
    locked_id, locked = make_account(make_person(2))
    _set_status(provider, locked_id, "locked")
    answers = []
    for cccd, password in [
        ("001085999999", person.password),  # no such account
        (person.cccd, WRONG_PASSWORD),  # wrong password
        (locked.cccd, locked.password),  # right password, account locked
    ]:
        location, _ = start(flow)
        response = flow.submit_password(location, cccd, password)
        html = response.get_data(as_text=True)
        error = re.search(r'id="error">(?:<a [^>]*>)?([^<]*)<', html).group(1)
        answers.append((response.status_code, error))
    assert answers[0][0] == 401
    assert REJECTED in answers[0][1]
    assert answers[0] == answers[1] == answers[2]


@config(passwords={"memory_kib": 32768, "time_cost": 2},
        login={"captcha_after_failures": 100, "delay_after_failures": 50},
        limits={"login.failures.cccd": "100 per hour"})
def test_unknown_cccd_costs_a_password_hash(flow, make_account, browser):
    """An unknown CCCD takes about as long as a wrong password (it runs argon2id too)."""
    _, person = make_account()
    location, _ = start(flow)

    def timed(cccd: str, password: str) -> float:
        page = browser.get(location)
        data = {"csrf_token": csrf_from(page.get_data(as_text=True)),
                "tx": query(location)["tx"], "cccd": cccd, "password": password}
        began = time.perf_counter()
        response = browser.post("/login", data=data)
        elapsed = time.perf_counter() - began
        assert response.status_code == 401
        return elapsed

    timed("001085777777", WRONG_PASSWORD)  # warm-up
    unknown_times, wrong_times = [], []
    for _ in range(5):  # interleaved, so a busy machine slows both alike
        unknown_times.append(timed("001085777777", WRONG_PASSWORD))
        wrong_times.append(timed(person.cccd, WRONG_PASSWORD))
    unknown, wrong = statistics.median(unknown_times), statistics.median(wrong_times)
    # With m=32 MiB, t=2 a hash costs tens of milliseconds; skipping it would show.
    assert wrong / 3 < unknown < wrong * 3, (unknown, wrong)


@config(login={"delay_after_failures": 10, "captcha_after_failures": 100},
        limits={"login.failures.cccd": "3 per hour"})
def test_pause_refuses_even_the_right_password_and_says_until_when(
        flow, make_account, provider, settings):
    _, person = make_account(make_person(1))
    _, bystander = make_account(make_person(2))
    location, _ = start(flow)
    for _ in range(3):
        assert flow.submit_password(location, person.cccd, WRONG_PASSWORD).status_code == 401
    response = flow.submit_password(location, person.cccd, person.password)
    html = response.get_data(as_text=True)
    # Honest: the pause, until when, and what to do; nothing about the password.
    assert response.status_code == 429
    assert PAUSED in html and REJECTED not in html
    assert re.search(r"tạm dừng đến \d\d:\d\d", html)
    assert 'id="paused-forgot"' in html and "bộ phận một cửa" in html
    assert read_otps(settings) == []
    rows = [row for row in audit_rows(provider) if row.event == "login.password"]
    assert rows[-1].result == "refused" and rows[-1].detail["reason"] == "paused"
    # A wrong password gets exactly the same answer.
    wrong = flow.submit_password(location, person.cccd, WRONG_PASSWORD)
    assert wrong.status_code == 429 and PAUSED in wrong.get_data(as_text=True)
    # The pause is per CCCD: someone else still logs in from the same browser.
    response = flow.submit_password(location, bystander.cccd, bystander.password)
    assert response.status_code == 303


@config(login={"delay_after_failures": 2, "captcha_after_failures": 100})
def test_growing_wait_says_how_many_seconds(flow, make_account, app, provider):
    _, person = make_account()
    location, _ = start(flow)
    for _ in range(2):
        assert flow.submit_password(location, person.cccd, WRONG_PASSWORD).status_code == 401
    response = flow.submit_password(location, person.cccd, person.password)
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert re.search(r"vui lòng chờ \d+ giây", html) and REJECTED not in html
    assert 'data-wait="1"' in html  # the button counts down
    time.sleep(1.1)
    assert flow.submit_password(location, person.cccd, person.password).status_code == 303


@config(login={"captcha_after_failures": 2, "delay_after_failures": 10})
def test_captcha_after_failures(flow, make_account, browser, app, provider, settings):
    _, person = make_account()
    location, _ = start(flow)
    first = flow.submit_password(location, person.cccd, WRONG_PASSWORD)
    assert captcha_id_in(first.get_data(as_text=True)) is None
    second = flow.submit_password(location, person.cccd, WRONG_PASSWORD)
    captcha_id = captcha_id_in(second.get_data(as_text=True))
    assert captcha_id, "a captcha is shown after two failures"

    image = browser.get(f"/captcha/{captcha_id}.png")
    assert image.status_code == 200
    assert image.mimetype == "image/png"
    assert image.data.startswith(b"\x89PNG\r\n\x1a\n")
    sound = browser.get(f"/captcha/{captcha_id}.wav")
    assert sound.status_code == 200 and sound.mimetype == "audio/wav"
    assert sound.data.startswith(b"RIFF") and len(sound.data) > 8000  # over a second of speech
    assert browser.get("/captcha/not-a-captcha.png").status_code == 404
    assert browser.get("/captcha/not-a-captcha.wav").status_code == 404

    # Without a captcha, even the right password is not checked (nothing is counted).
    response = flow.submit_password(location, person.cccd, person.password)
    assert response.status_code == 400
    assert CAPTCHA_ASKED in response.get_data(as_text=True)

    # A wrong answer is refused and uses the captcha up.
    captcha_id = captcha_id_in(response.get_data(as_text=True))
    response = password_post(browser, location, person.cccd, person.password,
                             captcha_id=captcha_id, captcha="000000x")
    assert response.status_code == 400
    assert CAPTCHA_WRONG in response.get_data(as_text=True)
    assert browser.get(f"/captcha/{captcha_id}.png").status_code == 404

    # "Đổi mã khác" without a script: a new captcha, the CCCD kept, nothing checked.
    captcha_id = captcha_id_in(response.get_data(as_text=True))
    refreshed = password_post(browser, location, person.cccd, "", captcha_refresh="1")
    assert refreshed.status_code == 200
    html = refreshed.get_data(as_text=True)
    assert captcha_id_in(html) not in (None, captcha_id)
    assert f'value="{person.cccd}"' in html

    # The right answer with a wrong password: the captcha is spent.
    captcha_id = captcha_id_in(html)
    with app.app_context():
        answer = provider.state.get(f"captcha:{captcha_id}")["answer"]
    assert answer.isdigit() and len(answer) == 6
    response = password_post(browser, location, person.cccd, WRONG_PASSWORD,
                             captcha_id=captcha_id, captcha=answer)
    assert response.status_code == 401
    # ... so it cannot be replayed, even with the right password.
    response = password_post(browser, location, person.cccd, person.password,
                             captcha_id=captcha_id, captcha=answer)
    assert response.status_code == 400
    assert CAPTCHA_WRONG in response.get_data(as_text=True)

    # A fresh captcha answered right, with the right password: in.
    captcha_id = captcha_id_in(response.get_data(as_text=True))
    with app.app_context():
        answer = provider.state.get(f"captcha:{captcha_id}")["answer"]
    response = password_post(browser, location, person.cccd, person.password,
                             captcha_id=captcha_id, captcha=" ".join(answer))
    assert response.status_code == 303
    assert "/login/otp" in response.headers["Location"]
    assert len(read_otps(settings)) == 1


def test_post_login_without_csrf_token_refused(flow, make_account, browser, settings):
    _, person = make_account()
    location, tx = start(flow)
    browser.get(location)
    response = browser.post("/login", data={"tx": tx, "cccd": person.cccd,
                                            "password": person.password})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Phiên làm việc trên biểu mẫu đã hết hạn hoặc không hợp lệ" in html
    assert response.mimetype == "text/html"
    assert read_otps(settings) == []


def test_post_otp_with_a_forged_csrf_token_refused(flow, make_account, browser, settings):
    _, person = make_account()
    tx = to_otp_step(flow, person)
    response = browser.post("/login/otp", data={"tx": tx, "otp": last_otp(settings),
                                                 "csrf_token": "forged"})
    assert response.status_code == 400
    assert "Phiên làm việc trên biểu mẫu" in response.get_data(as_text=True)
