"""Nobody can lock a citizen out, and no honest user is left at a dead end (DESIGN §7).

Each scenario is an attack, or a failure, that a stranger with public data (a CCCD, a
phone number) or an outside system can cause, followed by the owner getting in. Every
test runs on both backends (SQLite + SQL state, PostgreSQL + Redis).
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

from connectors.simulators.fixtures import load_fixtures
from tests.conftest import (
    Flow,
    config,
    csrf_from,
    last_otp,
    make_person,
    query,
    read_otps,
)

WRONG_PASSWORD = "Sai-Mat-Khau#2024-xyz"
NEW_PASSWORD = "Cay-Tre#Lang-Que-8362"
REG_PASSWORD = "Gio-Mua#Thu-Sang-4719"
FIXTURES = load_fixtures()


def captcha_id_in(html: str) -> str | None:
    match = re.search(r'name="captcha_id" value="([^"]+)"', html)
    return match.group(1) if match else None


def stranger(app, address: str):
    """Another browser, at another network address (a fresh client has no cookies)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def solve(app, provider, captcha_id: str) -> str:
    """A perfect captcha solver: the strongest stranger there is."""
    with app.app_context():
        return provider.state.get(f"captcha:{captcha_id}")["answer"]


def try_password(app, provider, client, portal, cccd: str, password: str):
    """One login try from `client`, solving a captcha when one is asked for."""
    response, *_ = Flow(client, provider.settings, portal).authorize(prompt="login")
    location = response.headers["Location"]
    html = client.get(location).get_data(as_text=True)
    data = {"csrf_token": csrf_from(html), "tx": query(location)["tx"], "cccd": cccd,
            "password": password}
    if captcha_id := captcha_id_in(html):
        data.update(captcha_id=captcha_id, captcha=solve(app, provider, captcha_id))
    response = client.post("/login", data=data)
    html = response.get_data(as_text=True)
    if response.status_code == 400 and (captcha_id := captcha_id_in(html)):
        data.update(captcha_id=captcha_id, captcha=solve(app, provider, captcha_id),
                    csrf_token=csrf_from(html))
        response = client.post("/login", data=data)
    return response


def session_alive(flow) -> bool:
    response, *_ = flow.authorize(prompt="none")
    return "code" in query(response.headers["Location"])


# --- a stranger's failures -----------------------------------------------------------------


# No growing wait, so only the pause stops the stranger (the strongest case for the owner).
@config(login={"delay_after_failures": 100})
def test_fifty_stranger_failures_never_stop_the_owner_in_a_browser_used_before(
        flow, make_account, app, provider, settings):
    _, person = make_account()
    flow.login(person)  # the owner's own browser: from now on a known one
    answers = Counter()
    for attempt in range(50):  # five browsers at five addresses, ten tries each
        client = stranger(app, f"203.0.113.{attempt % 5 + 10}")
        answers[try_password(app, provider, client, flow.portal, person.cccd,
                             WRONG_PASSWORD).status_code] += 1
    # Ten failures counted, then every unknown browser is told logins are paused.
    assert answers == {401: 10, 429: 40}

    # The owner, at once, from the browser used before: no captcha, no wait, no pause.
    page_before = flow.browser.get(flow.authorize(prompt="login")[0].headers["Location"])
    assert captcha_id_in(page_before.get_data(as_text=True)) is None
    auth = flow.login(person, prompt="login")
    assert "code" in auth.params

    # A browser the owner never used is paused too, and told so honestly, with ways on.
    fresh = stranger(app, "198.51.100.7")
    response = try_password(app, provider, fresh, flow.portal, person.cccd, person.password)
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert re.search(r"tạm dừng đến \d\d:\d\d", html)
    assert "trình duyệt hoặc thiết bị bạn đã từng đăng nhập" in html
    assert "sai mật khẩu" not in html.lower() and "không đúng" not in html


