// The server API for backends (SPEC §15) against a real tetherd: keys from
// auth.api_keys_file, sends to a user's devices with the socket path's
// validation and codes, room publishes and presence, a device's
// disconnect, durable sends acked after disk (a SIGKILL right after the
// ack loses nothing), stats, and the API off without keys.
// Run: TETHERD=... node --test test/api.test.mjs

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execFile } from 'node:child_process';
import { Node, until, trackedDevice } from './support/tetherd.mjs';

const key = 'k3y-' + 'x'.repeat(40);
const nodes = [];
const clients = [];
after(async () => {
  for (const c of clients) c.close();
  for (const n of nodes) await n.remove();
});

const device = (...args) => trackedDevice(clients, ...args);

async function api(node, path, { method = 'POST', body, auth = `Bearer ${key}` } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (auth) headers.authorization = auth;
  const r = await fetch(`http://127.0.0.1:${node.port}${path}`, {
    method, headers, body: typeof body === 'string' ? body : body && JSON.stringify(body),
  });
  return { status: r.status, json: await r.json(), headers: r.headers };
}

const toUser = (type, payload, optimization) => ({ type, payload, destination: { target: 'broadcast', broadcast: { scope: 'user' } }, ...(optimization ? { optimization } : {}) });

test('a backend reaches a user\'s devices with an API key, with the socket path\'s errors', { timeout: 60000 }, async () => {
  const n = new Node(['--log-level', 'debug']);
  nodes.push(n);
  const keys = join(n.dir, 'api.keys');
  writeFileSync(keys, `# backends\nbilling ${key}\n`, { mode: 0o600 });
  n.extra.push('--auth.api_keys_file', keys);
  await n.start();
  const phone = device(n, 'alice', 'phone');
  const laptop = device(n, 'alice', 'laptop', { deviceType: 'desktop', role: 'extension' });
  await Promise.all([phone.connect(), laptop.connect()]);

  // Every device of the user, durable: acked once in both queues.
  let r = await api(n, '/api/v1/users/alice/messages', { body: toUser('invoice', { n: 1 }, { requiresAck: true }) });
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'received');
  assert.equal(r.json.recipients, 2);
  await until(() => phone.got.length === 1 && laptop.got.length === 1, 'both devices');
  assert.deepEqual(phone.got[0].payload, { n: 1 });
  assert.equal(phone.got[0].source.userId, 'system');
  assert.equal(phone.got[0].source.deviceId, 'server');
  assert.equal(phone.got[0].id, r.json.messageId);
  // The extension, and one device by id (an id given is kept).
  r = await api(n, '/api/v1/users/alice/messages', { body: { type: 'open', payload: {}, destination: { target: 'extension' } } });
  assert.equal(r.json.recipients, 1);
  r = await api(n, '/api/v1/users/alice/messages', { body: { id: 'b-1', type: 'ping', payload: {}, destination: { target: 'device', deviceId: 'phone' } } });
  assert.equal(r.json.messageId, 'b-1');
  await until(() => laptop.got.some((m) => m.type === 'open') && phone.got.some((m) => m.id === 'b-1'), 'extension and direct');

  // Keys: none, wrong, a prefix of the right one, the wrong scheme.
  for (const auth of [null, 'Bearer nope', `Bearer ${key.slice(0, -1)}`, `Bearer ${key}x`, `Basic ${key}`]) {
    r = await api(n, '/api/v1/stats', { method: 'GET', auth });
    assert.equal(r.status, 401, String(auth));
    assert.equal(r.json.error, 'unauthorized');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  }
  // Bad input gets the socket path's codes; nothing is delivered.
  const before = phone.got.length;
  r = await api(n, '/api/v1/users/alice/messages', { body: '{not json' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'MALFORMED_FRAME');
  r = await api(n, '/api/v1/users/alice/messages', { body: { payload: {}, destination: { target: 'extension' } } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'VALIDATION_ERROR');
  assert.ok(r.json.error.details.errors.some((e) => e.field === 'type'));
  r = await api(n, '/api/v1/users/alice/messages', { body: { type: 'tether.gap', payload: {}, destination: { target: 'extension' } } });
  assert.equal(r.json.error.code, 'VALIDATION_ERROR');
  r = await api(n, '/api/v1/users/alice/messages', { body: { type: 'x', payload: {}, destination: { target: 'broadcast', broadcast: { scope: 'room', room: 'r' } } } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'UNSUPPORTED_TARGET');
  r = await api(n, '/api/v1/users/alice/messages', { body: { type: 'x', payload: {}, destination: { target: 'device', deviceId: 'toaster' } } });
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'UNKNOWN_DEVICE');
  r = await api(n, '/api/v1/users/system/messages', { body: toUser('x', {}) });
  assert.equal(r.status, 400);
  r = await api(n, '/api/v1/users/alice/messages', { method: 'GET' });
  assert.equal(r.status, 405);
  r = await api(n, '/api/v1/nothing', { method: 'GET' });
  assert.equal(r.status, 404);
  assert.equal(phone.got.length, before);

  // Stats.
  r = await api(n, '/api/v1/stats', { method: 'GET' });
  assert.equal(r.status, 200);
  assert.equal(r.json.connections, 2);

  // A room: publish to its members (durable: acked once both have it on
  // disk), and read its presence.
  await phone.join('ops', { presence: true });
  await laptop.join('ops');
  r = await api(n, '/api/v1/rooms/ops/messages', { body: { type: 'deploy', payload: { v: 7 }, optimization: { requiresAck: true } } });
  assert.equal(r.status, 200);
  assert.equal(r.json.recipients, 2);
  await until(() => phone.got.some((m) => m.type === 'deploy') && laptop.got.some((m) => m.type === 'deploy'), 'the room publish');
  assert.equal(laptop.got.find((m) => m.type === 'deploy').destination.broadcast.room, 'ops');
  r = await api(n, '/api/v1/rooms/ops/messages', { body: { type: 'x', payload: {}, destination: { target: 'extension' } } });
  assert.equal(r.json.error.code, 'VALIDATION_ERROR');
  r = await api(n, '/api/v1/rooms/ops/presence', { method: 'GET' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.members.map((m) => `${m.userId}/${m.deviceId}:${m.status}`), ['alice/laptop:online', 'alice/phone:online']);
  r = await api(n, '/api/v1/rooms/nobody/presence', { method: 'GET' });
  assert.deepEqual(r.json.members, []);
  r = await api(n, '/api/v1/rooms/nobody/messages', { body: { type: 'x', payload: {} } });
  assert.equal(r.json.recipients, 0);

  // Disconnect: the laptop is closed with 4502 and does not come back.
  const closed = new Promise((resolve) => laptop.on('close', (info) => resolve(info)));
  r = await api(n, '/api/v1/users/alice/devices/laptop/disconnect');
  assert.equal(r.status, 200);
  const info = await closed;
  assert.equal(info.code, 4502);
  assert.equal(info.reconnect, false);
  await until(async () => (await api(n, '/api/v1/stats', { method: 'GET' })).json.connections === 1, 'laptop gone');
  r = await api(n, '/api/v1/users/alice/devices/laptop/disconnect');
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'DEVICE_OFFLINE');

  // Durable means on disk: the phone is offline, the node is killed right
  // after the ack and restarted: the phone gets it.
  phone.close();
  await until(async () => (await api(n, '/api/v1/stats', { method: 'GET' })).json.connections === 0, 'phone gone');
  r = await api(n, '/api/v1/users/alice/messages', { body: { id: 'durable-1', type: 'invoice', payload: { n: 2 }, destination: { target: 'device', deviceId: 'phone' }, optimization: { requiresAck: true } } });
  assert.equal(r.json.status, 'received');
  await n.stop('SIGKILL');
  assert.ok(!n.stderr.includes(key), 'the key is never logged');
  await n.start();
  const back = device(n, 'alice', 'phone');
  await back.connect();
  await until(() => back.got.some((m) => m.id === 'durable-1'), 'the durable send after the restart');
  back.close();
  laptop.close();
});

test('without auth.api_keys_file the API is off; a bad keys file stops the start', { timeout: 30000 }, async () => {
  const n = new Node();
  nodes.push(n);
  await n.start();
  const r = await api(n, '/api/v1/stats', { method: 'GET' });
  assert.equal(r.status, 404);
  assert.match(r.json.message, /api_keys_file/);
  const bad = new Node();
  nodes.push(bad);
  writeFileSync(join(bad.dir, 'api.keys'), 'short\n');
  bad.extra.push('--auth.api_keys_file', join(bad.dir, 'api.keys'));
  await assert.rejects(bad.start(), /at least 16 characters/);
});

// `tether api` (beside tetherd in the build's bin/): the same endpoints.
function tetherApi(args, env = {}) {
  return new Promise((resolve) => {
    execFile(join(dirname(process.env.TETHERD), 'tether'), ['api', ...args], { env: { ...process.env, ...env }, timeout: 20000 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, out: stdout.trim(), err: stderr }));
  });
}

