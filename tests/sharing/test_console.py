"""The console page "Chia sẻ thông tin qua mã QR": the form and its errors, the QR page,
revocation, and the reads in the access history."""

from __future__ import annotations

import io
import re

import zxingcpp
from PIL import Image

from idp.sharing.items import claims_of, offered_items
from idp.store.models import Account
from tests.account.conftest import age_authentication, post_form
from tests.conftest import ISSUER, config, make_person, table_rows
from tests.sharing.conftest import console_login

FORM = "/account/sharing"


def _create(browser, **fields):
    values = {"items": ["name", "birthdate"], "note": "", "validity": "900", "use": "once"}
    values.update(fields)
    return post_form(browser, FORM, FORM, **values)


def test_logged_out_citizen_is_sent_to_log_in(browser):
    response = browser.get(FORM)
    assert response.status_code == 302 and "/login?" in response.headers["Location"]


def test_form_offers_the_citizens_items_partly_masked(browser, settings, citizen):
    _, person = citizen
    html = console_login(browser, settings, person, FORM).get_data(as_text=True)
    offered = re.findall(r'name="items" value="([a-z_]+)"', html)
    assert offered == ["name", "birthdate", "gender", "cccd", "phone_number", "email",
                       "identity_assurance"]
    assert "15/03/1985" in html and person.cccd not in html and "001*******00" in html
    assert 'id="nav-sharing"' in html
    assert "field-error" not in html and "aria-invalid" not in html  # no error before a try


def test_organisation_offers_its_tax_code_and_name_not_birth_data():
    company = Account(account_type="enterprise", full_name="Công ty TNHH Sông Hồng",
                      tax_code="0101234567", organization="Công ty TNHH Sông Hồng", ial=3,
                      verified_by="usb_token")
    assert [offer.claim for offer in offered_items(company)] == [
        "name", "identity_assurance", "tax_code", "organization_name"]
    assert claims_of(company, ["tax_code", "birthdate", "cccd"]) == {"tax_code": "0101234567"}


def test_form_errors_are_tied_to_their_fields(browser, settings, citizen):
    console_login(browser, settings, citizen[1], FORM)
    cases = [
        ({"items": []}, "items", "Hãy chọn ít nhất một thông tin"),
        ({"items": ["name", "tax_code"]}, "items", "Hãy chọn ít nhất một thông tin"),
        ({"note": "x" * 101}, "note", "Ghi chú dài tối đa 100 ký tự"),
        ({"validity": "7"}, "validity", "Hãy chọn thời hạn"),
        ({"validity": "999999999999"}, "validity", "Hãy chọn thời hạn"),
        ({"use": "sometimes"}, "use", "một lần hay nhiều lần"),
    ]
    for fields, field, message in cases:
        response = _create(browser, **fields)
        html = response.get_data(as_text=True)
        assert response.status_code == 400, fields
        assert f'id="{field}-error"' in html and message in html, fields
        assert 'id="error-summary"' in html and 'id="error">Chưa tạo được mã QR' in html, fields
        assert f'aria-describedby="{field}-error"' in html or \
            f'aria-describedby="note-hint {field}-error"' in html, fields
    assert "Bạn chưa có mã QR nào" in html  # nothing was made


