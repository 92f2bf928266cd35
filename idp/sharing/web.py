"""What verifiers reach without an account: the share URL in a QR code, the issuer
metadata and status lists, the verification API, and the counter clerk's page."""

from __future__ import annotations

import json
import math
import time

from flask import Blueprint, Response, render_template, request
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from idp.errors import refuse
from idp.provider import provider
from idp.sharing import services
from idp.sharing.credential import MEDIA_TYPE, issuer_metadata
from idp.sharing.qrimage import UnreadableImage, qr_text
from idp.sharing.status import MAX_LIST_ID, status_list_token
from idp.sharing.verifier import SHARE_CODE, TAMPERED, Verification, vietnam_time
from idp.vntime import clock_time

bp = Blueprint("sharing", __name__)

UPLOAD_LIMIT = 12 * 1024 * 1024
"""A phone photo of a QR code; the rest of the provider takes 64 KB at most."""
TEXT_LIMIT = 16 * 1024
PUBLIC = {"Access-Control-Allow-Origin": "*"}


def _json_error(status: int, error: str, description: str, headers: dict | None = None):
    """An RFC 6749-style error answer."""
    return {"error": error, "error_description": description}, status, headers or {}


def _rate_limited():
    """429 to a verifier address over its limit, with the seconds until its window ends."""
    wait = services.verifier_retry_at(request.remote_addr) - time.time()
    return _json_error(429, "rate_limited", "Quá nhiều yêu cầu từ địa chỉ này.",
                       {"Retry-After": str(max(1, math.ceil(wait)))})


@bp.route("/.well-known/jwt-vc-issuer")
def metadata():
    """Issuer metadata (SD-JWT VC): the keys a verifier checks credentials with."""
    return Response(json.dumps(issuer_metadata(provider().issuer)), mimetype="application/json",
                    headers={"Cache-Control": "public, max-age=3600", **PUBLIC})


@bp.route("/status-lists/<int:list_id>")
def status_list(list_id: int):
    """A Status List Token (draft-ietf-oauth-status-list §8): anyone may fetch it."""
    if not 1 <= list_id <= MAX_LIST_ID:
        return _json_error(404, "not_found", "Không có danh sách trạng thái này.")
    ttl = provider().settings.sharing.status_list_ttl
    return Response(status_list_token(list_id), mimetype="application/statuslist+jwt",
                    headers={"Cache-Control": f"public, max-age={ttl}", **PUBLIC})


@bp.route("/s/<code>")
def share(code: str):
    """The URL in a citizen's QR code. A verifier asking for the credential gets it (once
    for a one-time share); a browser gets a page that reads nothing until asked to."""
    wanted = request.accept_mimetypes.best_match([MEDIA_TYPE, "text/html"], "text/html")
    if not SHARE_CODE.fullmatch(code):
        if wanted != MEDIA_TYPE:
            refuse("Địa chỉ này không phải mã QR chia sẻ thông tin hợp lệ.", 404)
        return _json_error(404, "share_not_found", "Không tìm thấy mã chia sẻ này.")
    if wanted != MEDIA_TYPE:
        return render_template("sharing/landing.html", url=services.share_url(code))
    if not services.verifier_allowed(request.remote_addr):
        return _rate_limited()
    outcome = services.read_share(code, request.remote_addr)
    if outcome.credential is None:
        return _json_error(404 if outcome.refused == "not_found" else 410,
                           f"share_{outcome.refused}", Verification(outcome.refused).status_text)
    return Response(outcome.credential, mimetype=MEDIA_TYPE,
                    headers={"Cache-Control": "no-store"})


@bp.route("/share/verify", methods=["POST"])
def verify_api():
    """The verification API: `{"qr": text of the QR code}` or `{"credential": SD-JWT}` in,
    the outcome out (always 200 once checked; the status says valid or why not)."""
    body = request.get_json(silent=True)
    fields = [body.get(name) for name in ("qr", "credential")] if isinstance(body, dict) else []
    given = [value for value in fields if value is not None]
    if len(given) != 1 or not isinstance(given[0], str) or not given[0].strip():
        return _json_error(400, "invalid_request",
                           'Gửi đúng một trường "qr" hoặc "credential" (chuỗi) trong JSON.')
    if len(given[0]) > TEXT_LIMIT:
        return _json_error(400, "invalid_request", "Nội dung quá dài.")
    if not services.verifier_allowed(request.remote_addr):
        return _rate_limited()
    result, _ = services.verify_here(given[0], request.remote_addr)
    return result.as_json(), 200, {"Cache-Control": "no-store"}


@bp.route("/verify", methods=["GET", "POST"])
def clerk():
    """The counter clerk's page: a photo of the QR code (or its text, as a hand scanner
    types it) in, the verified items and the verdict out."""
    if request.method == "GET":
        return _clerk_page()
    # Exempt from the app-wide CSRF check, which would read the body under the 64 KB
    # limit before this view could allow a photo; checked here instead.
    request.max_content_length = UPLOAD_LIMIT
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        raise CSRFError(str(exc)) from exc
    upload = request.files.get("image")
    text = (request.form.get("qr") or request.form.get("credential") or "").strip()
    if upload and upload.filename:
        try:
            text = qr_text(upload.read())
        except UnreadableImage as exc:
            return _clerk_page({"image": str(exc)}, 400)
    if not text:
        return _clerk_page({"image": "Hãy chọn ảnh chụp mã QR, hoặc nhập nội dung mã."}, 400)
    if len(text) > TEXT_LIMIT:
        return _clerk_page({"qr": "Nội dung mã quá dài."}, 400)
    if not services.verifier_allowed(request.remote_addr):
        until = clock_time(services.verifier_retry_at(request.remote_addr))
        return _clerk_page({"image": "Quá nhiều yêu cầu từ địa chỉ này. Vui lòng thử lại "
                                     f"sau {until}."}, 429)
    result, credential = services.verify_here(text, request.remote_addr)
    return _clerk_page(result=result, credential=credential if result.valid else None)


def _clerk_page(errors: dict | None = None, status: int = 200, **context):
    result = context.get("result")
    return render_template(
        "sharing/verify.html", errors=errors or {}, vietnam_time=vietnam_time,
        tampered=TAMPERED, issuer=provider().issuer, **context,
    ), 200 if result is not None else status
