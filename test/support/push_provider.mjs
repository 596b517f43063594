// A stand-in push provider for the tests of the push client and pushes:
// Node's own http2 server over TLS (HTTP/1.1 clients allowed too), or plain
// HTTP/1.1 with --plain. Prints "listening on 127.0.0.1:PORT", then one
// line per request it finished reading: "REQ " + JSON {session, version,
// method, path, headers, body, auth}. What it answers depends on the path:
//   /ok     200 {"ok":true}          /gone   410 {"reason":"Unregistered"}
//   /retry  429, Retry-After: 7 (or ?after=N)   /hang   never answers
//   /big    200 with 200,000 bytes
// With --credentials DIR it also speaks APNs and FCM HTTP v1 as Apple and
// Google document them, with credentials it makes and writes to DIR the way
// they hand them out: apns.p8 (an EC P-256 key, PKCS#8; key id KEYID12345,
// team TEAM123456) and service-account.json (an RSA key; its token_uri is
// this server's /token). `auth` says whether the request's credential
// verified ("ok") or why not:
//   POST /3/device/TOKEN    APNs: an ES256 provider token (signature checked
//     with the key's public half, kid, iss, iat within the hour) and
//     apns-topic, apns-push-type, apns-priority, apns-collapse-id; a bad
//     token 403 InvalidProviderToken. TOKEN starting dead: 410 Unregistered,
//     bad0: 400 BadDeviceToken, 0ff1: never answered, e0e0: the first
//     provider token it comes with is refused as expired (403
//     ExpiredProviderToken, again if it comes back); else 200 + apns-id.
//   POST /token             Google OAuth: grant_type jwt-bearer and an RS256
//     assertion (signature, iss, aud, scope, an hour at most); answers an
//     access token (expires_in 3599) or 400 invalid_grant.
//   POST /v1/projects/P/messages:send   FCM: a bearer token /token issued,
//     else 401 UNAUTHENTICATED; message.token starting dead: 404
//     UNREGISTERED, hang: never answered, retry: 429 (Retry-After 1),
//     revoke: the first access token it comes with is revoked (401); else
//     200 {"name"}.
// Anything else 404.
// Usage: node push_provider.mjs [--plain] --cert CERT.pem --key KEY.pem
//        [--credentials DIR]
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';

const args = process.argv.slice(2);
const arg = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const plain = args.includes('--plain');
const credentials = arg('--credentials');

const APNS_KEY_ID = 'KEYID12345';
const APNS_TEAM = 'TEAM123456';
const FCM_PROJECT = 'tether-test';
const FCM_EMAIL = `pusher@${FCM_PROJECT}.iam.gserviceaccount.com`;
const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const apnsKey = crypto.generateKeyPairSync('ec', {namedCurve: 'P-256'});
const fcmKey = crypto.generateKeyPairSync('rsa', {modulusLength: 2048});
let tokenUri = '';
const accessTokens = new Set();
let expiredBearer = null; // the provider token refused for e0e0 tokens
let revoked = false;      // the access token revoked for a revoke token
let messages = 0;

const b64url = (s) => Buffer.from(s, 'base64url');

// A compact JWS checked against `key` with `alg`; its header and claims,
// or a string saying why not.
function verifyJws(jws, alg, key) {
  const parts = typeof jws === 'string' ? jws.split('.') : [];
  if (parts.length !== 3) return 'not a compact JWS';
  let header, claims;
  try {
    header = JSON.parse(b64url(parts[0]).toString('utf8'));
    claims = JSON.parse(b64url(parts[1]).toString('utf8'));
  } catch {
    return 'header or claims not JSON';
  }
  if (header.alg !== alg) return `alg ${header.alg}, not ${alg}`;
  const data = Buffer.from(parts[0] + '.' + parts[1]);
  const sig = b64url(parts[2]);
  const ok = alg === 'ES256'
    ? crypto.verify('sha256', data, {key, dsaEncoding: 'ieee-p1363'}, sig)
    : crypto.verify('sha256', data, key, sig);
  return ok ? {header, claims} : 'bad signature';
}

const now = () => Math.floor(Date.now() / 1000);

function apnsAuth(headers) {
  const m = /^bearer (.+)$/.exec(headers.authorization ?? '');
  if (!m) return 'no bearer token';
  const v = verifyJws(m[1], 'ES256', apnsKey.publicKey);
  if (typeof v === 'string') return v;
  if (v.header.kid !== APNS_KEY_ID) return `kid ${v.header.kid}`;
  if (v.claims.iss !== APNS_TEAM) return `iss ${v.claims.iss}`;
  if (!Number.isInteger(v.claims.iat) || Math.abs(now() - v.claims.iat) > 3600)
    return `iat ${v.claims.iat}`;
  return 'ok';
}

function assertionAuth(body) {
  const form = new URLSearchParams(body);
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
    return `grant_type ${form.get('grant_type')}`;
  const v = verifyJws(form.get('assertion'), 'RS256', fcmKey.publicKey);
  if (typeof v === 'string') return v;
  const c = v.claims;
  if (c.iss !== FCM_EMAIL) return `iss ${c.iss}`;
  if (c.aud !== tokenUri) return `aud ${c.aud}`;
  if (c.scope !== FCM_SCOPE) return `scope ${c.scope}`;
  if (!(c.exp > c.iat && c.exp - c.iat <= 3600)) return 'lifetime';
  if (now() < c.iat - 60 || now() > c.exp) return 'not valid now';
  return 'ok';
}

