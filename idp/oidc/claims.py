"""Scopes, the claims each releases, and their Vietnamese labels (the consent screen,
idp.oidc.consent, shows them)."""

from __future__ import annotations

from idp.store.models import Account

# scope -> (claims it releases, what the consent screen says it is)
SCOPES: dict[str, tuple[tuple[str, ...], str]] = {
    "openid": (("sub", "ial", "account_type"), "Mã định danh tài khoản và mức độ định danh"),
    "profile": (("name", "birthdate", "gender"), "Họ tên, ngày sinh, giới tính"),
    "phone": (("phone_number", "phone_number_verified"), "Số điện thoại"),
    "email": (("email", "email_verified"), "Thư điện tử"),
    "cccd": (("cccd",), "Số định danh cá nhân (CCCD)"),
    "organization": (("tax_code", "organization_name", "budget_code"),
                     "Mã số thuế, tên tổ chức và mã đơn vị quan hệ ngân sách (doanh nghiệp, "
                     "cơ quan nhà nước)"),
    "verified_claims": (("verified_claims",),
                        "Thông tin định danh đã xác minh và bằng chứng xác minh"),
    "offline_access": ((), "Duy trì truy cập khi bạn không trực tuyến"),
}
SUPPORTED_CLAIMS = sorted(
    {claim for claims, _ in SCOPES.values() for claim in claims}
    | {"iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash"}
)

LABELS = {
    "sub": "Mã định danh tài khoản",
    "ial": "Mức độ định danh",
    "account_type": "Loại tài khoản",
    "name": "Họ và tên",
    "birthdate": "Ngày sinh",
    "gender": "Giới tính",
    "phone_number": "Số điện thoại",
    "email": "Thư điện tử",
    "cccd": "Số định danh cá nhân (CCCD)",
    "tax_code": "Mã số thuế (MST)",
    "organization_name": "Tên tổ chức",
    "budget_code": "Mã đơn vị có quan hệ với ngân sách",
    "identity_assurance": "Mức độ định danh và cách xác minh",
}
ACCOUNT_TYPES = {"citizen": "Công dân", "enterprise": "Doanh nghiệp", "agency": "Cơ quan nhà nước"}
ORGANIZATION_NAMES = {"enterprise": "Tên doanh nghiệp", "agency": "Tên cơ quan, đơn vị"}
"""How the `name` of an organisation's account is labelled (it is not a person's name)."""
GENDERS = {"male": "Nam", "female": "Nữ"}


def claim_values(account: Account) -> dict:
    """Every claim the account has a value for, in the order portals see them."""
    values: dict = {"ial": account.ial, "account_type": account.account_type,
                    "name": account.full_name}
    # Organisations have neither; a claim that is unknown is left out (OIDC Core §5.3.2),
    # and so is a birth date nobody checked (typed at a certificate registration).
    if account.birthdate is not None and account.birthdate_verified:
        values["birthdate"] = account.birthdate.isoformat()
    if account.gender is not None:
        values["gender"] = account.gender
    if account.default_phone:
        values["phone_number"] = account.default_phone.phone
        values["phone_number_verified"] = True
    if account.email:
        values["email"] = account.email
        values["email_verified"] = account.email_verified
    if account.cccd is not None:
        values["cccd"] = account.cccd
    if account.account_type != "citizen":
        if account.tax_code is not None:
            values["tax_code"] = account.tax_code
        values["organization_name"] = account.organization or account.full_name
        if account.budget_code is not None:
            values["budget_code"] = account.budget_code
    return values


def scope_claims(scopes: list[str]) -> set[str]:
    return {name for scope in scopes if scope in SCOPES for name in SCOPES[scope][0]}


def user_claims(account: Account, scopes: list[str], sub: str, extra=()) -> dict:
    """The claims released for `scopes` (OIDC Core §5.4) and the individually requested
    `extra` ones (§5.5), as userinfo returns them."""
    names = scope_claims(scopes) | set(extra)
    return {"sub": sub, **{name: value for name, value in claim_values(account).items()
                           if name in names}}
