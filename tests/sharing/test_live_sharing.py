"""QR-code sharing end to end over real HTTP: the provider under gunicorn, the example
bank counter (examples/verifier.py) as its own process, Debian's Chromium for people,
and the package's ShareVerifier as a bank's code would call it."""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack

import pytest
import requests
import segno
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from idp import create_app
from idp.sharing.sdjwt import make_disclosure
from idp.sharing.verifier_client import ShareVerifier
from idp.store.models import Account
from tests.browser import chromium_browser  # noqa: F401 - pytest fixture
from tests.live import REPO, LiveProvider, free_port, wait_for

PASSWORD = "Song-Hong#Mua-Thu-2031"
CITIZEN = {"cccd": "001085012345", "full_name": "Nguyễn Văn An", "birthdate": "1985-03-15",
           "gender": "male", "phone": "0912345678", "email": "an@example.vn"}


class SharingProvider(LiveProvider):
    """A live provider whose status lists may not be cached (revocation shows at once)."""

    def _config_text(self) -> str:
        return super()._config_text() + "[sharing]\nstatus_list_ttl = 0\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("e2e-sharing")
    with ExitStack() as started:
        provider = SharingProvider(directory, workers=1, threads=4)
        started.callback(provider.stop)
        provider.start()
        provider.add_account(CITIZEN, PASSWORD)
        port = free_port()
        log = (directory / "verifier.log").open("w")
        bank = subprocess.Popen(  # noqa: S603 - our own example
            [sys.executable, str(REPO / "examples" / "verifier.py"), "--port", str(port),
             "--issuer", provider.issuer], stdout=log, stderr=subprocess.STDOUT)
        started.callback(lambda: (bank.terminate(), bank.wait(timeout=10)))
        bank_url = f"http://127.0.0.1:{port}"
        wait_for(bank_url + "/", process=bank, log=directory / "verifier.log")
        yield provider, bank_url


def _share(provider: LiveProvider, items: list[str], *, one_time: bool) -> str:
    """A share made through the service against the live provider's database; its URL."""
    from idp.sharing.services import ShareRequest, create_share, share_url

    app = create_app(provider.settings)
    with app.test_request_context():
        session = app.extensions["idp.provider"].db.session
        account = session.query(Account).filter(Account.cccd_is(CITIZEN["cccd"])).one()
        _, code = create_share(account, ShareRequest(items, None, 900, one_time))
        url = share_url(code)
    app.extensions["idp.provider"].db.engine.dispose()
    return url


def _revoke_all(provider: LiveProvider) -> None:
    from idp.sharing.services import live_shares, revoke_share

    app = create_app(provider.settings)
    with app.test_request_context():
        session = app.extensions["idp.provider"].db.session
        account = session.query(Account).filter(Account.cccd_is(CITIZEN["cccd"])).one()
        for share in live_shares(account.id):
            revoke_share(account.id, share.id)
    app.extensions["idp.provider"].db.engine.dispose()


def _items(page) -> list[tuple[str, str]]:
    rows = page.locator("#verified-items tr")
    return [tuple(rows.nth(i).locator("td").all_inner_texts()) for i in range(rows.count())]


def _no_sideways_scroll(page) -> None:
    page.set_viewport_size({"width": 320, "height": 640})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320, page.url
    page.set_viewport_size({"width": 1024, "height": 800})


