// The client against a hostile server: a WebSocket server of the test's own
// (the `ws` package, 127.0.0.1 port 0) that sends what no tetherd sends:
// frames that are not objects, batches of them, malformed presence, gap and withdrawn
// payloads, bad seqs, msgpack bombs and duplicate keys, a second welcome in
// the middle of a session. The client reports each as an `error` event and
// never throws out of its handlers (a throw in `ws`'s message handler ends
// a Node process).
// Run: node --test test/hostile.test.mjs

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket, { WebSocketServer } from 'ws';
import { TetherClient, nextAttempt } from '../tether-client.js';
import * as msgpack from '../msgpack.js';
import { until } from './support/until.mjs';

const servers = [];
const clients = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) {
    for (const ws of s.clients) ws.terminate();
    await new Promise((resolve) => s.close(resolve));
  }
});

/** A server on 127.0.0.1:0 calling `script(socket, n, url)` for its n-th
 * connection (from 1); resolves with the server once it listens. */
async function hostile(script, { protocol = 'tether.v1.json' } = {}) {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: () => protocol,
  });
  servers.push(server);
  server.connections = [];
  server.on('connection', (socket, req) => {
    server.connections.push({ socket, url: req.url, closed: null });
    const n = server.connections.length;
    socket.on('close', (code) => { server.connections[n - 1].closed = code; });
    script(socket, n, req.url);
  });
  await new Promise((resolve) => server.on('listening', resolve));
  return server;
}

function welcome(user, device, resumeToken, resumed = false) {
  return {
    id: `welcome-${resumeToken}`, timestamp: 1, protocolVersion: '1.0.0',
    source: { deviceId: 'server', userId: 'system', deviceType: 'desktop', timestamp: 1 },
    destination: { target: 'device', deviceId: device, userId: user },
    type: 'tether.welcome',
    payload: {
      sessionId: `s-${resumeToken}`, userId: user, deviceId: device, deviceType: 'mobile',
      protocolVersion: '1.0.0', codec: 'tether.v1.json', compression: 'none',
      heartbeatIntervalMs: 20000, pongTimeoutMs: 10000, serverVersion: 'hostile',
      resumeToken, resumed, frameCompression: 'none',
    },
    optimization: { priority: 'high' },
  };
}

function message(id, seq, extra = {}) {
  return {
    id, timestamp: 1, protocolVersion: '1.0.0',
    source: { deviceId: 'laptop', userId: 'alice', deviceType: 'desktop', timestamp: 1 },
    destination: { target: 'device', deviceId: 'phone' },
    type: 't', payload: { n: seq }, optimization: { priority: 'normal' }, seq, ...extra,
  };
}

function client(server, codec = 'json') {
  const c = new TetherClient({
    url: `ws://127.0.0.1:${server.address().port}/ws`, token: 't', WebSocket, codec,
    backoff: { baseMs: 10, capMs: 50, multiplier: 2 },
  });
  c.got = [];
  c.errors = [];
  c.on('message', (m) => c.got.push(m.id));
  c.on('error', (e) => c.errors.push(e));
  clients.push(c);
  return c;
}

