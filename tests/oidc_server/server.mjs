// oidc-provider (OpenID-certified; FAPI 2.0 profiles included) on loopback, for
// tests/oidc_conformance.rs. Started by tests/oidc_server/mod.rs as
//
//   node server.mjs            with OIDC_TEST_CONFIG = {"clients": [...], "requireNonce": false,
//                              "expiresIn": 3600, "maxSeconds": 300}
//
// Prints "listening on http://127.0.0.1:PORT" first (the issuer), then serves:
//   the provider itself (discovery at /.well-known/openid-configuration, /token, /jwks, ...);
//   GET /api: a resource server that checks the access token through introspection (RFC 7662),
//     and for a DPoP-bound token the DPoP proof (RFC 9449 §7.1) itself;
//   GET /stats: counters of what the tests assert;
//   POST /control/revoke?token=T: revokes an access token (as an administrator would);
//   POST /control/rotate-api-nonce: the resource server's nonce changes, unannounced.
// "requireApiNonce" makes the resource server want its nonce in proofs (RFC 9449 §9);
// "apiNonceEvery": N gives a new nonce on every Nth 200 (in its DPoP-Nonce header);
// "apiNonceAlwaysNew" makes it refuse every nonce with a new one (a server that keeps asking).
// Each client may carry "private_jwk" (a private JWK file): its public half is registered as
// the client's jwks. Exits when stdin closes or after maxSeconds, whichever comes first.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const config = JSON.parse(process.env.OIDC_TEST_CONFIG || '{}');
const maxSeconds = config.maxSeconds ?? 300;
setTimeout(() => process.exit(0), maxSeconds * 1000).unref();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

const stats = {
  token_requests: 0,
  token_errors: [],
  auth_methods: [],
  assertion_jtis: [],
  dpop_token_proofs: 0,
  dpop_nonces_issued: 0,
  api_requests: 0,
  api_ok: 0,
  api_unauthorized: [],
  api_proof_jtis: [],
  discovery_requests: 0,
  last_token_form: null,
  mtls_base: null,
};

function publicJwk(file) {
  const jwk = JSON.parse(fs.readFileSync(file, 'utf8'));
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  return { ...key.export({ format: 'jwk' }), ...(jwk.kid ? { kid: jwk.kid } : {}) };
}

// The resource server's own registration, for token introspection (RFC 7662).
const rsSecret = crypto.randomBytes(32).toString('base64url');
const resourceServer = {
  client_id: 'resource-server',
  client_secret: rsSecret,
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
};

const clients = [resourceServer, ...(config.clients || [])].map(({ private_jwk: file, key_id: kid, ...client }) => ({
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  ...client,
  ...(file ? { jwks: { keys: [{ ...publicJwk(file), ...(kid ? { kid } : {}) }] } } : {}),
}));

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

// With "tls": {"cert", "key", "ca"} (PEM files), a second listener on https that asks for a
// client certificate (RFC 8705): the provider's mtls_endpoint_aliases point there.
let tlsServer = null;
if (config.tls) {
  tlsServer = https.createServer({
    cert: fs.readFileSync(config.tls.cert),
    key: fs.readFileSync(config.tls.key),
    ca: fs.readFileSync(config.tls.ca),
    requestCert: true,
    rejectUnauthorized: false,
  });
  await new Promise((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  stats.mtls_base = `https://127.0.0.1:${tlsServer.address().port}`;
}

function peerCertificate(socket) {
  const peer = socket && socket.getPeerCertificate ? socket.getPeerCertificate() : null;
  return peer && peer.raw ? new crypto.X509Certificate(peer.raw) : undefined;
}

const provider = new Provider(issuer, {
  clients,
  scopes: ['read', 'write'],
  clientAuthMethods: [
    'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none',
    ...(config.tls ? ['tls_client_auth'] : []),
  ],
  ...(config.tls ? { discovery: { mtls_endpoint_aliases: { token_endpoint: `${stats.mtls_base}/token` } } } : {}),
  enabledJWA: {
    clientAuthSigningAlgValues: ['HS256', 'RS256', 'PS256', 'ES256', 'EdDSA'],
    dPoPSigningAlgValues: config.dpopAlgs ?? ['ES256', 'EdDSA', 'RS256', 'PS256'],
  },
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    devInteractions: { enabled: false },
    mTLS: {
      enabled: Boolean(config.tls),
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      getCertificate: (ctx) => peerCertificate(ctx.req.socket),
      certificateAuthorized: (ctx) => ctx.req.socket.authorized === true,
      certificateSubjectMatches: (ctx, property, expected) => property === 'tls_client_auth_subject_dn'
        && peerCertificate(ctx.req.socket)?.subject === expected,
    },
    dPoP: {
      enabled: true,
      nonceSecret: crypto.randomBytes(32),
      requireNonce: () => Boolean(config.requireNonce),
    },
  },
  ttl: { ClientCredentials: config.expiresIn ?? 3600 },
});

// Counts what reaches the token endpoint, and the error code of each refusal.
provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/.well-known/')) stats.discovery_requests += 1;
  if (ctx.path !== '/token' || ctx.method !== 'POST') return next();
  stats.token_requests += 1;
  if (ctx.get('dpop')) stats.dpop_token_proofs += 1;
  await next();
  if (ctx.response.get('dpop-nonce')) stats.dpop_nonces_issued += 1;
  if (ctx.status >= 400 && ctx.body && ctx.body.error) stats.token_errors.push(ctx.body.error);
});
provider.on('grant.success', (ctx) => {
  const { params } = ctx.oidc;
  stats.auth_methods.push(ctx.oidc.client.clientAuthMethod);
  if (params.client_assertion) stats.assertion_jtis.push(jose.decodeJwt(params.client_assertion).jti);
  stats.last_token_form = Object.keys(params).filter((key) => params[key] !== undefined).sort();
});

