// A relying party built on panva's openid-client, driven over HTTP by the Python tests.
//
// Every protocol step is openid-client's own code: discovery, private_key_jwt client
// assertions, pushed authorization requests, signed request objects, DPoP proofs and
// nonce retries, the code exchange (state, nonce, PKCE, `iss`, ID token signature against
// the provider's JWKS), userinfo, refresh and introspection. The tests play the browser
// in between and ask this process, through a small JSON API on loopback, to take each
// step, sometimes with one thing changed (another audience, another key, a replay).
//
//   node rp.mjs config.json        config: {issuer, port, clients: {name: {...}}}

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import * as client from 'openid-client';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = new URL(config.issuer);
const flows = new Map(); // state -> a pending authorization request
const sessions = new Map(); // id -> tokens, DPoP key and client of a finished login
let lastRequest = null; // the last HTTP request openid-client sent, for replay tests

// Every request openid-client makes goes through here, so a test can replay one as it was.
async function recordingFetch(url, options) {
  lastRequest = { url: String(url), method: options.method, headers: options.headers,
    body: options.body == null ? undefined : String(options.body) };
  return fetch(url, options);
}

async function configuration(name, tamper = {}) {
  const registered = config.clients[name];
  let authentication;
  if (tamper.secret) {
    authentication = client.ClientSecretPost(tamper.secret);
  } else if (registered.jwk) {
    const key = await importPrivateKey(registered.jwk);
    authentication = client.PrivateKeyJwt({ key, kid: registered.jwk.kid }, {
      [client.modifyAssertion]: (header, payload) => {
        if (tamper.aud !== undefined) payload.aud = tamper.aud;
      },
    });
  } else {
    authentication = client.ClientSecretBasic(registered.secret);
  }
  const metadata = { id_token_signed_response_alg: registered.id_token_alg ?? 'ES256' };
  const found = await client.discovery(issuer, registered.client_id, metadata, authentication, {
    execute: [client.allowInsecureRequests], [client.customFetch]: recordingFetch,
  });
  return found;
}

async function importPrivateKey(jwk) {
  const algorithm = jwk.kty === 'EC' ? { name: 'ECDSA', namedCurve: 'P-256' }
    : { name: 'RSA-PSS', hash: 'SHA-256' };
  return crypto.subtle.importKey('jwk', jwk, algorithm, false, ['sign']);
}

function failure(err) {
  const challenge = err.cause?.[0];
  return {
    failed: true,
    error: err.error ?? challenge?.parameters?.error ?? err.code ?? String(err),
    error_description: err.error_description ?? challenge?.parameters?.error_description,
    status: err.status ?? err.cause?.status,
    message: err.message,
  };
}

