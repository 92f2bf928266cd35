"""A third party that checks citizens' QR codes: a bank's counter application.

The clerk takes a photo of the QR code a customer shows (or a hand scanner types its
text); the app reads it with zxing-cpp and checks it with the identity provider's
verification function, `idp.sharing.verifier_client.ShareVerifier`: the credential is
fetched once from the URL in the code, then checked offline against the provider's
published keys and revocation list. The app trusts one issuer, stores nothing it reads,
and shows the verdict with exactly the items the customer chose to share.

    python examples/verifier.py --port 5004 --issuer http://127.0.0.1:5000
"""

from __future__ import annotations

import argparse
import secrets

from flask import Flask, render_template_string, request
from flask_wtf.csrf import CSRFProtect

from idp.sharing.qrimage import UnreadableImage, qr_text
from idp.sharing.verifier import vietnam_time
from idp.sharing.verifier_client import ShareVerifier

PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} – kiểm tra thông tin khách hàng</title>
<style>
body{font-family:Arial,sans-serif;margin:0;background:#f5f5f4;color:#1c1917}
header{background:#065f46;color:#fff;padding:14px 20px;font-weight:700}
main{max-width:640px;margin:20px auto;background:#fff;padding:20px;border-radius:8px}
label{display:block;font-weight:600;margin:14px 0 6px}
input[type=text],input[type=file]{width:100%;padding:8px;font-size:16px;box-sizing:border-box}
button{margin-top:16px;padding:10px 16px;font-size:16px;background:#065f46;color:#fff;border:0;
 border-radius:6px}
:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}
.verdict{font-size:22px;font-weight:700;padding:12px;border-radius:6px}
.ok{background:#dcfce7;color:#14532d}.bad{background:#fee2e2;color:#7f1d1d}
.error{color:#991b1b}
table{border-collapse:collapse;width:100%}
td{border-bottom:1px solid #e7e5e4;padding:6px;vertical-align:top}
td:first-child{font-weight:600;width:45%}
</style></head>
<body><header>{{ title }} — Quầy giao dịch</header><main>
<h1>Kiểm tra thông tin khách hàng qua mã QR</h1>
{% if result %}
<p role="status" id="verdict" data-status="{{ result.status }}"
   class="verdict {{ 'ok' if result.valid else 'bad' }}">{{ result.status_text }}</p>
{% if result.valid %}
<table id="verified-items">
{% for claim, label, value in result.items() %}
<tr data-claim="{{ claim }}"><td>{{ label }}</td><td>{{ value }}</td></tr>{% endfor %}
</table>
<p>Bên cấp: <span id="issuer">{{ result.issuer }}</span> (đã kiểm tra chữ ký số).
Cấp lúc {{ when(result.issued_at) }}, hết hạn lúc {{ when(result.expires_at) }}.</p>
{% endif %}
{% endif %}
<form method="post" enctype="multipart/form-data" novalidate>
<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<label for="image">Ảnh mã QR khách hàng đưa (chụp hoặc chọn tệp)</label>
<input type="file" id="image" name="image" accept="image/*"
 {% if error %}aria-invalid="true" aria-describedby="image-error"{% endif %}>
{% if error %}<p class="error" id="image-error">{{ error }}</p>{% endif %}
<label for="qr">Hoặc nội dung mã (máy quét cầm tay)</label>
<input type="text" id="qr" name="qr" autocomplete="off">
<button type="submit" id="verify">Kiểm tra</button>
</form>
<p>Tin cậy bên cấp: {{ issuer }}. Ứng dụng không lưu thông tin khách hàng.</p>
</main></body></html>"""


def create_app(issuer: str, title: str) -> Flask:
    """The counter application, trusting `issuer`."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_urlsafe(32), MAX_CONTENT_LENGTH=12 * 1024 * 1024)
    CSRFProtect(app)
    verifier = ShareVerifier(issuer)

    def show(status: int = 200, **context):
        return render_template_string(PAGE, title=title, issuer=issuer, when=vietnam_time,
                                      **context), status

    @app.route("/", methods=["GET", "POST"])
    def counter():
        if request.method == "GET":
            return show()
        text = (request.form.get("qr") or "").strip()
        upload = request.files.get("image")
        if upload and upload.filename:
            try:
                text = qr_text(upload.read())
            except UnreadableImage as exc:
                return show(400, error=str(exc))
        if not text:
            return show(400, error="Hãy chụp hoặc chọn ảnh mã QR.")
        return show(result=verifier.verify_qr(text))

    return app


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the app with Flask's built-in server."""
    parser = argparse.ArgumentParser(description="A bank counter that verifies QR codes.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--issuer", required=True, help="the identity provider's URL")
    parser.add_argument("--title", default="Ngân hàng TMCP Mẫu")
    args = parser.parse_args(argv)
    create_app(args.issuer, args.title).run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