test('frames that are not objects are dropped and reported, never thrown', { timeout: 20000 }, async () => {
  const bad = [
    'null', '42', '"text"', '[1,2]', 'true',
    '{"messages":[null]}',
    '{"messages":[1,"x",[],null,true]}',
    '{"messages":"not an array"}',
    JSON.stringify({ messages: [message('ok1', 1)] }),
    // Presence and gap payloads of the wrong shape.
    JSON.stringify(message('p1', 2, { type: 'tether.presence.snapshot', payload: null })),
    JSON.stringify(message('p2', 3, { type: 'tether.presence.snapshot', payload: { room: 'r', page: 0, members: 5 } })),
    JSON.stringify(message('p3', 4, { type: 'tether.presence.snapshot', payload: { room: 'r', page: 0, members: [null, 7] } })),
    JSON.stringify(message('p4', 5, { type: 'tether.presence.diff', payload: { room: 'r', changes: [null] } })),
    JSON.stringify(message('p5', 6, { type: 'tether.presence.diff', payload: { room: {}, changes: {} } })),
    JSON.stringify(message('g1', 7, { type: 'tether.gap', payload: 'gone' })),
    JSON.stringify(message('w1', 8, { type: 'tether.withdrawn', payload: { messageIds: 'm1' } })),
    JSON.stringify(message('w2', 9, { type: 'tether.withdrawn', payload: { messageIds: ['m1', 2] } })),
    // Seqs that are not counts, ids that are not strings.
    JSON.stringify(message('s1', -1)),
    JSON.stringify(message('s2', 1.5)),
    JSON.stringify(message('s3', '9')),
    JSON.stringify(message('s4', 2 ** 60)),
    JSON.stringify(message(7, 10)),
    JSON.stringify({ messageId: 5, status: 'received' }),
    JSON.stringify({ type: 'ping', timestamp: {} }),
    JSON.stringify(message('last', 11)),
  ];
  const server = await hostile((socket) => {
    socket.send(JSON.stringify(welcome('alice', 'phone', 'r1')));
    for (const frame of bad) socket.send(frame);
  });
  const c = client(server);
  await c.connect();
  await until(() => c.got.includes('last'), 'the last message');
  assert.deepEqual(c.got, ['ok1', 'last']);
  // One error per bad frame or batch member (the two valid frames aside).
  const malformed = c.errors.filter((e) => e.code === 'MALFORMED_FRAME');
  assert.equal(malformed.length, 5 + 1 + 5 + 1 + 8 + 5 + 2, c.errors.map((e) => e.message).join('\n'));
  assert.equal(c.state, 'open');
  assert.equal(server.connections.length, 1);
  assert.equal(c.lastSeq, 11);
  assert.equal(c.stats.withdrawn, 0);
  assert.equal(c.presence('r').size, 0);
});

test('msgpack frames too deep or with a key twice are dropped and reported', { timeout: 20000 }, async () => {
  const deep = new Uint8Array(100000).fill(0x91); // 100000 nested arrays, truncated
  const twice = (() => {
    // {"id":"d1","seq":1,...} with "seq" written twice: 1, then 1000.
    const m = msgpack.encode(message('d1', 1));
    const tail = msgpack.encode({ seq: 1000 });
    const out = new Uint8Array(m.length + tail.length - 1);
    out.set(m);
    out[0] += 1; // one more pair (fixmap)
    out.set(tail.subarray(1), m.length);
    return out;
  })();
  const server = await hostile((socket) => {
    socket.send(msgpack.encode(welcome('alice', 'phone', 'r1')));
    socket.send(deep);
    socket.send(twice);
    socket.send(msgpack.encode(null));
    socket.send(msgpack.encode(message('last', 2)));
  }, { protocol: 'tether.v1.msgpack' });
  const c = client(server, 'msgpack');
  await c.connect();
  await until(() => c.got.includes('last'), 'the last message');
  assert.deepEqual(c.got, ['last']);
  assert.equal(c.errors.filter((e) => e.code === 'MALFORMED_FRAME').length, 3);
  assert.equal(c.lastSeq, 2);
});