function unsignedRequestObject(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'oauth-authz-req+jwt' })}.${part(claims)}.`;
}

// --- the steps a test can ask for ---------------------------------------------------------

async function authorizationRequest(body) {
  const tamper = body.tamper ?? {};
  const cfg = await configuration(body.client, tamper);
  const registered = config.clients[body.client];
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const dpopKey = body.dpop === false ? null : await client.randomDPoPKeyPair('ES256');
  const parameters = {
    redirect_uri: registered.redirect_uri,
    scope: body.scope ?? 'openid profile',
    state,
    nonce,
    code_challenge: tamper.plain_pkce ? verifier : await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: tamper.plain_pkce ? 'plain' : 'S256',
    ...(body.parameters ?? {}),
  };
  if (body.claims) parameters.claims = JSON.stringify(body.claims);
  let url;
  if (body.mode === 'front') {
    url = client.buildAuthorizationUrl(cfg, parameters);
  } else if (body.mode === 'jar') {
    url = await client.buildAuthorizationUrlWithJAR(cfg, parameters, await signingKey(body));
  } else {
    let pushed = parameters;
    if (body.mode === 'jar-par') {
      const jar = await client.buildAuthorizationUrlWithJAR(cfg, parameters, await signingKey(body));
      pushed = { request: jar.searchParams.get('request') };
    } else if (body.mode === 'none-par') {
      pushed = { request: unsignedRequestObject({ ...parameters, client_id: registered.client_id,
        iss: registered.client_id, aud: config.issuer, exp: Math.floor(Date.now() / 1000) + 60 }) };
    }
    const DPoP = dpopKey ? client.getDPoPHandle(cfg, dpopKey) : undefined;
    url = await client.buildAuthorizationUrlWithPAR(cfg, pushed, { DPoP });
  }
  flows.set(state, { client: body.client, verifier, nonce, dpopKey });
  return { url: url.href, state };
}

async function signingKey(body) {
  if (body.tamper?.unregistered_key) {
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true,
      ['sign', 'verify']);
    return { key: pair.privateKey, kid: 'not-registered' };
  }
  const jwk = config.clients[body.client].jwk;
  return { key: await importPrivateKey(jwk), kid: jwk.kid };
}

async function codeExchange(body) {
  const callback = new URL(body.url);
  const flow = flows.get(callback.searchParams.get('state'));
  const cfg = await configuration(flow.client);
  const DPoP = body.dpop === false || !flow.dpopKey ? undefined
    : client.getDPoPHandle(cfg, flow.dpopKey);
  const tokens = await client.authorizationCodeGrant(cfg, callback, {
    pkceCodeVerifier: flow.verifier, expectedState: callback.searchParams.get('state'),
    expectedNonce: flow.nonce, idTokenExpected: true,
  }, undefined, { DPoP });
  const id = client.randomState();
  sessions.set(id, { client: flow.client, dpopKey: flow.dpopKey, tokens });
  return { session: id, token_type: tokens.token_type, access_token: tokens.access_token,
    refresh_token: tokens.refresh_token, id_token_claims: tokens.claims(),
    expires_in: tokens.expires_in };
}

// `dpop`: "own" (the session's key), "other" (a fresh key) or "none".
async function proofHandle(cfg, session, dpop) {
  if (dpop === 'none' || !session.dpopKey) return undefined;
  const key = dpop === 'other' ? await client.randomDPoPKeyPair('ES256') : session.dpopKey;
  return client.getDPoPHandle(cfg, key);
}

async function userinfo(body) {
  const session = sessions.get(body.session);
  const cfg = await configuration(session.client);
  const DPoP = await proofHandle(cfg, session, body.dpop ?? 'own');
  const sub = session.tokens.claims().sub;
  return { claims: await client.fetchUserInfo(cfg, session.tokens.access_token, sub, { DPoP }) };
}

async function refresh(body) {
  const session = sessions.get(body.session);
  const cfg = await configuration(session.client);
  const DPoP = await proofHandle(cfg, session, body.dpop ?? 'own');
  const tokens = await client.refreshTokenGrant(cfg, session.tokens.refresh_token, undefined,
    { DPoP });
  session.tokens = tokens;
  return { token_type: tokens.token_type, access_token: tokens.access_token,
    refresh_token: tokens.refresh_token, id_token_claims: tokens.claims() };
}

async function introspect(body) {
  const session = sessions.get(body.session);
  const cfg = await configuration(session.client);
  const token = body.token === 'refresh' ? session.tokens.refresh_token
    : session.tokens.access_token;
  return { introspection: await client.tokenIntrospection(cfg, token) };
}

// Send the last request again, byte for byte: a replayed assertion or DPoP proof.
async function replayLast() {
  const response = await fetch(lastRequest.url, { method: lastRequest.method,
    headers: lastRequest.headers, body: lastRequest.body, redirect: 'manual' });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: response.status, body: json, www_authenticate:
    response.headers.get('www-authenticate'), url: lastRequest.url };
}

const STEPS = { '/authorize': authorizationRequest, '/exchange': codeExchange, '/userinfo': userinfo,
  '/refresh': refresh, '/introspect': introspect, '/replay': replayLast };

createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  let answer;
  if (req.method === 'GET' && req.url === '/ready') {
    answer = { ready: true };
  } else if (req.method === 'POST' && STEPS[req.url]) {
    try {
      answer = await STEPS[req.url](JSON.parse(Buffer.concat(chunks).toString() || '{}'));
    } catch (err) {
      answer = failure(err);
    }
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
}).listen(config.port, '127.0.0.1');
