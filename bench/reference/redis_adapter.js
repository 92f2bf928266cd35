// A durable, shared store for oidc-provider on Redis (ioredis), for the benchmark's reference.
// It keeps the data model of oidc-provider's example Redis adapter; every key starts with a
// prefix so that one process's keys can be found (SCAN) and dropped when it stops:
//
//   <prefix><Model>:<id>       the model's payload with the TTL oidc-provider gives it
//                              (expiresIn): a JSON string, or for the models that can be
//                              consumed a hash {payload: JSON, consumed: epoch seconds}, so that
//                              consume() is one HSET and no read-modify-write
//   <prefix>grant:<grantId>    a set of the keys of the tokens issued under that grant, for
//                              revokeByGrantId; its TTL is the longest of its members'
//   <prefix>userCode:<code>    DeviceCode id by user code (findByUserCode)
//   <prefix>uid:<uid>          Session id by uid (findByUid)
//
// Needs Redis 7.0+ (EXPIRE ... NX / GT).
import Redis from 'ioredis';

// Models whose instances are single-use (oidc-provider calls consume() on them).
const CONSUMABLE = new Set([
  'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
  'PreAuthorizedCode', 'PushedAuthorizationRequest',
]);

// Models that revokeByGrantId drops (the ones oidc-provider revokes when a grant is revoked,
// e.g. when a consumed refresh token is presented again).
const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

// SCAN MATCH takes a glob: escape the prefix so that it matches only itself.
const globEscape = (s) => s.replace(/[\\*?[\]]/g, '\\$&');

// Returns {Adapter, ready, close}: Adapter is the class for oidc-provider's `adapter` option;
// ready() resolves once Redis answers (and rejects if it cannot be reached); close() deletes
// every key under the prefix and quits the connection.
export function redisAdapter(url, prefix) {
  let connected = false;
  const client = new Redis(url, {
    lazyConnect: true,
    // Give up at start-up (so that a wrong URL fails fast instead of hanging the benchmark);
    // once connected, reconnect as ioredis does by default.
    retryStrategy: (times) => (connected ? Math.min(times * 50, 2000) : null),
  });
  let lastError;
  client.on('error', (err) => {
    lastError = err;
    if (connected) console.error('redis:', err.message);
  });
  let closing = false;

  const grantKey = (grantId) => `${prefix}grant:${grantId}`;
  const userCodeKey = (userCode) => `${prefix}userCode:${userCode}`;
  const uidKey = (uid) => `${prefix}uid:${uid}`;

  class RedisAdapter {
    constructor(name) {
      this.name = name;
      this.consumable = CONSUMABLE.has(name);
    }

    key(id) {
      return `${prefix}${this.name}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      // After close() began, refuse writes so that no key outlives the clean-up.
      if (closing) throw new Error('redis adapter closed');
      const key = this.key(id);
      const multi = client.multi();
      if (this.consumable) {
        // HSET replaces the payload field only: a consumed mark stays on a re-saved model.
        multi.hset(key, 'payload', JSON.stringify(payload));
      } else {
        multi.set(key, JSON.stringify(payload));
      }
      if (expiresIn) multi.expire(key, expiresIn);

      if (GRANTABLE.has(this.name) && payload.grantId) {
        const gkey = grantKey(payload.grantId);
        multi.sadd(gkey, key);
        if (expiresIn) {
          // The set lives as long as its longest-lived member: NX sets a TTL on a new set, GT
          // only ever lengthens it (GT alone does nothing on a key without a TTL).
          multi.expire(gkey, expiresIn, 'NX');
          multi.expire(gkey, expiresIn, 'GT');
        }
      }
      for (const [value, lookup] of [[payload.userCode, userCodeKey], [payload.uid, uidKey]]) {
        if (!value) continue;
        if (expiresIn) multi.set(lookup(value), id, 'EX', expiresIn);
        else multi.set(lookup(value), id);
      }

      // exec() resolves with [err, result] pairs: a failed command must not pass silently.
      const results = await multi.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    }

    async find(id) {
      if (!id) return undefined;
      if (!this.consumable) {
        const data = await client.get(this.key(id));
        return data ? JSON.parse(data) : undefined;
      }
      const { payload, consumed } = await client.hgetall(this.key(id));
      if (!payload) return undefined;
      const result = JSON.parse(payload);
      if (consumed) result.consumed = Number(consumed);
      return result;
    }

    async findByUid(uid) {
      return this.find(await client.get(uidKey(uid)));
    }

    async findByUserCode(userCode) {
      return this.find(await client.get(userCodeKey(userCode)));
    }

    async consume(id) {
      // A consumed refresh token that comes back makes oidc-provider revoke the whole grant.
      await client.hset(this.key(id), 'consumed', Math.floor(Date.now() / 1000));
    }

    async destroy(id) {
      await client.del(this.key(id));
    }

    // Called once per grantable model with the same grantId: the first call drops every token
    // of the grant, the others find the set gone.
    async revokeByGrantId(grantId) {
      const gkey = grantKey(grantId);
      const keys = await client.smembers(gkey);
      await client.del(...keys, gkey);
    }
  }

  async function ready() {
    try {
      await client.connect();
      await client.ping();
    } catch (err) {
      throw lastError ?? err; // ioredis's own is a bare "Connection is closed."
    }
    connected = true;
  }

  async function close() {
    closing = true;
    let deleted = 0;
    if (client.status === 'ready') {
      const stream = client.scanStream({ match: `${globEscape(prefix)}*`, count: 1000 });
      for await (const keys of stream) {
        if (keys.length) deleted += await client.unlink(...keys);
      }
      await client.quit();
    } else {
      client.disconnect();
    }
    return deleted;
  }

  return { Adapter: RedisAdapter, ready, close };
}