test('tether api drives the endpoints from the shell', { timeout: 60000 }, async () => {
  const n = new Node();
  nodes.push(n);
  const keys = join(n.dir, 'api.keys');
  writeFileSync(keys, `cli ${key}\n`, { mode: 0o600 });
  n.extra.push('--auth.api_keys_file', keys);
  await n.start();
  const phone = device(n, 'bob', 'phone');
  await phone.connect();
  await phone.join('ops', { presence: true });
  const url = `http://127.0.0.1:${n.port}`;
  let r = await tetherApi(['send', '--url', url, '--key-file', keys, '--user', 'bob', '--to', 'phone', '--type', 'hi', '--payload', '{"a":1}', '--durable', '--id', 'cli-1']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).recipients, 1);
  await until(() => phone.got.some((m) => m.id === 'cli-1' && m.payload.a === 1), 'the CLI send');
  r = await tetherApi(['publish', '--url', url, '--key-file', keys, '--room', 'ops', '--type', 'deploy']);
  assert.equal(JSON.parse(r.out).recipients, 1);
  r = await tetherApi(['presence', '--url', url, '--key-file', keys, '--room', 'ops']);
  assert.deepEqual(JSON.parse(r.out).members.map((m) => m.deviceId), ['phone']);
  r = await tetherApi(['stats', '--url', url], { TETHER_API_KEY: key });
  assert.equal(JSON.parse(r.out).connections, 1);
  // Refusals exit 1 with the server's answer; bad flags exit 2.
  r = await tetherApi(['send', '--url', url, '--key-file', keys, '--user', 'bob', '--to', 'toaster']);
  assert.equal(r.code, 1);
  assert.equal(JSON.parse(r.out).error.code, 'UNKNOWN_DEVICE');
  r = await tetherApi(['stats', '--url', url], { TETHER_API_KEY: 'x'.repeat(20) });
  assert.equal(r.code, 1);
  r = await tetherApi(['send', '--url', url, '--key-file', keys]);
  assert.equal(r.code, 2);
  r = await tetherApi(['disconnect', '--url', url, '--key-file', keys, '--user', 'bob', '--device', 'phone']);
  assert.equal(r.code, 0);
  phone.close();
});
