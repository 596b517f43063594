// The client against real tetherd processes: resume across dropped links
// and a killed node with nothing lost and nothing doubled, rooms and
// presence, terminal closes, the outbox. Run: TETHERD=... node --test test/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TetherClient, TetherError, backoffDelay, drainRetryAfter, isTerminalClose } from '../tether-client.js';
import { connect as tcpConnect, createServer as tcpServer } from 'node:net';
import { WebSocket, until, next, fastBackoff as fast, trackedRun } from './support/tetherd.mjs';

const { clients, startNode } = trackedRun();

function client(node, user, device, options = {}) {
  return track(new TetherClient({
    url: node.url,
    token: node.token(user, device, options.claims),
    WebSocket,
    backoff: fast,
    ...options,
  }));
}

function track(c) {
  clients.push(c);
  return c;
}

test('backoff is full jitter within the capped window', () => {
  const b = { baseMs: 250, capMs: 30000, multiplier: 2 };
  assert.equal(backoffDelay(0, b, 0.999), 249);
  assert.equal(backoffDelay(3, b, 0.5), 1000);
  assert.equal(backoffDelay(20, b, 0.5), 15000);
  assert.equal(backoffDelay(5, b, 0), 0);
  assert.ok(isTerminalClose(4500) && isTerminalClose(1008) && !isTerminalClose(1001) && !isTerminalClose(4002));
});

for (const codec of ['json', 'msgpack']) {
  test(`a message to itself is acked received and delivered once (${codec})`, { timeout: 30000 }, async () => {
    const node = await startNode();
    const c = client(node, 'alice', 'phone', { codec, tokenIn: codec === 'json' ? 'query' : 'header' });
    const w = await c.connect();
    assert.equal(w.deviceId, 'phone');
    assert.equal(w.codec, `tether.v1.${codec}`);
    const got = next(c, 'message');
    const ack = await c.sendToDevice('phone', 'chat', { text: 'hi', n: [1, 2.5, null] }, { requiresAck: true });
    assert.equal(ack.status, 'received');
    assert.equal(ack.recipients, 1);
    const [m] = await got;
    assert.equal(m.type, 'chat');
    assert.deepEqual(m.payload, { text: 'hi', n: [1, 2.5, null] });
    assert.equal(typeof m.seq, 'number');
    // A refusal rejects with the server's code.
    await assert.rejects(c.sendToDevice('nobody', 'chat', {}, { requiresAck: true }),
      (e) => e instanceof TetherError && e.code === 'UNKNOWN_DEVICE');
    c.close();
  });
}

