"""session-size (`bench/run.py --only session-size`): the bytes one SSO session costs in
Redis, measured on the Redis at 127.0.0.1:6379 (not a load: no provider is started)."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import UTC, datetime

from bench import RESULTS, log
from tests.live import REDIS_URL


def session_size(portals: int = 3) -> dict:
    """What one SSO session costs in Redis: the record exactly as idp/sessions.py stores it
    (RedisStateStore.put of SsoSession.to_record() under sso:<sid>, plus the sid in the
    account's acct-sessions set), measured with STRLEN and MEMORY USAGE, then removed."""
    import redis

    from idp.sessions import SsoSession
    from idp.store.redis_state import RedisStateStore

    prefix = f"idpbench:{uuid.uuid4().hex[:8]}:"
    store = RedisStateStore(REDIS_URL, prefix=prefix)
    raw = redis.Redis.from_url(REDIS_URL)
    try:
        now = int(time.time())
        session = SsoSession(
            sid=secrets.token_urlsafe(24), account_id=12_345_678, auth_time=now,
            acr="urn:vn:sso:loa:3", amr=["pwd", "otp"], expires=now + 8 * 3600 + 0.5,
            clients=[f"cong-dich-vu-{name}" for name in ("thue", "bhxh", "dat-dai")][:portals],
        )
        store.put(f"sso:{session.sid}", session.to_record(), 1800)
        store.add_member(f"acct-sessions:{session.account_id}", session.sid, 8 * 3600)
        record_key = prefix + f"sso:{session.sid}"
        set_key = prefix + f"acct-sessions:{session.account_id}"
        # A second session of the same account: what one more member adds to the set.
        store.add_member(f"acct-sessions:{session.account_id}", secrets.token_urlsafe(24),
                         8 * 3600)
        set_two = raw.memory_usage(set_key, samples=0)
        raw.srem(set_key, *[m for m in raw.smembers(set_key) if m.decode() != session.sid])
        result = {
            "portals": portals,
            "record_json_bytes": raw.strlen(record_key),
            "record_key_bytes": len(record_key.encode()) - len(prefix) + len("idp:"),
            "record_memory_usage": raw.memory_usage(record_key, samples=0),
            "set_memory_usage_one_member": raw.memory_usage(set_key, samples=0),
            "set_memory_usage_two_members": set_two,
            "redis_version": raw.info("server")["redis_version"],
        }
        result["per_session_bytes"] = (result["record_memory_usage"]
                                       + result["set_memory_usage_one_member"])
        return result
    finally:
        for key in raw.scan_iter(prefix + "*"):
            raw.delete(key)
        raw.close()
        store.redis.close()


def measure_and_report(args) -> None:
    """Measure, print the verdict (target < 1 KB), and write the JSON unless --no-save."""
    size = session_size()
    log(f"SSO session with {size['portals']} portals in Redis {size['redis_version']}: "
        f"record {size['record_json_bytes']} bytes of JSON under a "
        f"{size['record_key_bytes']}-byte key, MEMORY USAGE {size['record_memory_usage']} "
        f"bytes; the account's session set {size['set_memory_usage_one_member']} bytes "
        f"with one member ({size['set_memory_usage_two_members']} with two)")
    verdict = "met" if size["per_session_bytes"] < 1024 else "NOT met"
    print(f"session-size: {size['per_session_bytes']} bytes per SSO session in Redis "
          f"(record + account set, MEMORY USAGE) — target < 1 KB (1,024 bytes): {verdict}")
    if not args.no_save:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        out = args.output if args.only == "session-size" else RESULTS / "session-size.json"
        out.write_text(json.dumps({"date": datetime.now(UTC).isoformat(timespec="seconds"),
                                   "session_size": size}, indent=2) + "\n")
        log(f"wrote {out}")
