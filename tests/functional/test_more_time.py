"""More time before a login or a password reset runs out (WCAG 2.2.1), on both backends.

The page carries its deadline and where to ask for more (base.html, deadline.js); each ask
restarts the record's clock while "time.extensions" allows, and what was typed stays
because the page is never left. Once the limit is spent the answer says so and the
deadline stays where it was; the login or reset itself still goes on.
"""

from __future__ import annotations

import html as markup
import re

from tests.conftest import csrf_from, query
from tests.functional.test_forgot_password import Reset

EXTENDED = "Đã gia hạn"
NO_MORE = "Không thể gia hạn thêm"


def deadline_of(page_html: str) -> tuple[int, str]:
    """The page's deadline (epoch seconds) and the address that gives more time."""
    expires = int(re.search(r'data-expires="(\d+)"', page_html).group(1))
    extend = markup.unescape(re.search(r'data-extend="([^"]+)"', page_html).group(1))
    return expires, extend


def ask_more_time(client, extend: str, page_html: str):
    """What deadline.js does: a POST with the page's CSRF token in a header."""
    return client.post(extend, headers={"X-CSRFToken": csrf_from(page_html)})


def test_a_login_gets_more_time_twice_then_is_told_no_more(flow, make_account, browser):
    _, person = make_account()
    response, *_ = flow.authorize()
    location = response.headers["Location"]
    page = browser.get(location).get_data(as_text=True)
    expires, extend = deadline_of(page)
    assert extend.startswith("/login/extend") and query(extend)["tx"] == query(location)["tx"]

    for _ in range(2):
        answer = ask_more_time(browser, extend, page)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert EXTENDED in answer.get_json()["message"]
        assert answer.get_json()["expires"] >= expires
    refused = ask_more_time(browser, extend, page)
    assert refused.status_code == 409 and NO_MORE in refused.get_json()["error"]

    # The login goes on where it was.
    response = flow.submit_password(location, person.cccd, person.password)
    assert response.status_code == 303 and "/login/otp" in response.headers["Location"]


def test_more_time_needs_the_pages_csrf_token_and_a_live_login(flow, browser):
    response, *_ = flow.authorize()
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    _, extend = deadline_of(page)
    assert browser.post(extend).status_code == 400  # no CSRF token: refused
    gone = ask_more_time(browser, "/login/extend?tx=nothing-like-it", page)
    assert gone.status_code in (400, 404) and EXTENDED not in gone.get_data(as_text=True)


def test_a_password_reset_gets_more_time(make_account, app, provider, settings):
    _, person = make_account()
    reset = Reset(app.test_client(), app, provider, settings)
    started = reset.start(person.cccd)
    reset_id = query(started.headers["Location"])["f"]
    page = reset.otp_page(reset_id).get_data(as_text=True)
    expires, extend = deadline_of(page)
    assert extend.startswith("/forgot/extend")

    answer = ask_more_time(reset.client, extend, page)
    assert answer.status_code == 200 and answer.get_json()["expires"] >= expires
    # Still the same reset: its code page answers.
    assert reset.otp_page(reset_id).status_code == 200
