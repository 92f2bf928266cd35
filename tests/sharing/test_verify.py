"""What verifiers reach: the share URL, the verification API, the clerk's page, status
lists; bad input gets a clear answer, and each verifier address is rate limited."""

from __future__ import annotations

import io
import re

import segno
from PIL import Image
from sqlalchemy import select

from idp.store.models import AuditEvent
from tests.conftest import ISSUER, config, csrf_from

CREDENTIAL = {"Accept": "application/dc+sd-jwt"}


def _png(text: str) -> bytes:
    image = io.BytesIO()
    segno.make(text, error="m").save(image, kind="png", scale=5, border=4)
    return image.getvalue()


def _blank_png() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(image, "PNG")
    return image.getvalue()


def _clerk(browser, **fields):
    page = browser.get("/verify")
    data = {"csrf_token": csrf_from(page.get_data(as_text=True))}
    for name, value in fields.items():
        data[name] = (io.BytesIO(value), "qr.png") if isinstance(value, bytes) else value
    return browser.post("/verify", data=data, content_type="multipart/form-data")


def _verdict(html: str) -> str:
    return re.search(r'id="verdict" data-status="([a-z_]+)"', html).group(1)


def _items(html: str) -> list[tuple[str, str]]:
    table = re.search(r'id="verified-items">(.*?)</table>', html, re.S)
    return re.findall(r"<td>([^<]+)</td><td>([^<]+)</td>", table.group(1)) if table else []


def test_browser_opening_the_url_gets_a_page_that_reads_nothing(browser, citizen, share_of):
    _, code = share_of(citizen[0], one_time=True)
    page = browser.get(f"/s/{code}")
    assert page.status_code == 200 and 'id="open-share"' in page.get_data(as_text=True)
    # Still unread: the verifier's request gets it, once.
    assert browser.get(f"/s/{code}", headers=CREDENTIAL).status_code == 200
    again = browser.get(f"/s/{code}", headers=CREDENTIAL)
    assert again.status_code == 410 and again.get_json()["error"] == "share_used"
    unknown = browser.get("/s/" + "A" * 43, headers=CREDENTIAL)
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "share_not_found"
    assert browser.get("/s/short", headers=CREDENTIAL).status_code == 404
    malformed = browser.get("/s/short")  # a person: a Vietnamese page
    assert malformed.status_code == 404 and "không phải mã QR" in malformed.get_data(as_text=True)


def test_api_verifies_a_qr_url_or_a_credential(browser, citizen, share_of):
    account_id, person = citizen
    _, code = share_of(account_id, ("name", "birthdate"))
    result = browser.post("/share/verify", json={"qr": f"{ISSUER}/s/{code}"}).get_json()
    assert result["status"] == "valid" and result["status_text"] == "Hợp lệ"
    assert result["claims"] == {"name": person.full_name, "birthdate": person.birthdate}
    assert [item["label"] for item in result["items"]] == ["Họ và tên", "Ngày sinh"]
    assert result["issuer"] == ISSUER and result["expires_at"] > result["issued_at"]

    credential = browser.get(f"/s/{code}", headers=CREDENTIAL).get_data(as_text=True)
    again = browser.post("/share/verify", json={"credential": credential}).get_json()
    assert again["status"] == "valid"
    foreign = browser.post("/share/verify", json={"qr": "https://evil.test/s/" + "A" * 43})
    assert foreign.get_json()["status"] == "untrusted_issuer"
    assert browser.post("/share/verify", json={"qr": "hello"}).get_json()["status"] == "unreadable"


def test_api_refuses_bad_requests_with_oauth_style_errors(browser):
    bad = [{"data": "not json", "content_type": "application/json"},
           {"json": {}}, {"json": {"qr": ""}}, {"json": {"qr": 12}}, {"json": ["qr"]},
           {"json": {"qr": "a", "credential": "b"}}, {"json": {"qr": "x" * 20000}}]
    for request in bad:
        response = browser.post("/share/verify", **request)
        assert response.status_code == 400, request
        assert response.get_json()["error"] == "invalid_request", request
    wrong_method = browser.get("/share/verify")
    assert wrong_method.status_code == 405 and wrong_method.get_json()["error"]
    assert browser.get("/status-lists/0").status_code == 404
    assert browser.get("/status-lists/99999999").get_json()["error"] == "not_found"