def test_a_known_browsers_own_failures_pause_only_itself(flow, make_account, app, provider):
    _, person = make_account()
    flow.login(person)
    owner_browser = flow.browser
    for _ in range(provider.limits.amount("login.failures.device")):
        # The known browser meets no captcha, but its wrong passwords count on its own...
        response = try_password(app, provider, owner_browser, flow.portal, person.cccd,
                                WRONG_PASSWORD)
        assert response.status_code == 401
    with app.app_context():
        from idp.login.throttle import CITIZENS

        assert CITIZENS.failures_counted(person.cccd) == 0  # ...never on the CCCD's
    # ...and once they are spent it is treated like any unknown browser: its next failure
    # counts on the CCCD.
    response = try_password(app, provider, owner_browser, flow.portal, person.cccd,
                            WRONG_PASSWORD)
    assert response.status_code == 401
    with app.app_context():
        assert CITIZENS.failures_counted(person.cccd) == 1


# --- codes a stranger can trigger ----------------------------------------------------------


def test_thirty_resets_and_registrations_never_cost_the_owner_a_login_code(
        flow, make_account, app, provider, settings):
    fixture = FIXTURES.one("carrier: full match")
    person = make_person(cccd=fixture.cccd, full_name=fixture.full_name,
                         birthdate=fixture.birthdate.isoformat(), gender=fixture.gender,
                         phone=fixture.phone)
    make_account(person)
    for n in range(15):  # registrations with the owner's public data, from 15 places
        client = stranger(app, f"203.0.113.{n + 40}")
        html = client.get("/register/mobile").get_data(as_text=True)
        captcha_id = captcha_id_in(html)
        client.post("/register/mobile", data={
            "csrf_token": csrf_from(html), "captcha_id": captcha_id,
            "captcha": solve(app, provider, captcha_id), **fixture.form()})
    for n in range(15):  # forgot-password requests for the owner's CCCD
        client = stranger(app, f"203.0.113.{n + 80}")
        html = client.get("/forgot").get_data(as_text=True)
        captcha_id = captcha_id_in(html)
        response = client.post("/forgot", data={
            "csrf_token": csrf_from(html), "captcha_id": captcha_id,
            "captcha": solve(app, provider, captcha_id), "cccd": person.cccd})
        assert response.status_code == 303  # the same answer every time
    strangers_codes = [m for m in read_otps(settings) if m["to"] == person.phone]
    assert len(strangers_codes) == 3 + 3  # a few per hour whoever asks (register, reset)

    # The owner's login has its own count: the code comes at once and the login completes.
    auth = flow.login(person)
    assert "code" in auth.params
    login_codes = [m for m in read_otps(settings)
                   if m["to"] == person.phone and "(OTP) đăng nhập" in m["text"]]
    assert len(login_codes) == 1


# --- the captcha, before the first submit ----------------------------------------------------


@config(limits={"login.failures.address": "3 per hour"})
def test_captcha_is_on_the_page_before_the_first_try_at_a_busy_address(
        flow, make_account, app, provider):
    for n in range(3):  # three failures from one office address, for three CCCDs
        client = stranger(app, "192.0.2.50")
        try_password(app, provider, client, flow.portal, make_person(n + 5).cccd,
                     WRONG_PASSWORD)
    newcomer = stranger(app, "192.0.2.50")
    response, *_ = Flow(newcomer, provider.settings, flow.portal).authorize()
    html = newcomer.get(response.headers["Location"]).get_data(as_text=True)
    captcha_id = captcha_id_in(html)
    assert captcha_id and 'id="captcha-block" hidden' not in html
    assert newcomer.get(f"/captcha/{captcha_id}.png").status_code == 200
    assert newcomer.get(f"/captcha/{captcha_id}.wav").status_code == 200
    # Elsewhere the same page asks nothing.
    elsewhere = stranger(app, "192.0.2.51")
    response, *_ = Flow(elsewhere, provider.settings, flow.portal).authorize()
    assert captcha_id_in(elsewhere.get(response.headers["Location"]).get_data(as_text=True)) \
        is None


