"""idp/account/history.py: how the console names the login method of a history row and of a
live session, and the device a login came from, in Vietnamese."""

from __future__ import annotations

from idp.account.history import METHODS, describe_amr, describe_device
from idp.interaction.methods import (
    PASSWORD_SMS,
    PASSWORD_SMS_RECOVERY,
    PASSWORD_TOTP,
    SIM_SIGNATURE,
    USB_TOKEN,
)

WINDOWS_EDGE = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                "Gecko) Chrome/120.0 Safari/537.36 Edg/120.0")
ANDROID_COC_COC = ("Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "coc_coc_browser/120.0 Chrome/120.0 Mobile Safari/537.36")


def test_a_session_is_named_by_the_strongest_factor_its_amr_shows():
    assert describe_amr(list(USB_TOKEN.amr)) == METHODS["usb_token"]
    assert describe_amr(list(PASSWORD_SMS.amr)) == METHODS["pwd+sms"]
    assert describe_amr(list(PASSWORD_TOTP.amr)) == METHODS["pwd+totp"]


def test_a_device_is_named_by_its_browser_and_system_the_most_specific_first():
    assert describe_device(WINDOWS_EDGE) == "Edge trên Windows"
    assert describe_device(ANDROID_COC_COC) == "Cốc Cốc trên Android"
    assert describe_device(None) == "Không xác định"


def test_every_login_method_has_words_in_the_access_history():
    for method in (PASSWORD_SMS, PASSWORD_SMS_RECOVERY, PASSWORD_TOTP, USB_TOKEN,
                   SIM_SIGNATURE):
        assert method.name in METHODS, method.name
        assert describe_amr(list(method.amr)) in METHODS.values(), method.name
