// The reference for `bench/run.py --reference`: panva's oidc-provider (one node process,
// an in-memory adapter), one confidential client (client_secret_basic), ES256
// JWT access tokens (RFC 9068, through a resource indicator), RS256 ID tokens, rotating
// refresh tokens — the same work our provider does per refresh grant.
//
//   node server.js PORT CHAINS
//
// Refresh tokens are minted at start with oidc-provider's own models (Grant, RefreshToken)
// for a test account, as if a login had happened; the first stdout line is JSON:
//   {"issuer": ..., "client_id": ..., "client_secret": ..., "refresh_tokens": [...]}
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 3000);
const chains = Number(process.argv[3] || 4);
const idTokenAlg = process.argv[4] || 'RS256'; // as the provider's bench portal
const issuer = `http://127.0.0.1:${port}`;
const clientId = 'bench-portal';
const clientSecret = 'bench-reference-secret-0123456789abcdefghijklmnop';
const resource = 'urn:bench:api';
const accountId = 'bench-account-1';

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
  adapter: MemoryAdapter,
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
  for (let i = 0; i < chains; i += 1) refreshTokens.push(await mintRefreshToken());
  process.stdout.write(`${JSON.stringify({
    issuer, client_id: clientId, client_secret: clientSecret, refresh_tokens: refreshTokens,
  })}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
