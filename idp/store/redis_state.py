"""The Redis backend of the state store (production): one key per entry, Redis's own
expiry, a Lua script for counters; a plain server or one found through Redis Sentinel."""

from __future__ import annotations

import json
import time

from idp.store.state import StoreUnavailable, _dumps

_INCR_SCRIPT = """
local value = redis.call('INCR', KEYS[1])
if value == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return value
"""
# DECR keeps the key's expiry; a counter that has gone (or is at zero) stays as it is.
_DECR_SCRIPT = """
local value = tonumber(redis.call('GET', KEYS[1]))
if value and value > 0 then return redis.call('DECR', KEYS[1]) end
return value
"""


class RedisStateStore:
    """State entries as Redis keys with native expiry; the server is the one `url` names,
    or, with `sentinels`, whichever the sentinels name as the primary of `service`.

    A failed call is retried twice within a quarter of a second (a dropped connection, a
    primary just replaced), then the request fails closed. Under Sentinel, a connection
    that finds its server demoted to a replica (READONLY) is dropped and the next one asks
    the sentinels again, so a node follows a failover without a restart.
    """

    def __init__(self, url: str, prefix: str = "idp:", *, sentinels: tuple[str, ...] = (),
                 service: str = "idp") -> None:
        import redis
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry

        self._errors = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError)
        options = {"socket_connect_timeout": 1, "socket_timeout": 2,
                   "health_check_interval": 10,
                   "retry": Retry(ExponentialBackoff(cap=0.1, base=0.02), 2)}
        if sentinels:
            from redis.connection import parse_url
            from redis.sentinel import Sentinel

            known = {key: value for key, value in parse_url(url).items()
                     if key in ("db", "username", "password")}
            addresses = [(host, int(port)) for host, _, port in
                         (address.rpartition(":") for address in sentinels)]
            self.redis = Sentinel(addresses, sentinel_kwargs={
                "socket_connect_timeout": 0.5, "socket_timeout": 0.5},
            ).master_for(service, **known, **options)
        else:
            self.redis = redis.Redis.from_url(url, **options)
        self.prefix = prefix
        self._incr = self.redis.register_script(_INCR_SCRIPT)
        self._decr = self.redis.register_script(_DECR_SCRIPT)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except self._errors as exc:
            raise StoreUnavailable(str(exc)) from exc

    def put(self, key: str, value: dict, ttl: float) -> None:
        self._call(self.redis.set, self._key(key), _dumps(value), px=max(1, int(ttl * 1000)))

    def add(self, key: str, value: dict, ttl: float) -> bool:
        return bool(
            self._call(
                self.redis.set, self._key(key), _dumps(value), px=max(1, int(ttl * 1000)), nx=True
            )
        )

    def get(self, key: str) -> dict | None:
        raw = self._call(self.redis.get, self._key(key))
        return json.loads(raw) if raw else None

    def get_many(self, keys: list[str]) -> list[dict | None]:
        if not keys:
            return []
        raws = self._call(self.redis.mget, [self._key(key) for key in keys])
        return [json.loads(raw) if raw else None for raw in raws]

    def take(self, key: str) -> dict | None:
        raw = self._call(self.redis.getdel, self._key(key))
        return json.loads(raw) if raw else None

    def delete(self, key: str) -> None:
        self._call(self.redis.delete, self._key(key))

    def incr(self, key: str, ttl: float) -> int:
        return int(self._call(self._incr, keys=[self._key(key)], args=[max(1, int(ttl * 1000))]))

    def incr_many(self, counters: list[tuple[str, float]]) -> list[int]:
        pipe = self.redis.pipeline(transaction=False)
        for key, ttl in counters:
            self._incr(keys=[self._key(key)], args=[max(1, int(ttl * 1000))], client=pipe)
        return [int(value) for value in self._call(pipe.execute)]

    def decr(self, key: str) -> None:
        self._call(self._decr, keys=[self._key(key)])

    def count(self, key: str) -> int:
        raw = self._call(self.redis.get, self._key(key))
        return int(raw or 0)

    def counters(self, keys: list[str]) -> list[tuple[int, float | None]]:
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.get(self._key(key))
            pipe.pttl(self._key(key))
        replies = self._call(pipe.execute) if keys else []
        now = time.time()
        return [(int(raw), now + left_ms / 1000 if left_ms > 0 else None) if raw else (0, None)
                for raw, left_ms in zip(replies[::2], replies[1::2], strict=True)]

    def expires_at(self, key: str) -> float | None:
        left_ms = self._call(self.redis.pttl, self._key(key))
        return time.time() + left_ms / 1000 if left_ms > 0 else None

    def add_member(self, key: str, member: str, ttl: float) -> None:
        pipe = self.redis.pipeline()
        pipe.sadd(self._key(key), member)
        pipe.pexpire(self._key(key), max(1, int(ttl * 1000)))
        self._call(pipe.execute)

    def remove_member(self, key: str, member: str) -> None:
        self._call(self.redis.srem, self._key(key), member)

    def members(self, key: str) -> set[str]:
        return {m.decode() for m in self._call(self.redis.smembers, self._key(key))}

    def ping(self) -> None:
        self._call(self.redis.ping)

    def expire_now(self, key: str) -> None:
        """Test hook: make an entry expire immediately."""
        self._call(self.redis.delete, self._key(key))