def test_made_share_shows_a_qr_code_of_exactly_its_url(browser, settings, citizen):
    _, person = citizen
    console_login(browser, settings, person, FORM)
    response = _create(browser, note="Ngân hàng mở tài khoản", use="many", validity="3600")
    assert response.status_code == 303
    page = browser.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    url = re.search(r'id="share-url">([^<]+)<', html).group(1)
    assert re.fullmatch(re.escape(ISSUER) + r"/s/[A-Za-z0-9_-]{43}", url)
    revealed = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td></tr>", html)
    assert revealed == [("Họ và tên", person.full_name), ("Ngày sinh", "15/03/1985")]
    alt = re.search(r'id="share-qr"[^>]*alt="([^"]+)"', html, re.S).group(1)
    assert "Họ và tên, Ngày sinh" in alt and "dùng nhiều lần" in alt
    assert "Ngân hàng mở tài khoản" in html

    png = browser.get(response.headers["Location"] + "/qr.png")
    assert png.headers["Content-Type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))
    assert [code.text for code in decoded] == [url]

    listed = browser.get(FORM).get_data(as_text=True)
    assert "Ngân hàng mở tài khoản" in listed and "Dùng nhiều lần" in listed


def test_another_citizen_cannot_see_or_revoke_the_share(app, browser, other_browser, settings,
                                                        citizen, make_account, share_of):
    share_id, _ = share_of(citizen[0])
    _, stranger = make_account(make_person(1))
    console_login(other_browser, settings, stranger, FORM)
    assert other_browser.get(f"{FORM}/{share_id}").status_code == 404
    assert other_browser.get(f"{FORM}/{share_id}/qr.png").status_code == 404
    revoked = post_form(other_browser, FORM, f"{FORM}/revoke", share=str(share_id))
    assert revoked.status_code == 303 and "done" not in revoked.headers["Location"]
    console_login(browser, settings, citizen[1], FORM)
    assert browser.get(f"{FORM}/{share_id}").status_code == 200


def test_revoking_ends_the_share_and_reads_show_in_history(browser, settings, citizen,
                                                          share_of, read):
    _, person = citizen
    share_id, code = share_of(citizen[0], one_time=True)
    assert read(code, ip="198.51.100.20").credential
    assert read(code, ip="198.51.100.21").refused == "used"
    console_login(browser, settings, person, FORM)
    listed = browser.get(FORM).get_data(as_text=True)
    assert "1 lần" in listed and "198.51.100.20" in listed and "không đọc lại được" in listed

    history = browser.get("/account/history").get_data(as_text=True)
    rows = [(row[1], row[3], row[4], row[5]) for row in table_rows(history, "history")]
    reads = [row for row in rows if row[2] == "Người quét mã QR bạn chia sẻ"]
    assert reads == [
        ("198.51.100.21", "Đọc mã QR chia sẻ (Họ và tên, Ngày sinh) — mã dùng một lần đã được "
         "đọc", "Người quét mã QR bạn chia sẻ", "Thất bại"),
        ("198.51.100.20", "Đọc mã QR chia sẻ (Họ và tên, Ngày sinh)",
         "Người quét mã QR bạn chia sẻ", "Thành công"),
    ]

    response = post_form(browser, FORM, f"{FORM}/revoke", share=str(share_id))
    assert response.headers["Location"].endswith("done=share_revoked")
    after = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Đã thu hồi mã QR" in after and "Bạn chưa có mã QR nào" in after
    assert browser.get(f"{FORM}/{share_id}").status_code == 404
    assert read(code).refused == "revoked"


def test_making_a_share_needs_a_recent_login(app, browser, settings, citizen):
    console_login(browser, settings, citizen[1], FORM)
    age_authentication(app, browser, 3600)
    response = _create(browser)
    assert response.status_code == 200 and 'id="reauth"' in response.get_data(as_text=True)
    assert "Bạn chưa có mã QR nào" in browser.get(FORM).get_data(as_text=True)


def test_form_without_csrf_token_is_refused(browser, settings, citizen):
    console_login(browser, settings, citizen[1], FORM)
    response = browser.post(FORM, data={"items": ["name"], "validity": "900", "use": "once"})
    assert response.status_code == 400
    assert "Bạn chưa có mã QR nào" in browser.get(FORM).get_data(as_text=True)


@config(sharing={"max_live_shares": 2})
def test_live_shares_per_account_are_capped(browser, settings, citizen, share_of):
    share_of(citizen[0])
    share_of(citizen[0])
    console_login(browser, settings, citizen[1], FORM)
    response = _create(browser)
    assert response.status_code == 400
    assert "Bạn đang có 2 mã QR còn hiệu lực" in response.get_data(as_text=True)
