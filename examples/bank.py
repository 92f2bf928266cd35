"""A bank's online account opening ("eKYC") as a FAPI 2.0 relying party of the identity provider.

The bank is registered as a `fapi2` client (`idp client add --profile fapi2 --jwks ...`):
it pushes its authorization request (PAR, RFC 9126), authenticates with its private key
(private_key_jwt, RFC 7523), binds its tokens to a DPoP key (RFC 9449) and uses PKCE
S256, all through requests-oauth2client, an independent Python OAuth 2.0 client. It asks
with the `claims` parameter for the citizen's identity as *verified* claims
(OpenID Connect for Identity Assurance) and shows what it received: each claim, the trust
framework, the assurance level and the evidence behind them.

Run ``python examples/bank.py --help`` for the flags; the demo (`idp demo`) starts it.
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
from datetime import datetime, timedelta, timezone

from flask import Flask, abort, redirect, render_template_string, request
from requests_oauth2client import BearerToken, OAuth2Client, PrivateKeyJwt

VIETNAM = timezone(timedelta(hours=7))
# What the bank needs to open an account, each claim verified (OIDC4IDA §6).
CLAIMS = {
    "userinfo": {
        "verified_claims": {
            "verification": {"trust_framework": None, "assurance_level": None,
                             "time": None, "evidence": None},
            "claims": {"name": None, "birthdate": None, "gender": None, "cccd": None},
        },
        "phone_number": None,
    },
    "id_token": {"acr": {"essential": True, "values": ["urn:vn:sso:loa:2"]}},
}
LABELS = {"name": "Họ và tên", "birthdate": "Ngày sinh", "gender": "Giới tính",
          "cccd": "Số định danh (CCCD)", "phone_number": "Số điện thoại"}
DOCUMENTS = {"idcard": "thẻ Căn cước / CCCD", "passport": "hộ chiếu"}
EVIDENCE = {"electronic_record": "Đối chiếu hồ sơ điện tử",
            "document": "Kiểm tra giấy tờ trực tiếp",
            "electronic_signature": "Chứng thư chữ ký số"}

PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
 body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1b2733}
 header{background:#0b5d3b;color:#fff;padding:16px 32px} main{max-width:860px;margin:24px auto;
 background:#fff;padding:24px 32px;border-radius:8px} table{border-collapse:collapse;width:100%}
 td,th{border-bottom:1px solid #dde3e8;padding:6px 8px;text-align:left;vertical-align:top}
 .ok{color:#0b5d3b;font-weight:600} .btn{background:#0b5d3b;color:#fff;padding:10px 18px;
 border-radius:6px;text-decoration:none} .muted{color:#5b6b78;font-size:.9em}
</style></head><body>
<header><strong>{{ title }}</strong> — Mở tài khoản thanh toán trực tuyến</header><main>
{% if error %}<p id="error">Không hoàn tất được đăng nhập: {{ error }}</p>{% endif %}
{% if not customer %}
 <p>Mở tài khoản ngay, không cần đến quầy: ngân hàng nhận thông tin định danh <em>đã được
 xác minh</em> của bạn từ Hệ thống đăng nhập một lần quốc gia, kèm bằng chứng xác minh.</p>
 <p><a class="btn" id="login" href="/login">Định danh bằng tài khoản định danh quốc gia</a></p>
 <p class="muted">Kết nối theo hồ sơ bảo mật FAPI 2.0: yêu cầu đẩy (PAR), khóa riêng của ngân
 hàng (private_key_jwt), token gắn khóa DPoP.</p>
{% else %}
 <h2>Thông tin định danh đã xác minh</h2>
 {% if verified %}
 <table id="verified-claims">
 {% for name, value in verified.claims.items() %}
  <tr><th>{{ labels.get(name, name) }}</th><td>{{ shown(name, value) }}</td></tr>{% endfor %}
 </table>
 <h3>Xác minh</h3>
 <table id="verification">
  <tr><th>Khung tin cậy</th><td>{{ verified.verification.trust_framework }}</td></tr>
  <tr><th>Mức định danh</th><td>{{ verified.verification.assurance_level }}</td></tr>
  <tr><th>Thời điểm</th><td>{{ when(verified.verification.time) }}</td></tr>
 </table>
 <h3>Bằng chứng</h3>
 <table id="evidence">
 {% for item in verified.verification.evidence or [] %}
  <tr><th>{{ evidence.get(item.type, item.type) }}</th><td>{{ describe(item) }}
   <details><summary class="muted">JSON</summary><code>{{ raw(item) }}</code></details></td></tr>
 {% else %}<tr><td>Không có bằng chứng (tài khoản do quản trị viên tạo).</td></tr>{% endfor %}
 </table>
 {% else %}
 <p id="no-verified">Nhà cung cấp định danh không gửi thông tin đã xác minh.</p>
 {% endif %}
 <h3>Phiên đăng nhập</h3>
 <table id="session">
  <tr><th>Mức độ xác thực (acr)</th><td>{{ customer.acr }}</td></tr>
  <tr><th>Loại token</th><td class="ok">{{ customer.token_type }}</td></tr>
  <tr><th>Số điện thoại</th><td>{{ customer.phone_number or "—" }}</td></tr>
 </table>
{% endif %}
</main></body></html>"""