const seenProofs = new Set();

// RFC 9449 §4.3 and §7.1: the proof's signature against its own jwk, typ, htm, htu, ath, a jti
// not seen before, a recent iat, and the key's thumbprint against the token's cnf.jkt.
async function checkProof(req, token, jkt) {
  const proof = req.headers.dpop;
  if (!proof) return 'no DPoP proof';
  const header = jose.decodeProtectedHeader(proof);
  if (header.typ !== 'dpop+jwt' || !header.jwk) return 'bad proof header';
  if (header.jwk.d) return 'private key in the proof';
  let payload;
  try {
    ({ payload } = await jose.jwtVerify(proof, await jose.importJWK(header.jwk, header.alg), {
      typ: 'dpop+jwt',
      maxTokenAge: '60s',
    }));
  } catch (err) {
    return `proof signature: ${err.code}`;
  }
  if (payload.htm !== req.method) return 'htm';
  if (payload.htu !== `${issuer}${req.url.split('?')[0]}`) return `htu ${payload.htu}`;
  const ath = jose.base64url.encode(crypto.createHash('sha256').update(token).digest());
  if (payload.ath !== ath) return 'ath';
  if (seenProofs.has(payload.jti)) return 'jti replayed';
  seenProofs.add(payload.jti);
  stats.api_proof_jtis.push(payload.jti);
  if (await jose.calculateJwkThumbprint(header.jwk) !== jkt) return 'cnf.jkt';
  if (config.requireApiNonce && (payload.nonce !== apiNonce || config.apiNonceAlwaysNew)) {
    if (config.apiNonceAlwaysNew) apiNonce = newNonce();
    return 'use_dpop_nonce';
  }
  return null;
}
const newNonce = () => crypto.randomBytes(16).toString('base64url');
let apiNonce = newNonce();

async function introspect(token) {
  const answer = await fetch(`${issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`resource-server:${rsSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }),
  });
  return answer.ok ? answer.json() : undefined;
}

async function api(req, res) {
  stats.api_requests += 1;
  const send = (status, body, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const [scheme, token] = (req.headers.authorization || '').split(' ');
  // The token as the authorization server describes it (RFC 7662), cnf included.
  const record = token ? await introspect(token) : undefined;
  if (!record || !record.active) {
    stats.api_unauthorized.push('invalid_token');
    return send(401, { error: 'invalid_token' }, { 'www-authenticate': `${scheme || 'Bearer'} error="invalid_token"` });
  }
  const x5t = record.cnf && record.cnf['x5t#S256'];
  if (x5t) {
    // RFC 8705 §3: the certificate of this connection must be the one the token is bound to.
    const cert = peerCertificate(req.socket);
    const thumbprint = cert && crypto.createHash('sha256').update(cert.raw).digest('base64url');
    if (thumbprint !== x5t) {
      stats.api_unauthorized.push('cnf.x5t#S256');
      return send(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
  }
  const jkt = record.cnf && record.cnf.jkt;
  if (jkt) {
    if (scheme !== 'DPoP') {
      stats.api_unauthorized.push('bearer for a DPoP token');
      return send(401, { error: 'invalid_token' }, { 'www-authenticate': 'DPoP error="invalid_token"' });
    }
    const problem = await checkProof(req, token, jkt);
    if (problem === 'use_dpop_nonce') {
      stats.api_unauthorized.push(problem);
      return send(401, { error: problem }, {
        'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="nonce required"',
        'dpop-nonce': apiNonce,
      });
    }
    if (problem) {
      stats.api_unauthorized.push(problem);
      return send(401, { error: 'invalid_dpop_proof', problem }, { 'www-authenticate': 'DPoP error="invalid_dpop_proof"' });
    }
  } else if (scheme !== 'Bearer') {
    stats.api_unauthorized.push('not Bearer');
    return send(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
  }
  stats.api_ok += 1;
  const rotate = config.apiNonceEvery && stats.api_ok % config.apiNonceEvery === 0;
  if (rotate) apiNonce = newNonce();
  return send(200, {
    client_id: record.client_id, scope: record.scope, jkt: jkt ?? null, x5t: x5t ?? null,
    method: req.method, body_bytes: await bodyLength(req),
  }, rotate ? { 'dpop-nonce': apiNonce } : {});
}

async function bodyLength(req) {
  let length = 0;
  for await (const chunk of req) length += chunk.length;
  return length;
}

async function control(req, res) {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/control/revoke') {
    const token = await provider.ClientCredentials.find(url.searchParams.get('token'));
    if (token) await token.destroy();
  } else if (url.pathname === '/control/rotate-api-nonce') {
    apiNonce = newNonce();
  }
  res.writeHead(204);
  res.end();
}

const callback = provider.callback();
const handle = (req, res) => {
  if (req.url.startsWith('/control/')) {
    return control(req, res).catch((err) => {
      res.writeHead(500);
      res.end(String(err));
    });
  }
  if (req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(stats));
  }
  if (req.url.startsWith('/api')) {
    return api(req, res).catch((err) => {
      res.writeHead(500);
      res.end(String(err));
    });
  }
  return callback(req, res);
};
server.on('request', handle);
if (tlsServer) tlsServer.on('request', handle);

console.log(`listening on ${issuer}`);