@pytest.mark.browser
def test_citizen_shares_name_and_birth_date_clerk_sees_them_then_revoked(
        stack, chromium_browser, tmp_path):  # noqa: F811
    provider, _ = stack
    citizen = chromium_browser.new_context(locale="vi-VN").new_page()
    citizen.goto(provider.issuer + "/account/sharing")
    citizen.fill("#cccd", CITIZEN["cccd"])
    citizen.fill("#password", PASSWORD)
    citizen.click("#submit")
    citizen.fill("#otp", provider.last_otp())
    citizen.click("#verify")
    expect(citizen).to_have_url(provider.issuer + "/account/sharing")
    _no_sideways_scroll(citizen)

    # By keyboard alone: name, Tab, birth date, then "many times", then Enter.
    citizen.focus("#item-name")
    citizen.keyboard.press("Space")
    citizen.keyboard.press("Tab")
    citizen.keyboard.press("Space")
    citizen.focus("#use-once")
    citizen.keyboard.press("ArrowDown")
    citizen.focus("#create-share")
    citizen.keyboard.press("Enter")
    expect(citizen.locator("#share-qr")).to_be_visible()
    assert "Họ và tên, Ngày sinh" in citizen.locator("#share-qr").get_attribute("alt")
    assert citizen.locator("#revealed tr").count() == 2
    _no_sideways_scroll(citizen)
    qr_png = tmp_path / "qr.png"
    citizen.locator("#share-qr").screenshot(path=str(qr_png))
    url = citizen.locator("#share-url").inner_text()
    assert [code.text for code in zxingcpp.read_barcodes(Image.open(qr_png))] == [url]

    clerk = chromium_browser.new_context(locale="vi-VN").new_page()
    clerk.goto(provider.issuer + "/verify")
    _no_sideways_scroll(clerk)
    clerk.set_input_files("#image", str(qr_png))
    clerk.click("#verify")
    verdict = clerk.locator("#verdict")
    expect(verdict).to_have_attribute("data-status", "valid")
    assert verdict.inner_text().strip() == "Hợp lệ"
    assert _items(clerk) == [("Họ và tên", CITIZEN["full_name"]), ("Ngày sinh", "15/03/1985")]
    assert clerk.locator("#issuer").inner_text() == provider.issuer
    _no_sideways_scroll(clerk)

    citizen.click("#revoke")
    expect(citizen.locator("#done")).to_contain_text("Đã thu hồi mã QR")

    clerk.click("#recheck")  # the credential already read now shows revoked...
    expect(clerk.locator("#verdict")).to_have_attribute("data-status", "revoked")
    assert clerk.locator("#verdict").inner_text().strip() == "Đã bị thu hồi"
    assert _items(clerk) == []
    clerk.set_input_files("#image", str(qr_png))  # ...and so does the QR code itself
    clerk.click("#verify")
    expect(clerk.locator("#verdict")).to_have_attribute("data-status", "revoked")


@pytest.mark.browser
def test_bank_counter_reads_a_one_time_code_once(stack, chromium_browser, tmp_path):  # noqa: F811
    provider, bank_url = stack
    url = _share(provider, ["name", "cccd", "identity_assurance"], one_time=True)
    image = tmp_path / "code.png"
    segno.make(url, error="m").save(str(image), scale=6, border=4)
    counter = chromium_browser.new_context(locale="vi-VN").new_page()
    counter.goto(bank_url)
    counter.set_input_files("#image", str(image))
    counter.click("#verify")
    expect(counter.locator("#verdict")).to_have_attribute("data-status", "valid")
    assert [label for label, _ in _items(counter)] == [
        "Họ và tên", "Số định danh cá nhân (CCCD)", "Mức độ định danh và cách xác minh"]
    assert _items(counter)[1][1] == CITIZEN["cccd"]
    counter.set_input_files("#image", str(image))  # the same code again: refused
    counter.click("#verify")
    expect(counter.locator("#verdict")).to_have_attribute("data-status", "used")


def test_bank_function_verifies_offline_and_sees_revocation(stack):
    provider, _ = stack
    verifier = ShareVerifier(provider.issuer)
    url = _share(provider, ["name", "birthdate"], one_time=False)
    result = verifier.verify_qr(url)
    assert result.valid and result.claims == {"name": CITIZEN["full_name"],
                                              "birthdate": CITIZEN["birthdate"]}
    credential = requests.get(url, headers={"Accept": "application/dc+sd-jwt"},
                              timeout=5).text
    assert verifier.verify_credential(credential).valid
    added = credential + make_disclosure("cccd", CITIZEN["cccd"]) + "~"
    assert verifier.verify_credential(added).status == "tampered"
    other = ShareVerifier("http://127.0.0.1:9")  # trusts another issuer, which is down
    assert other.verify_qr(url).status == "untrusted_issuer"
    assert other.verify_credential(credential).status == "untrusted_issuer"

    _revoke_all(provider)
    assert verifier.verify_credential(credential).status == "revoked"  # from the status list
    assert verifier.verify_qr(url).status == "revoked"  # the URL refuses too
    cut_off = requests.Session()  # the issuer is unreachable: no keys, no verdict
    cut_off.proxies = {"http": "http://127.0.0.1:9", "https": "http://127.0.0.1:9"}
    unreachable = ShareVerifier(provider.issuer, session=cut_off)
    assert unreachable.verify_credential(credential).status == "unavailable"
    assert unreachable.verify_qr(url).status == "unavailable"