def create_bank(issuer: str, client_id: str, private_jwk: dict, base_url: str,
                title: str) -> Flask:
    """The bank's web app; `private_jwk` is the key the provider knows the public half of."""
    app = Flask(__name__)
    pending: dict[str, object] = {}  # state -> authorization request (one process)
    customers: dict[str, dict] = {}  # bank session id -> what the bank received
    clients: list[OAuth2Client] = []
    lock = threading.Lock()

    def client() -> OAuth2Client:
        # Discovered at first use: the demo starts the bank and the provider together.
        with lock:
            if not clients:
                found = OAuth2Client.from_discovery_endpoint(
                    issuer=issuer,
                    # FAPI 2.0: the assertion's audience is the issuer identifier, a string.
                    auth=PrivateKeyJwt(client_id, private_jwk, alg="ES256", aud=issuer),
                    redirect_uri=f"{base_url}/callback",
                    dpop_bound_access_tokens=True,
                    id_token_signed_response_alg="ES256",  # noqa: S106 - an algorithm
                    testing=issuer.startswith("http://127.0.0.1"),  # the demo's loopback
                )
                found.update_authorization_server_public_keys()
                clients.append(found)
            return clients[0]

    def page(**values):
        return render_template_string(PAGE, title=title, labels=LABELS, evidence=EVIDENCE,
                                      when=_when, describe=describe_evidence, shown=_shown,
                                      raw=lambda item: json.dumps(item, ensure_ascii=False),
                                      **values)

    @app.get("/")
    def home():
        return page(customer=customers.get(request.cookies.get("bank_session", "")),
                    verified=customers.get(request.cookies.get("bank_session", ""), {}).get(
                        "verified_claims"), error=None)

    @app.get("/login")
    def login():
        try:
            oauth = client()
            authorization = oauth.authorization_request(
                scope="openid", claims=json.dumps(CLAIMS), dpop=True)
            pushed = oauth.pushed_authorization_request(authorization)
        except Exception as exc:  # refused, unreachable or misconfigured: shown, never a 500
            return page(customer=None, verified=None, error=f"{type(exc).__name__}: {exc}"), 502
        with lock:
            pending[authorization.state] = authorization
        return redirect(pushed.uri)

    @app.get("/callback")
    def callback():
        authorization = pending.pop(request.args.get("state", ""), None)
        if authorization is None:
            abort(400)
        try:
            response = authorization.validate_callback(request.url)
            # DPoP-bound with the key whose thumbprint went in the pushed request.
            oauth = client()
            token = oauth.authorization_code(response, validate=False)
            # requests-oauth2client 1.8.0 rebuilds a DPoPToken without its key once the ID
            # token is valid (a TypeError): let it check a bearer copy of the same tokens.
            BearerToken(access_token=token.access_token, id_token=token.id_token,
                        expires_at=token.expires_at).validate_id_token(oauth, response)
            info = oauth.userinfo(token)
        except Exception as exc:  # every refusal is shown, never a 500
            return page(customer=None, verified=None, error=f"{type(exc).__name__}: {exc}"), 400
        session_id = secrets.token_urlsafe(24)
        with lock:
            customers[session_id] = {**info, "acr": token.id_token.claims.get("acr"),
                                     "token_type": token.token_type}
        answer = redirect("/")
        answer.set_cookie("bank_session", session_id, httponly=True, samesite="Lax")
        return answer

    @app.get("/api/customer")
    def customer():
        """What the bank holds for this browser, as JSON (for tests and the curious)."""
        return customers.get(request.cookies.get("bank_session", ""), {})

    return app


def describe_evidence(item: dict) -> str:
    """One piece of OIDC4IDA evidence, as the bank's staff read it."""
    if item.get("type") == "electronic_record":
        record = item.get("record", {})
        return (f"Hồ sơ {record.get('type', '?')} của {record.get('source', {}).get('name', '?')}"
                f", đối chiếu lúc {_when(item.get('time'))}")
    if item.get("type") == "document":
        check = (item.get("check_details") or [{}])[0]
        document = DOCUMENTS.get(item.get("document_details", {}).get("type"), "giấy tờ")
        return (f"{document[0].upper()}{document[1:]} kiểm tra trực tiếp"
                f" tại {check.get('organization', '?')} ({check.get('txn', '?')}), "
                f"lúc {_when(item.get('time'))}")
    if item.get("type") == "electronic_signature":
        return (f"{item.get('signature_type')} do {item.get('issuer')} cấp, số sê-ri "
                f"{item.get('serial_number')}, hiệu lực {_when(item.get('valid_from'))} – "
                f"{_when(item.get('valid_until'))}")
    return json.dumps(item, ensure_ascii=False)


def _shown(name: str, value) -> str:
    if name == "gender":
        return {"male": "Nam", "female": "Nữ"}.get(value, value)
    if name == "birthdate" and isinstance(value, str) and len(value) == 10:
        return f"{value[8:10]}/{value[5:7]}/{value[:4]}"
    return str(value)


def _when(value: str | None) -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(VIETNAM)
    return moment.strftime("%H:%M %d/%m/%Y")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--key", required=True, help="the bank's private JWK (JSON file)")
    parser.add_argument("--port", type=int, default=5003)
    parser.add_argument("--title", default="Ngân hàng TMCP Sông Hồng")
    args = parser.parse_args()
    with open(args.key, encoding="utf-8") as file:
        private_jwk = json.load(file)
    base_url = f"http://127.0.0.1:{args.port}"
    create_bank(args.issuer, args.client_id, private_jwk, base_url, args.title).run(
        host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
