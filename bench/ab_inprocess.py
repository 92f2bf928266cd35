#!/usr/bin/env python
"""A/B of the refresh and userinfo code paths in-process (Flask test client, no HTTP), for
before/after figures that survive a shared machine: CPU time of this process per request
(time.process_time), variants interleaved round by round, medians reported.

"before" puts back the implementations the issue #6 fixes replaced (the ORM-enabled bulk
`UPDATE … RETURNING` claim of the refresh token; two state-store reads for the revocation
markers of an access token); "after" is the code as it is.

    .venv/bin/python bench/ab_inprocess.py [--database postgresql] [--rounds 5] [--n 300]
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

from bench import log  # noqa: E402
from bench.servers import BenchProvider  # noqa: E402


def old_authenticate_refresh_token(self, refresh_token):
    """idp/oidc/grants.py before issue #6: the ORM-enabled bulk update."""
    from sqlalchemy import select, update

    from idp.audit import record_event
    from idp.oidc.grants import digest, revoke_grant
    from idp.provider import provider
    from idp.store.models import RefreshToken

    if not refresh_token or len(refresh_token) > 200:
        return None
    session = provider().db.session
    now = time.time()
    token_digest = digest(refresh_token)
    claimed = session.scalar(
        update(RefreshToken)
        .where(
            RefreshToken.token_digest == token_digest,
            RefreshToken.rotated_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(rotated_at=now)
        .returning(RefreshToken)
    )
    if claimed is not None:
        return claimed
    session.rollback()
    stale = session.scalar(select(RefreshToken).where(RefreshToken.token_digest == token_digest))
    if stale is not None and stale.rotated_at is not None and stale.revoked_at is None:
        revoke_grant(stale.family_id, "refresh token reused")
        record_event("token.refresh_reuse", "refused", account_id=stale.account_id,
                     client_id=stale.client_id)
    return None


def old_access_token_live(claims: dict) -> bool:
    """idp/oidc/issued.py before issue #6: two state-store reads."""
    from idp.provider import provider

    state = provider().state
    return (state.get(f"revoked-grant:{claims['gid']}") is None
            and state.get(f"revoked-at:{claims['jti']}") is None)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=300, help="requests per variant per round")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    import idp.oidc.userinfo as userinfo_module
    from idp import create_app
    from idp.oidc import grants
    from idp.oidc.grants import digest
    from idp.store.models import Account, RefreshToken

    new_claim = grants.RefreshTokenGrant.authenticate_refresh_token
    new_live = userinfo_module.access_token_live
    variants = {
        "before": (old_authenticate_refresh_token, old_access_token_live),
        "after": (new_claim, new_live),
    }

    directory = Path(tempfile.mkdtemp(prefix="idp-ab-"))
    bench = BenchProvider(directory, workers=1, threads=1, database=args.database)
    try:
        portal = bench.add_portal("bench-portal")
        client_id, secret = portal.client_id, portal.secret
        bench.add_account()
        with Session(bench.engine) as session:
            account_id = session.scalar(select(Account.id))
            token = secrets.token_urlsafe(32)
            now = time.time()
            session.add(RefreshToken(
                token_digest=digest(token), family_id=secrets.token_hex(16),
                client_id=client_id, account_id=account_id,
                scope="openid profile phone cccd offline_access", sid=None,
                auth_time=int(now), acr="urn:vn:sso:loa:2", amr=["pwd", "otp"],
                issued_at=now, expires_at=now + 86400))
            session.commit()
        app = create_app(bench.settings)
        client = app.test_client()
        basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()

        def refresh() -> dict:
            nonlocal token
            response = client.post("/token", headers={"Authorization": basic}, data={
                "grant_type": "refresh_token", "refresh_token": token})
            assert response.status_code == 200, response.get_data(as_text=True)
            body = response.get_json()
            token = body["refresh_token"]
            return body

        access = refresh()["access_token"]
        bearer = {"Authorization": "Bearer " + access}

        def userinfo() -> None:
            response = client.get("/userinfo", headers=bearer)
            assert response.status_code == 200, response.get_data(as_text=True)

        for _ in range(100):  # warm up both paths
            refresh()
            userinfo()
        samples: dict[str, dict[str, list[float]]] = {
            v: {"refresh": [], "userinfo": []} for v in variants}
        for round_ in range(args.rounds):
            for name, (claim, live) in (variants.items() if round_ % 2 == 0
                                        else reversed(variants.items())):
                grants.RefreshTokenGrant.authenticate_refresh_token = claim
                userinfo_module.access_token_live = live
                for load, run in (("refresh", refresh), ("userinfo", userinfo)):
                    for _ in range(args.n):
                        t0 = time.process_time()
                        run()
                        samples[name][load].append(time.process_time() - t0)
            log(f"round {round_ + 1}/{args.rounds} done")
        grants.RefreshTokenGrant.authenticate_refresh_token = new_claim
        userinfo_module.access_token_live = new_live
    finally:
        bench.stop()
    figures = {}
    for load in ("refresh", "userinfo"):
        before = statistics.mean(samples["before"][load]) * 1000
        after = statistics.mean(samples["after"][load]) * 1000
        figures[load] = {"before_cpu_ms": round(before, 3), "after_cpu_ms": round(after, 3),
                         "change": round(after / before - 1, 3)}
        print(f"{load} ({args.database}, in-process, CPU ms per request, mean of "
              f"{len(samples['after'][load])}): before {before:.3f}, after {after:.3f} "
              f"({after / before - 1:+.1%})")
    if args.output:
        args.output.write_text(json.dumps({"database": args.database, "rounds": args.rounds,
                                           "n": args.n, "figures": figures}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