function json(res, status, value, headers = {}) {
  res.writeHead(status, {'content-type': 'application/json', ...headers});
  res.end(JSON.stringify(value));
}

// Answers an APNs, OAuth or FCM request (true), or leaves it (false).
function provider(req, res, path, body, record) {
  if (!credentials || req.method !== 'POST') return false;
  let m = /^\/3\/device\/([0-9a-fA-F]+)$/.exec(path);
  if (m) {
    record.auth = apnsAuth(req.headers);
    if (record.auth !== 'ok')
      return json(res, 403, {reason: 'InvalidProviderToken'}), true;
    if (!req.headers['apns-topic'])
      return json(res, 400, {reason: 'MissingTopic'}), true;
    const token = m[1];
    const bearer = req.headers.authorization;
    if (token.startsWith('e0e0') && (expiredBearer ?? bearer) === bearer) {
      expiredBearer = bearer;
      return json(res, 403, {reason: 'ExpiredProviderToken'}), true;
    }
    if (token.startsWith('dead'))
      json(res, 410, {reason: 'Unregistered', timestamp: Date.now()});
    else if (token.startsWith('bad0'))
      json(res, 400, {reason: 'BadDeviceToken'});
    else if (!token.startsWith('0ff1')) {
      res.writeHead(200, {'apns-id': crypto.randomUUID()});
      res.end();
    }
    return true;
  }
  if (path === '/token') {
    record.auth = assertionAuth(body);
    if (record.auth !== 'ok')
      return json(res, 400, {error: 'invalid_grant',
                             error_description: record.auth}), true;
    const token = 'ya29.test-' + crypto.randomBytes(12).toString('hex');
    accessTokens.add(token);
    return json(res, 200, {access_token: token, expires_in: 3599,
                           token_type: 'Bearer'}), true;
  }
  m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(path);
  if (m) {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    record.auth = bearer && accessTokens.has(bearer[1]) ? 'ok'
                                                        : 'unknown bearer';
    const error = (code, status, errorCode, headers) =>
      json(res, code, {error: {code, message: status, status,
        details: errorCode ? [{'@type':
          'type.googleapis.com/google.firebase.fcm.v1.FcmError',
          errorCode}] : []}}, headers);
    if (record.auth !== 'ok') return error(401, 'UNAUTHENTICATED'), true;
    if (m[1] !== FCM_PROJECT) return error(403, 'PERMISSION_DENIED'), true;
    let token = '';
    try {
      token = JSON.parse(body).message.token;
    } catch {
      return error(400, 'INVALID_ARGUMENT'), true;
    }
    if (token.startsWith('revoke') && !revoked) {
      revoked = true;
      accessTokens.delete(bearer[1]);
      return error(401, 'UNAUTHENTICATED'), true;
    }
    if (token.startsWith('dead')) error(404, 'NOT_FOUND', 'UNREGISTERED');
    else if (token.startsWith('retry'))
      error(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED', {'retry-after': '1'});
    else if (!token.startsWith('hang'))
      json(res, 200, {name: `projects/${m[1]}/messages/${++messages}`});
    return true;
  }
  return false;
}

let sessions = 0;
const sessionIds = new WeakMap();

function handle(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const key = req.stream ? req.stream.session : req.socket;
    if (!sessionIds.has(key)) sessionIds.set(key, ++sessions);
    const headers = {};
    for (const [k, v] of Object.entries(req.headers))
      if (!k.startsWith(':')) headers[k] = v;
    const body = Buffer.concat(chunks).toString('utf8');
    const record = {
      session: sessionIds.get(key),
      version: req.httpVersion,
      method: req.method,
      path: req.url,
      headers,
      body,
      auth: null,
    };
    const url = new URL(req.url, 'http://x');
    const answered = provider(req, res, url.pathname, body, record);
    process.stdout.write('REQ ' + JSON.stringify(record) + '\n');
    if (answered) return;
    switch (url.pathname) {
      case '/ok':
        res.writeHead(200, {'content-type': 'application/json'});
        res.end('{"ok":true}');
        break;
      case '/retry':
        res.writeHead(429, {'retry-after': url.searchParams.get('after') ?? '7'});
        res.end('{"reason":"TooManyRequests"}');
        break;
      case '/gone':
        res.writeHead(410);
        res.end('{"reason":"Unregistered"}');
        break;
      case '/big':
        res.writeHead(200);
        res.end('x'.repeat(200000));
        break;
      case '/hang':
        break; // never answered
      default:
        res.writeHead(404);
        res.end();
    }
  });
}

const server = plain
  ? http.createServer(handle)
  : http2.createSecureServer({
      cert: fs.readFileSync(arg('--cert')),
      key: fs.readFileSync(arg('--key')),
      allowHTTP1: true,
    }, handle);
server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  if (credentials) {
    tokenUri = `${plain ? 'http' : 'https'}://127.0.0.1:${port}/token`;
    const pkcs8 = (k) => k.export({type: 'pkcs8', format: 'pem'});
    fs.writeFileSync(`${credentials}/apns.p8`, pkcs8(apnsKey.privateKey));
    fs.writeFileSync(`${credentials}/service-account.json`, JSON.stringify({
      type: 'service_account',
      project_id: FCM_PROJECT,
      private_key_id: crypto.randomBytes(20).toString('hex'),
      private_key: pkcs8(fcmKey.privateKey),
      client_email: FCM_EMAIL,
      client_id: '100000000000000000000',
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: tokenUri,
    }, null, 2));
  }
  process.stdout.write(`listening on 127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