test('a receiver whose link drops twice mid-stream gets every message once, in order', { timeout: 60000 }, async (t) => {
  const node = await startNode();
  const a = client(node, 'u1', 'sender');
  const b = client(node, 'u1', 'receiver');
  await a.connect();
  await b.connect();
  const got = [];
  b.on('message', (m) => got.push(m.payload.n));
  const total = 300;
  const acks = [];
  for (let n = 0; n < total; n++) {
    acks.push(a.sendToDevice('receiver', 'seq', { n }, { requiresAck: true }));
    if (n === 60 || n === 180) {
      // A drop while it is still reconnecting would drop nothing.
      await until(() => b.state === 'open', 'the receiver open before a drop');
      b.dropLinkForTesting();
    }
    if (n % 20 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(acks);
  await until(() => got.length >= total, `${total} messages at the receiver (got ${got.length})`, 20000);
  assert.deepEqual(got, Array.from({ length: total }, (_, i) => i));
  assert.ok(b.stats.connects >= 3, `receiver connected ${b.stats.connects} times`);
  assert.ok(b.stats.resumes >= 2, `receiver resumed ${b.stats.resumes} times`);
  t.diagnostic(`receiver ${JSON.stringify(b.stats)}`);
  a.close();
  b.close();
});

test('a node killed mid-stream and restarted on its data dir: every acked message arrives, none twice', { timeout: 90000 }, async (t) => {
  const node = await startNode();
  const a = client(node, 'u2', 'sender');
  const b = client(node, 'u2', 'receiver');
  await a.connect();
  await b.connect();
  const got = new Map();
  let doubled = 0;
  b.on('message', (m) => {
    if (got.has(m.id)) doubled++;
    got.set(m.id, m.payload.n);
  });
  const total = 200;
  const acked = new Set();
  let killed = false;
  const sends = [];
  for (let n = 0; n < total; n++) {
    const id = `kill-${n}`;
    sends.push(a.sendToDevice('receiver', 'seq', { n }, { requiresAck: true, id }).then(() => acked.add(id)));
    if (n === 80) {
      await until(() => acked.size >= 40, '40 acks before the kill', 20000);
      await node.stop('SIGKILL');
      killed = true;
      await node.start(); // the same port and data dir
    }
    if (n % 10 === 0) await new Promise((r) => setTimeout(r, 2));
  }
  assert.ok(killed);
  await Promise.all(sends); // unacked sends were resent after the reconnect
  assert.equal(acked.size, total);
  await until(() => [...acked].every((id) => got.has(id)), 'every acked message at the receiver', 30000);
  assert.equal(doubled, 0, 'no message reached the application twice');
  assert.ok(b.stats.connects >= 2 && a.stats.connects >= 2, 'both reconnected');
  t.diagnostic(`sender ${JSON.stringify(a.stats)}, receiver ${JSON.stringify(b.stats)}`);
  a.close();
  b.close();
});

test('rooms: publish, presence as a live map, status and leave after grace', { timeout: 60000 }, async () => {
  const node = await startNode(['--presence.grace', '200ms', '--presence.diff_interval', '50ms']);
  const alice = client(node, 'alice', 'laptop', { claims: { deviceType: 'desktop' } });
  const bob = client(node, 'bob', 'phone');
  await alice.connect();
  await bob.connect();
  await alice.join('team-7', { presence: true });
  await bob.join('team-7', { presence: true });
  await until(() => alice.presence('team-7').has('bob/phone'), 'bob in alice\'s map');
  assert.ok(bob.presence('team-7').has('alice/laptop'));
  await bob.setStatus('busy', { text: 'In a meeting' });
  await until(() => alice.presence('team-7').get('bob/phone')?.status === 'busy', 'bob busy');
  const got = next(bob, 'message');
  const ack = await alice.publish('team-7', 'note', { text: 'standup' }, { requiresAck: true });
  assert.equal(ack.recipients, 1);
  const [m] = await got;
  assert.equal(m.payload.text, 'standup');
  bob.close();
  await until(() => !alice.presence('team-7').has('bob/phone'), 'bob gone after the grace period');
  alice.close();
});

test('a replaced connection (4500) is not retried; a refused token rejects connect', { timeout: 30000 }, async () => {
  const node = await startNode();
  const first = client(node, 'carol', 'tab');
  await first.connect();
  const closed = next(first, 'close');
  const second = client(node, 'carol', 'tab');
  await second.connect();
  const [info] = await closed;
  assert.equal(info.code, 4500);
  assert.equal(info.reconnect, false);
  assert.equal(first.state, 'closed');
  second.close();
  const bad = track(new TetherClient({ url: node.url, token: 'not-a-token', WebSocket, backoff: fast, tokenIn: 'header' }));
  await assert.rejects(bad.connect(), (e) => e instanceof TetherError && e.code === 'HTTP_401');
});

test('close before the welcome rejects connect and never reconnects', { timeout: 30000 }, async () => {
  const node = await startNode();
  const c = client(node, 'erin', 'phone');
  const pending = c.connect();
  c.close();
  await assert.rejects(pending, (e) => e instanceof TetherError && e.code === 'CLOSED');
  await new Promise((r) => setTimeout(r, 300)); // a late welcome, a retry timer
  assert.equal(c.state, 'closed');
  assert.equal(c.stats.connects, 0);
});

test('messages sent before the link is up wait in the outbox', { timeout: 30000 }, async () => {
  const node = await startNode();
  const c = client(node, 'dave', 'phone');
  const got = [];
  c.on('message', (m) => got.push(m.payload));
  const early = c.sendToDevice('phone', 'early', { n: 1 }, { requiresAck: true });
  const plain = c.sendToDevice('phone', 'early', { n: 2 });
  await c.connect();
  assert.equal((await early).status, 'received');
  assert.equal((await plain).status, 'sent');
  await until(() => got.length === 2, 'both outbox messages');
  assert.deepEqual(got.map((p) => p.n).sort(), [1, 2]);
  c.close();
});

/** A TCP proxy to `port` on 127.0.0.1 whose `freeze()` stops forwarding on
 * the connections it has (both ways: their bytes are read and dropped, the
 * sockets stay open), as a network that lost a link without closing it;
 * new connections are forwarded unless it refuses them. */
async function frozenProxy(port) {
  const pairs = new Set();
  let refusing = false;
  const server = tcpServer((down) => {
    if (refusing) {
      down.destroy();
      return;
    }
    const up = tcpConnect(port, '127.0.0.1');
    const pair = { down, up, frozen: false };
    pairs.add(pair);
    down.on('data', (d) => { if (!pair.frozen) up.write(d); });
    up.on('data', (d) => { if (!pair.frozen) down.write(d); });
    const end = () => { down.destroy(); up.destroy(); pairs.delete(pair); };
    down.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    freeze() { for (const p of pairs) p.frozen = true; },
    /** New connections are cut at once (no network) / forwarded again. */
    refuse() { refusing = true; },
    accept() { refusing = false; },
    close() {
      for (const p of pairs) { p.down.destroy(); p.up.destroy(); }
      server.close();
    },
  };
}

test('a link gone dead without a close is redialled at once when the network changes, nothing lost', { timeout: 30000 }, async (t) => {
  const node = await startNode();
  const proxy = await frozenProxy(node.port);
  t.after(() => proxy.close());
  const network = new EventTarget();
  // The client's own backoff (not the tests' fast one): the heartbeat (20 s)
  // is far off, so only the link check can find the dead link in time.
  const phone = client(node, 'alice', 'phone', {
    url: `ws://127.0.0.1:${proxy.port}/ws`, networkEvents: network, backoff: { baseMs: 250, capMs: 30000, multiplier: 2 },
  });
  const laptop = client(node, 'alice', 'laptop');
  const got = [];
  phone.on('message', (m) => got.push(m.payload.n));
  await phone.connect();
  await laptop.connect();
  // A live link answers the check and stays.
  assert.equal(await phone.checkLink(), true);
  assert.equal(phone.stats.connects, 1);
  await laptop.sendToDevice('phone', 'n', { n: 0 }, { requiresAck: true });
  await until(() => got.length === 1, 'the first message at the phone');
  // The link dies silently; what the laptop sends meanwhile goes into it.
  proxy.freeze();
  for (let n = 1; n <= 5; n++) await laptop.sendToDevice('phone', 'n', { n }, { requiresAck: true });
  const reopened = next(phone, 'open', 5000);
  const t0 = Date.now();
  network.dispatchEvent(new Event('online'));
  await reopened;
  const ms = Date.now() - t0;
  t.diagnostic(`redialled ${ms} ms after the online event`);
  assert.ok(ms < 2000, `reconnected after ${ms} ms`);
  await until(() => got.length >= 6, `6 messages at the phone (got ${got.length})`);
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
  assert.equal(phone.stats.deadLinks, 1);
  assert.equal(phone.stats.resumes, 1);
  phone.close();
  laptop.close();
});

test('while it waits out its backoff, a network change dials at once', { timeout: 30000 }, async () => {
  const node = await startNode();
  const proxy = await frozenProxy(node.port);
  const network = new EventTarget();
  const phone = client(node, 'alice', 'phone', {
    url: `ws://127.0.0.1:${proxy.port}/ws`, networkEvents: network,
    backoff: { baseMs: 20000, capMs: 30000, multiplier: 2 }, random: () => 0.99,
  });
  try {
    await phone.connect();
    proxy.freeze();
    const waiting = next(phone, 'close');
    assert.equal(await phone.checkLink(), false);
    // Dialled at once: the proxy forwards new connections.
    const [info] = await waiting;
    assert.equal(info.delayMs, 0);
    await until(() => phone.state === 'open', 'the phone open again');
    // Now the network is gone: the link check fails again, and the next
    // dial waits out the backoff...
    const refused = next(phone, 'close');
    proxy.freeze();
    proxy.refuse();
    assert.equal(await phone.checkLink(), false);
    await refused;
    const [later] = await next(phone, 'close');
    assert.ok(later.reconnect && later.delayMs > 10000, `waits ${later.delayMs} ms`);
    assert.equal(phone.state, 'waiting');
    // ... until the network is back.
    proxy.accept();
    const reopened = next(phone, 'open', 5000);
    const t0 = Date.now();
    network.dispatchEvent(new Event('online'));
    await reopened;
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(phone.stats.resumes, 2);
    assert.equal(phone.stats.deadLinks, 2);
  } finally {
    phone.close();
    proxy.close();
  }
});

test('a drained link waits the time its close names, counted; a hostile one is bounded', { timeout: 30000 }, async () => {
  assert.equal(drainRetryAfter('{"retryAfterMs":250,"resume":true}'), 250);
  assert.equal(drainRetryAfter('{"retryAfterMs":1.5}'), null);
  assert.equal(drainRetryAfter('{"retryAfterMs":86400000}'), 600000);
  assert.equal(drainRetryAfter('service restart'), null);
  assert.equal(drainRetryAfter('{"retryAfterMs":-1}'), null);
  assert.ok(!isTerminalClose(1012));
  const node = await startNode(['--server.drain_window', '5s']);
  const c = client(node, 'alice', 'phone');
  await c.connect();
  const closed = next(c, 'close');
  node.proc.kill('SIGTERM');
  const [info] = await closed;
  assert.equal(info.code, 1012);
  assert.ok(info.reconnect);
  assert.ok(Number.isSafeInteger(info.retryAfterMs) && info.retryAfterMs < 1000, `retryAfterMs ${info.retryAfterMs}`);
  assert.ok(info.delayMs >= info.retryAfterMs);
  assert.equal(c.stats.drained, 1);
  c.close();
});
