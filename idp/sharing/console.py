"""The console pages "Chia sẻ thông tin qua mã QR": make a share, show its QR code, list
and revoke the live ones. Registered on the account console's blueprint."""

from __future__ import annotations

import io
from datetime import UTC

import segno
from flask import Response, abort, redirect, request, url_for

from idp.account.web import bp, form_int, page, recent_viewer, viewer
from idp.sharing import services
from idp.sharing.items import offered_items
from idp.store.models import IdentityShare
from idp.vntime import vietnam_time


def _qr(share: IdentityShare) -> segno.QRCode:
    # Medium error correction: still read when a phone's glare or a crease hides a part.
    return segno.make(services.share_url(services.code_of(share)), error="m")


def _ends(share: IdentityShare) -> str:
    expires = share.expires_at
    return vietnam_time(expires if expires.tzinfo else expires.replace(tzinfo=UTC))


def _form_page(current, errors: dict | None = None, status: int = 200, form=None):
    # With errors, the console's alert (role="alert") says so before the marked fields.
    summary = "Chưa tạo được mã QR: hãy sửa các mục được đánh dấu bên dưới." if errors else None
    return page(
        "sharing.html", current, status, error=summary,
        offers=offered_items(current.account), validities=services.validity_choices(),
        default_validity=services.DEFAULT_VALIDITY, shares=services.live_shares(
            current.account.id), errors=errors or {}, form=form or {},
        labels=services.item_labels, ends=_ends, vietnam_time=vietnam_time,
        note_max=services.NOTE_MAX,
    )


@bp.route("/account/sharing")
def sharing():
    """The sharing form and the citizen's live shares."""
    return _form_page(viewer())


@bp.route("/account/sharing", methods=["POST"])
def create_share():
    """Make a share from the form (a login of the last 10 minutes is needed: the QR code
    hands identity data to whoever holds it)."""
    current = recent_viewer("account.sharing")
    form = {"items": request.form.getlist("items")[:20], "note": request.form.get("note", ""),
            "validity": request.form.get("validity", ""), "use": request.form.get("use", "")}
    try:
        wanted = services.parse_request(current.account, form["items"], form["note"][:1000],
                                        form["validity"][:10], form["use"][:10])
    except services.ShareFormError as exc:
        return _form_page(current, exc.errors, 400, form)
    share, _code = services.create_share(current.account, wanted)
    return redirect(url_for(".shared", share_id=share.id), 303)


@bp.route("/account/sharing/<int:share_id>")
def shared(share_id: int):
    """A live share's QR code, with exactly what it gives and until when."""
    current = viewer()
    share = services.own_share(current.account.id, share_id)
    if share is None:
        abort(404)
    revealed = [(offer.label, offer.value) for offer in offered_items(current.account)
                if offer.claim in share.items]
    return page("share.html", current, share=share, revealed=revealed,
                qr=_qr(share).svg_data_uri(scale=6, border=4),
                url=services.share_url(services.code_of(share)), ends=_ends(share))


@bp.route("/account/sharing/<int:share_id>/qr.png")
def shared_png(share_id: int):
    """The QR code as a PNG file, to save or print."""
    current = viewer()
    share = services.own_share(current.account.id, share_id)
    if share is None:
        abort(404)
    image = io.BytesIO()
    _qr(share).save(image, kind="png", scale=8, border=4)
    return Response(image.getvalue(), mimetype="image/png", headers={
        "Content-Disposition": 'attachment; filename="ma-qr-chia-se.png"',
        "Cache-Control": "no-store"})


@bp.route("/account/sharing/revoke", methods=["POST"])
def revoke_share():
    """Revoke a share: its URL stops answering, and credentials already read show revoked."""
    current = viewer()
    share_id = form_int("share")
    revoked = share_id is not None and services.revoke_share(current.account.id, share_id)
    return redirect(url_for(".sharing", done="share_revoked" if revoked else None), 303)