@config(limits={"sharing.verifier.address": "3 per hour"})
def test_each_verifier_address_is_rate_limited(app, browser, citizen, share_of):
    _, code = share_of(citizen[0])
    for _ in range(3):
        assert browser.get(f"/s/{code}", headers=CREDENTIAL).status_code == 200
    refused = browser.get(f"/s/{code}", headers=CREDENTIAL)
    assert refused.status_code == 429 and refused.get_json()["error"] == "rate_limited"
    assert 3590 <= int(refused.headers["Retry-After"]) <= 3600  # until the window ends
    assert browser.post("/share/verify", json={"qr": "x"}).status_code == 429
    clerk = _clerk(browser, qr="x")
    assert clerk.status_code == 429
    assert re.search(r"thử lại\s+sau \d\d:\d\d", clerk.get_data(as_text=True))
    other = app.test_client()  # another verifier address
    answer = other.get(f"/s/{code}", headers=CREDENTIAL,
                       environ_base={"REMOTE_ADDR": "192.0.2.55"}, base_url=ISSUER)
    assert answer.status_code == 200
    with app.app_context():
        limited = app.extensions["idp.provider"].db.session.scalars(select(AuditEvent.event).where(
            AuditEvent.event == "share.verifier_limited")).all()
    assert limited == ["share.verifier_limited"]  # audited once per window, not per request


def test_clerk_page_reads_a_photo_of_the_qr_code_then_sees_it_revoked(
        app, browser, citizen, share_of):
    from idp.sharing.services import revoke_share

    account_id, person = citizen
    share_id, code = share_of(account_id, ("name", "birthdate"))
    page = browser.get("/verify").get_data(as_text=True)
    assert 'type="file" id="image" name="image" accept="image/*"' in page

    response = _clerk(browser, image=_png(f"{ISSUER}/s/{code}"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and _verdict(html) == "valid"
    assert _items(html) == [("Họ và tên", person.full_name), ("Ngày sinh", "15/03/1985")]
    credential = re.search(r'name="credential" value="([^"]+)"', html).group(1)

    with app.test_request_context():
        revoke_share(account_id, share_id)
    recheck = _clerk(browser, credential=credential).get_data(as_text=True)
    assert _verdict(recheck) == "revoked" and _items(recheck) == []
    rescan = _clerk(browser, image=_png(f"{ISSUER}/s/{code}")).get_data(as_text=True)
    assert _verdict(rescan) == "revoked" and "Đã bị thu hồi" in rescan


def test_clerk_page_explains_unusable_uploads(browser):
    cases = [({"image": _blank_png()}, "Không tìm thấy mã QR trong ảnh"),
             ({"image": b"%PDF-1.4 not an image"}, "không phải là ảnh"),
             ({}, "Hãy chọn ảnh chụp mã QR"),
             ({"qr": "y" * 17000}, "Nội dung mã quá dài")]
    for fields, message in cases:
        response = _clerk(browser, **fields)
        html = response.get_data(as_text=True)
        assert response.status_code == 400 and message in html, fields
        assert 'aria-invalid="true"' in html, fields
    # Not a share of ours: a verdict, not an error.
    foreign = _clerk(browser, image=_png("https://example.com/")).get_data(as_text=True)
    assert _verdict(foreign) == "untrusted_issuer"
    page = browser.get("/verify")
    without_token = browser.post("/verify", data={"qr": "x"},
                                 content_type="multipart/form-data")
    assert page.status_code == 200 and without_token.status_code == 400
    big = _clerk(browser, image=b"\0" * (13 * 1024 * 1024))
    assert big.status_code == 413 and "vượt quá giới hạn" in big.get_data(as_text=True)