def test_captcha_is_announced_once_the_cccd_is_typed(flow, make_account, app, provider):
    _, person = make_account()
    flow.login(person)  # the owner's browser is a known one
    attacker = stranger(app, "203.0.113.99")
    for _ in range(provider.settings.login.captcha_after_failures):
        try_password(app, provider, attacker, flow.portal, person.cccd, WRONG_PASSWORD)

    newcomer = stranger(app, "198.51.100.20")
    response, *_ = Flow(newcomer, provider.settings, flow.portal).authorize()
    location = response.headers["Location"]
    tx = query(location)["tx"]
    html = newcomer.get(location).get_data(as_text=True)
    assert 'id="captcha-block" hidden' in html  # not known yet which CCCD will be typed
    answer = newcomer.get("/login/check", query_string={"tx": tx, "cccd": person.cccd}).get_json()
    assert answer["captcha"]["image"].startswith("/captcha/")
    assert newcomer.get(answer["captcha"]["audio"]).status_code == 200
    other = newcomer.get("/login/check", query_string={"tx": tx, "cccd": "001085000777"})
    assert other.get_json() == {"captcha": None}
    # A portal that names the citizen (login_hint) gets the captcha in the page itself.
    response, *_ = Flow(newcomer, provider.settings, flow.portal).authorize(
        login_hint=person.cccd)
    html = newcomer.get(response.headers["Location"]).get_data(as_text=True)
    assert captcha_id_in(html) and 'id="captcha-block" hidden' not in html
    # The owner's known browser is never asked.
    response, *_ = flow.authorize(prompt="login")
    mine = query(response.headers["Location"])["tx"]
    assert flow.browser.get("/login/check", query_string={"tx": mine, "cccd": person.cccd}
                            ).get_json() == {"captcha": None}
    # Only a live login of this browser may ask.
    assert newcomer.get("/login/check", query_string={"tx": "nope", "cccd": person.cccd}
                        ).status_code == 400


# --- logout with someone else's ID token -------------------------------------------------------


def id_token_of(flow, person) -> str:
    auth = flow.login(person)
    return flow.exchange(auth).get_json()["id_token"]


def test_a_foreign_id_token_hint_only_asks_and_ends_nothing(
        flow, make_account, app, settings, browser):
    _, a = make_account(make_person(1))
    _, b = make_account(make_person(2))
    id_token_of(flow, a)
    b_flow = Flow(app.test_client(), settings, flow.portal)
    b_token = id_token_of(b_flow, b)

    page = browser.get("/logout", query_string={
        "id_token_hint": b_token, "post_logout_redirect_uri": flow.portal.post_logout_uri})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="confirm"' in html
    assert session_alive(flow) and session_alive(b_flow)  # nothing ended

    confirmed = browser.post("/logout", data={
        "csrf_token": csrf_from(html), "confirm": "yes", "id_token_hint": b_token,
        "post_logout_redirect_uri": flow.portal.post_logout_uri})
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == flow.portal.post_logout_uri
    assert not session_alive(flow)  # this browser's own session, confirmed by its owner
    assert session_alive(b_flow)  # never the hint's


def test_an_id_token_of_an_earlier_session_asks_first(flow, make_account, browser):
    _, person = make_account()
    old = id_token_of(flow, person)
    assert browser.get("/logout", query_string={"id_token_hint": old}).status_code == 200
    html = browser.get("/logout").get_data(as_text=True)
    browser.post("/logout", data={"csrf_token": csrf_from(html), "confirm": "yes"})
    assert not session_alive(flow)
    fresh = id_token_of(flow, person)  # a new session, a new sid
    page = browser.get("/logout", query_string={"id_token_hint": old})
    assert page.status_code == 200 and 'id="confirm"' in page.get_data(as_text=True)
    assert session_alive(flow)
    # The token of this very session logs out at once.
    assert browser.get("/logout", query_string={"id_token_hint": fresh}).status_code == 200
    assert not session_alive(flow)


def test_a_hint_in_a_browser_without_session_asks(flow, make_account, app, settings):
    _, person = make_account()
    token = id_token_of(flow, person)
    elsewhere = app.test_client()
    page = elsewhere.get("/logout", query_string={"id_token_hint": token})
    assert page.status_code == 200
    assert "không đăng nhập tài khoản định danh nào" in page.get_data(as_text=True)
    assert session_alive(flow)


# --- no dead ends: registration and reset lead back to the portal ----------------------------


