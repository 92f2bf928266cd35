// The reference for `bench/run.py --reference`: panva's oidc-provider (one node process), one
// confidential client (client_secret_basic), ES256 JWT access tokens (RFC 9068, through a
// resource indicator), RS256 ID tokens, rotating refresh tokens — the same work our provider
// does per refresh grant.
//
//   node server.js PORT CHAINS [ID_TOKEN_ALG [REDIS_URL [KEY_PREFIX]]]
//
// The store (oidc-provider's "adapter") is chosen at start:
//   - no REDIS_URL (argument absent or empty, and BENCH_REFERENCE_REDIS_URL unset): the
//     in-memory adapter below, state in this process only;
//   - REDIS_URL given (e.g. redis://127.0.0.1:6379/14; or BENCH_REFERENCE_REDIS_URL):
//     redis_adapter.js, state in Redis as in a durable, shared deployment. Every key starts with
//     KEY_PREFIX (or BENCH_REFERENCE_REDIS_PREFIX; default `bench-ref:<random>:`, new at each
//     start): `<prefix><Model>:<id>` (JSON, or a hash {payload, consumed} for single-use models
//     such as RefreshToken), `<prefix>grant:<grantId>` (the set of a grant's token keys, for
//     revocation), `<prefix>userCode:<code>` and `<prefix>uid:<uid>` (lookups), each with the
//     model's TTL. On SIGTERM or SIGINT the process deletes the keys under its prefix (SCAN)
//     and quits the connection. ioredis is loaded only in this mode.
//
// Refresh tokens are minted at start with oidc-provider's own models (Grant, RefreshToken)
// for a test account, as if a login had happened; the first stdout line is JSON:
//   {"issuer": ..., "client_id": ..., "client_secret": ..., "refresh_tokens": [...],
//    "adapter": "memory" | "redis"}   (+ "redis_prefix": ... with Redis)
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 3000);
const chains = Number(process.argv[3] || 4);
const idTokenAlg = process.argv[4] || 'RS256'; // as the provider's bench portal
const issuer = `http://127.0.0.1:${port}`;
const clientId = 'bench-portal';
const clientSecret = 'bench-reference-secret-0123456789abcdefghijklmnop';
const resource = 'urn:bench:api';
const accountId = 'bench-account-1';
const redisUrl = process.argv[5] || process.env.BENCH_REFERENCE_REDIS_URL || '';
const redisPrefix = process.argv[6] || process.env.BENCH_REFERENCE_REDIS_PREFIX
  || `bench-ref:${randomBytes(6).toString('hex')}:`;

// With Redis: fail here, before listening, when it cannot be reached.
const redis = redisUrl
  ? (await import('./redis_adapter.js')).redisAdapter(redisUrl, redisPrefix) : undefined;
if (redis) {
  try {
    await redis.ready();
  } catch (err) {
    console.error(`cannot reach Redis: ${err.message}`);
    process.exit(1);
  }
}

function jwk(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `bench-${alg}` };
}

// An in-memory adapter without eviction: oidc-provider's own development adapter is an LRU
// of 1,000 entries, which a few seconds of refresh load push the grants out of.
const stores = new Map();
class MemoryAdapter {
  constructor(name) {
    if (!stores.has(name)) stores.set(name, new Map());
    this.store = stores.get(name);
    this.name = name;
  }

  static grants = new Map(); // grantId -> Set of [model name, id]

  async upsert(id, payload, expiresIn) {
    this.store.set(id, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : 0 });
    if (payload.grantId) {
      if (!MemoryAdapter.grants.has(payload.grantId)) {
        MemoryAdapter.grants.set(payload.grantId, new Set());
      }
      MemoryAdapter.grants.get(payload.grantId).add([this.name, id]);
    }
  }

  async find(id) {
    const entry = this.store.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt && entry.expiresAt < Date.now()) {
      this.store.delete(id);
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    for (const [id, entry] of this.store) if (entry.payload.uid === uid) return this.find(id);
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [id, entry] of this.store) {
      if (entry.payload.userCode === userCode) return this.find(id);
    }
    return undefined;
  }

  async consume(id) {
    const entry = this.store.get(id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    this.store.delete(id);
  }

  async revokeByGrantId(grantId) {
    for (const [name, id] of MemoryAdapter.grants.get(grantId) || []) stores.get(name)?.delete(id);
    MemoryAdapter.grants.delete(grantId);
  }
}

const provider = new Provider(issuer, {
  adapter: redis ? redis.Adapter : MemoryAdapter,
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1:9/callback'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: idTokenAlg,
  }],
  jwks: {
    keys: [
      jwk('rsa', { modulusLength: 2048 }, 'RS256'),
      jwk('ec', { namedCurve: 'P-256' }, 'ES256'),
    ],
  },
  cookies: { keys: ['bench-reference-cookie-key'] },
  scopes: ['openid', 'offline_access', 'api'],
  claims: { openid: ['sub'] },
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  rotateRefreshToken: true,
  ttl: { AccessToken: 600, IdToken: 600, RefreshToken: 30 * 24 * 3600, Grant: 30 * 24 * 3600 },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: 'api',
        audience: resource,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

async function mintRefreshToken() {
  const client = await provider.Client.find(clientId);
  const grant = new provider.Grant({ accountId, clientId });
  grant.addOIDCScope('openid offline_access');
  grant.addResourceScope(resource, 'api');
  const grantId = await grant.save();
  const token = new provider.RefreshToken({
    accountId,
    client,
    grantId,
    gty: 'authorization_code',
    scope: 'openid offline_access api',
    resource,
    authTime: Math.floor(Date.now() / 1000),
    acr: 'urn:bench:password+otp',
    amr: ['pwd', 'otp'],
  });
  return token.save();
}

const server = provider.listen(port, '127.0.0.1', async () => {
  const refreshTokens = [];
  try {
    for (let i = 0; i < chains; i += 1) refreshTokens.push(await mintRefreshToken());
  } catch (err) {
    if (!redis) throw err;
    console.error('minting the refresh tokens failed:', err);
    stopWithRedis(1);
    return;
  }
  process.stdout.write(`${JSON.stringify({
    issuer,
    client_id: clientId,
    client_secret: clientSecret,
    refresh_tokens: refreshTokens,
    adapter: redis ? 'redis' : 'memory',
    ...(redis ? { redis_prefix: redisPrefix } : {}),
  })}\n`);
});

// With Redis: stop taking requests (idle keep-alive connections at once, busy ones after 1 s),
// then delete this process's keys and quit the connection.
let stopping = false;
function stopWithRedis(code = 0) {
  if (stopping) return;
  stopping = true;
  setTimeout(() => { console.error('shutdown timed out'); process.exit(1); }, 10_000).unref();
  const force = setTimeout(() => server.closeAllConnections(), 1000);
  server.close(async () => {
    clearTimeout(force);
    try {
      const deleted = await redis.close();
      console.error(`deleted ${deleted} Redis keys under ${redisPrefix}`);
    } catch (err) {
      console.error('Redis clean-up failed:', err.message);
      process.exit(1);
    }
    process.exit(code);
  });
  server.closeIdleConnections();
}

if (redis) {
  process.on('SIGTERM', () => stopWithRedis());
  process.on('SIGINT', () => stopWithRedis());
} else {
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
