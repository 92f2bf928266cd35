"""idp/interaction/levels.py and idp/interaction/methods.py: what each login method proves
(its level and RFC 8176 amr), the acr a login gets, and which method a level starts at."""

from __future__ import annotations

from idp.interaction.levels import ACR_BY_LEVEL, level_of, login_acr
from idp.interaction.methods import (
    PASSWORD_SMS,
    PASSWORD_SMS_RECOVERY,
    PASSWORD_TOTP,
    SIM_SIGNATURE,
    USB_TOKEN,
    entry_for,
    works_here,
)

METHODS = (PASSWORD_SMS, PASSWORD_SMS_RECOVERY, PASSWORD_TOTP, USB_TOKEN, SIM_SIGNATURE)


def test_a_login_is_at_the_lower_of_the_accounts_ial_and_the_methods_level():
    assert login_acr(2, 2) == "urn:vn:sso:loa:2"
    assert login_acr(2, 3) == "urn:vn:sso:loa:2"  # a certificate login of a level-2 account
    assert login_acr(3, 2) == "urn:vn:sso:loa:2"  # a password login of a level-3 account
    assert login_acr(3, 3) == "urn:vn:sso:loa:3"


def test_acr_values_and_levels_translate_both_ways_and_unknown_ones_are_level_0():
    for level, acr in ACR_BY_LEVEL.items():
        assert level_of(acr) == level
    assert level_of("urn:other:loa:9") == 0
    assert level_of("") == 0


def test_every_method_is_multi_factor_and_names_are_unique():
    assert len({method.name for method in METHODS}) == len(METHODS)
    for method in METHODS:
        assert "mfa" in method.amr, method.name


def test_only_the_sms_methods_say_sms_and_only_the_app_method_says_otp_without_it():
    assert {m.name for m in METHODS if "sms" in m.amr} == {"pwd+sms", "pwd+sms:recovery"}
    assert {m.name for m in METHODS if "otp" in m.amr and "sms" not in m.amr} == {"pwd+totp"}


def test_a_recovery_login_proves_what_a_password_and_sms_login_proves():
    assert (PASSWORD_SMS_RECOVERY.level, PASSWORD_SMS_RECOVERY.amr) == (
        PASSWORD_SMS.level, PASSWORD_SMS.amr)
    assert PASSWORD_SMS_RECOVERY.name != PASSWORD_SMS.name  # the audit tells them apart


def test_level_3_is_reached_by_the_certificate_methods_only():
    assert {m.name for m in METHODS if m.level >= 3} == {"usb_token", "sim_signature"}
    for method in (USB_TOKEN, SIM_SIGNATURE):
        assert "sc" in method.amr and "pin" in method.amr and "pwd" not in method.amr


def test_in_a_provider_without_certificate_trust_a_login_starts_at_password_and_sms(
        provider):
    assert entry_for(2) is PASSWORD_SMS
    assert entry_for(3) is None
    assert works_here(PASSWORD_SMS) and not works_here(USB_TOKEN)