def finish_login(flow, location: str, person):
    """From the login page the flow was sent back to: password, code, consent, portal."""
    tx = query(location)["tx"]
    html = flow.browser.get(location).get_data(as_text=True)
    assert f'value="{person.cccd}"' in html  # the CCCD just registered or reset
    response = flow.submit_password(location, person.cccd, person.password)
    assert response.status_code == 303, response.get_data(as_text=True)
    response = flow.submit_otp(tx, last_otp(flow.settings))
    response = flow.consent(response.headers["Location"])
    return response.headers["Location"]


def test_registration_ends_back_at_the_portal_that_started_the_login(flow, app, provider):
    fixture = FIXTURES.one("carrier: full match")
    response, _, state, _ = flow.authorize()
    login = response.headers["Location"]
    html = flow.browser.get(login).get_data(as_text=True)
    register_link = re.search(r'href="(/register\?tx=[^"]+)"', html).group(1)
    assert flow.browser.get(register_link).status_code == 200
    html = flow.browser.get("/register/mobile").get_data(as_text=True)
    captcha_id = captcha_id_in(html)
    response = flow.browser.post("/register/mobile", data={
        "csrf_token": csrf_from(html), "captcha_id": captcha_id,
        "captcha": solve(app, provider, captcha_id), **fixture.form()})
    registration = query(response.headers["Location"])["r"]
    html = flow.browser.get(response.headers["Location"]).get_data(as_text=True)
    response = flow.browser.post("/register/otp", data={
        "csrf_token": csrf_from(html), "r": registration,
        "otp": last_otp(flow.settings, fixture.phone)})
    html = flow.browser.get(response.headers["Location"]).get_data(as_text=True)
    done = flow.browser.post("/register/password", data={
        "csrf_token": csrf_from(html), "r": registration, "password": REG_PASSWORD,
        "confirm": REG_PASSWORD}).get_data(as_text=True)
    assert "Đăng ký thành công" in done
    again = re.search(r'<a href="([^"]+)" class="primary">Đăng nhập</a>', done).group(1)
    assert again == login
    assert f'href="/login/cancel?tx={query(login)["tx"]}"' in done  # or back to the portal
    person = make_person(cccd=fixture.cccd, password=REG_PASSWORD)
    back = finish_login(flow, again, person)
    assert back.startswith(flow.portal.redirect_uri)
    assert query(back)["state"] == state and "code" in query(back)


def test_password_reset_ends_back_at_the_portal_that_started_the_login(flow, make_account):
    _, person = make_account()
    response, _, state, _ = flow.authorize()
    login = response.headers["Location"]
    html = flow.browser.get(login).get_data(as_text=True)
    forgot_link = re.search(r'href="(/forgot\?tx=[^"]+)"', html).group(1)
    html = flow.browser.get(forgot_link).get_data(as_text=True)
    captcha_id = captcha_id_in(html)
    with flow.browser.application.app_context():
        provider = flow.browser.application.extensions["idp.provider"]
        answer = provider.state.get(f"captcha:{captcha_id}")["answer"]
    response = flow.browser.post("/forgot", data={
        "csrf_token": csrf_from(html), "captcha_id": captcha_id, "captcha": answer,
        "cccd": person.cccd})
    reset = query(response.headers["Location"])["f"]
    html = flow.browser.get(response.headers["Location"]).get_data(as_text=True)
    response = flow.browser.post("/forgot/otp", data={
        "csrf_token": csrf_from(html), "f": reset, "otp": last_otp(flow.settings)})
    html = flow.browser.get(response.headers["Location"]).get_data(as_text=True)
    # The current password is not a new one.
    same = flow.browser.post("/forgot/password", data={
        "csrf_token": csrf_from(html), "f": reset, "password": person.password,
        "confirm": person.password})
    assert same.status_code == 400 and "phải khác mật khẩu đang dùng" in same.get_data(
        as_text=True)
    done = flow.browser.post("/forgot/password", data={
        "csrf_token": csrf_from(html), "f": reset, "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD}).get_data(as_text=True)
    assert "Đã đặt lại mật khẩu" in done
    again = re.search(r'<a href="([^"]+)" class="primary">Đăng nhập</a>', done).group(1)
    assert again == login
    person.password = NEW_PASSWORD
    back = finish_login(flow, again, person)
    assert query(back)["state"] == state and "code" in query(back)
    assert urlsplit(back).path == urlsplit(flow.portal.redirect_uri).path