test('a second welcome on a connection closes it; identity and lastSeq stay', { timeout: 20000 }, async () => {
  const server = await hostile((socket, n) => {
    if (n === 1) {
      socket.send(JSON.stringify(welcome('alice', 'phone', 'r1')));
      for (const seq of [1, 2, 3]) socket.send(JSON.stringify(message(`m${seq}`, seq)));
      // Mid-session: another identity and a queue that starts afresh.
      socket.send(JSON.stringify(welcome('mallory', 'tablet', 'r2')));
      socket.send(JSON.stringify(message('after-second-welcome', 1)));
    } else {
      socket.send(JSON.stringify(welcome('alice', 'phone', 'r1', true)));
      socket.send(JSON.stringify(message('m3', 3))); // redelivered
      socket.send(JSON.stringify(message('m4', 4)));
    }
  });
  const c = client(server);
  const first = await c.connect();
  assert.equal(first.userId, 'alice');
  await until(() => server.connections.length === 2 && c.got.includes('m4'), 'the reconnect');
  assert.deepEqual(c.got, ['m1', 'm2', 'm3', 'm4']);
  assert.equal(c.identity.userId, 'alice');
  assert.equal(c.identity.deviceId, 'phone');
  assert.equal(c.lastSeq, 4);
  assert.ok(c.errors.some((e) => e.code === 'PROTOCOL_ERROR'));
  // The client closed the first link itself and resumed where it was.
  await until(() => server.connections[0].closed !== null, 'the first link closed');
  const resume = new URL(server.connections[1].url, 'ws://x').searchParams;
  assert.equal(resume.get('resume'), 'r1');
  assert.equal(resume.get('lastSeq'), '3');
  // A welcome inside a batch is no better.
  const s2 = await hostile((socket, n) => {
    socket.send(JSON.stringify(welcome('alice', 'phone', 'r9')));
    if (n === 1) socket.send(JSON.stringify({ id: 'b', messages: [welcome('mallory', 'x', 'r8')] }));
  });
  const c2 = client(s2);
  await c2.connect();
  await until(() => s2.connections.length === 2 && c2.state === 'open', 'the reconnect after a batched welcome');
  assert.equal(c2.identity.userId, 'alice');
});

test('a message before the welcome is a protocol error; it is not taken', { timeout: 20000 }, async () => {
  const server = await hostile((socket, n) => {
    if (n === 1) {
      socket.send(JSON.stringify(message('early', 5)));
      socket.send(JSON.stringify(welcome('alice', 'phone', 'r1')));
    } else {
      socket.send(JSON.stringify(welcome('alice', 'phone', 'r1')));
      socket.send(JSON.stringify(message('m1', 1)));
    }
  });
  const c = client(server);
  await c.connect();
  await until(() => c.got.includes('m1'), 'the message after the reconnect');
  assert.deepEqual(c.got, ['m1']);
  assert.equal(c.lastSeq, 1);
  assert.equal(server.connections.length, 2);
  assert.ok(c.errors.some((e) => e.code === 'PROTOCOL_ERROR' && /before the tether.welcome/.test(e.message)));
});

test('the backoff resets only after a link that lasted, and a crash loop backs off', { timeout: 20000 }, async () => {
  assert.equal(nextAttempt(5, null, 3000), 5); // never welcomed
  assert.equal(nextAttempt(5, 2999, 3000), 5); // dropped right after it
  assert.equal(nextAttempt(5, 3000, 3000), 0); // established

  // Connections 1-4: welcomed and closed at once (a crash loop); 5: kept
  // for 300 ms after its welcome, then closed; 6: kept.
  const server = await hostile((socket, n) => {
    socket.send(JSON.stringify(welcome('alice', 'phone', `r${n}`)));
    if (n <= 4) socket.close(1011);
    else if (n === 5) setTimeout(() => socket.close(1011), 300);
  });
  const c = new TetherClient({
    url: `ws://127.0.0.1:${server.address().port}/ws`, token: 't', WebSocket,
    backoff: { baseMs: 20, capMs: 1000, multiplier: 2 }, stableMs: 200, random: () => 0.999,
  });
  clients.push(c);
  const delays = [];
  c.on('close', (e) => { if (e.reconnect) delays.push(e.delayMs); });
  c.connect().catch(() => {});
  await until(() => server.connections.length >= 6, 'six connections', 15000);
  // Windows of 20, 40, 80, 160 ms while each link dies at once, then the
  // base window again after the one that lasted.
  assert.deepEqual(delays.slice(0, 5), [19, 39, 79, 159, 19]);
});
