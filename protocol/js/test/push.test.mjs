// Push wake-ups and the app's lifecycle from the client (SPEC §5.10),
// against a real tetherd: push addresses registered and removed (again
// after every reconnect), refused with the server's VALIDATION_ERROR; a
// webhook address pushed for a `notify` message below the push priority;
// notify/notification carried to the recipient; background() shown as
// `away`, told again after a reconnect, undone by foreground(); the
// document's visibility wired to both. Run: TETHERD=... node --test test/
//
// SERVER PART: the tests marked so need the server's tether.lifecycle and
// optimization.notify/notification (SPEC §5.10); a tetherd without them
// answers tether.lifecycle with UNSUPPORTED_TARGET and drops the fields.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TetherClient, TetherError } from '../tether-client.js';
import { Node, WebSocket, until, next, fastBackoff as fast, trackedRun } from './support/tetherd.mjs';

const hooks = [];
const { nodes, clients, startNode } = trackedRun(() => { for (const h of hooks) h.close(); });

// A client that records the frames it writes (`sent`) and the acks it gets.
function client(node, user, device, options = {}) {
  const c = new TetherClient({ url: node.url, token: node.token(user, device), WebSocket, backoff: fast, ...options });
  clients.push(c);
  c.sent = [];
  const write = c.write.bind(c);
  c.write = (obj) => {
    const written = write(obj);
    if (written) c.sent.push(obj);
    return written;
  };
  c.acks = [];
  c.on('ack', (a) => c.acks.push(a));
  c.errors = [];
  c.on('error', (e) => c.errors.push(e));
  return c;
}

// The requests of `type` among the frames written since `from`.
const requests = (c, type, from = 0) => c.sent.slice(from).filter((f) => f.type === type);
const states = (c, from) => requests(c, 'tether.lifecycle', from).map((f) => f.payload.state);
const acked = (c, id) => c.acks.some((a) => a.messageId === id && a.status === 'processed');

// Drops the link and waits for the next welcome; returns where the frames
// written on the new link start.
async function reconnect(c) {
  const from = c.sent.length;
  const reopened = next(c, 'open');
  c.dropLinkForTesting();
  await reopened;
  return from;
}

test('push addresses: acked processed, refused with the server\'s code, registered again after a reconnect', { timeout: 30000 }, async () => {
  const node = await startNode();
  const phone = client(node, 'alice', 'phone');
  await phone.connect();
  const apns = { provider: 'apns', token: 'c'.repeat(64), topic: 'com.example.app', environment: 'sandbox' };
  assert.equal((await phone.registerPush(apns)).status, 'processed');
  assert.equal((await phone.registerPush({ provider: 'fcm', token: 'fcm-1:abc' })).status, 'processed');
  assert.equal((await phone.registerPush({ provider: 'webhook', token: 'phone-7' })).status, 'processed');
  assert.deepEqual(requests(phone, 'tether.push.register')[0].payload, apns);

  // A token of the wrong shape is the server's refusal, naming the field;
  // the address it was to replace stays the one registered again.
  await assert.rejects(phone.registerPush({ provider: 'apns', token: 'zz' }),
    (e) => e instanceof TetherError && e.code === 'VALIDATION_ERROR' && /payload\.token/.test(JSON.stringify(e.details)));
  // Arguments of the wrong type never leave the client.
  const before = phone.sent.length;
  for (const bad of [null, 'apns', { provider: 'sms', token: 't' }, { provider: 'fcm', token: '' }, { provider: 'fcm', token: 5 },
    { provider: 'fcm', token: 't', topic: 'com.example.app' }, { provider: 'apns', token: 'ab', environment: 'prod' }]) {
    assert.throws(() => phone.registerPush(bad), TypeError, JSON.stringify(bad));
  }
  assert.throws(() => phone.unregisterPush('sms'), TypeError);
  assert.equal(phone.sent.length, before);

  // After a reconnect all three go again (the first apns address, not the
  // refused one), each acked.
  let from = await reconnect(phone);
  const again = requests(phone, 'tether.push.register', from);
  assert.deepEqual(again.map((f) => f.payload), [apns, { provider: 'fcm', token: 'fcm-1:abc' }, { provider: 'webhook', token: 'phone-7' }]);
  await until(() => again.every((f) => acked(phone, f.id)), 'the registrations acked');

  assert.equal((await phone.unregisterPush('fcm')).status, 'processed');
  assert.deepEqual(requests(phone, 'tether.push.unregister').at(-1).payload, { provider: 'fcm' });
  from = await reconnect(phone);
  assert.deepEqual(requests(phone, 'tether.push.register', from).map((f) => f.payload.provider), ['apns', 'webhook']);
  assert.equal((await phone.unregisterPush()).status, 'processed');
  assert.deepEqual(requests(phone, 'tether.push.unregister').at(-1).payload, {});
  from = await reconnect(phone);
  assert.deepEqual(requests(phone, 'tether.push.register', from), []);
  assert.deepEqual(phone.errors, []);
  phone.close();
});

test('registered before connect: one registration, from the outbox', { timeout: 30000 }, async () => {
  const node = await startNode();
  const phone = client(node, 'bob', 'phone');
  const registered = phone.registerPush({ provider: 'webhook', token: 'bob-1' });
  await phone.connect();
  assert.equal((await registered).status, 'processed');
  assert.equal(requests(phone, 'tether.push.register').length, 1);
  phone.close();
});

// A local webhook receiver: the POSTs it got, answered 200.
async function webhook() {
  const got = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      got.push({ path: req.url, signature: req.headers['x-tether-signature'], body: JSON.parse(body) });
      res.writeHead(200).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  hooks.push(server);
  return { got, url: `http://127.0.0.1:${server.address().port}/hook` };
}

// SERVER PART (optimization.notify): without it the push never comes.
test('a webhook address registered by the client is pushed for a notify message below the push priority', { timeout: 30000 }, async () => {
  const hook = await webhook();
  const node = new Node();
  nodes.push(node);
  const secret = join(node.dir, 'webhook.key');
  writeFileSync(secret, 'a-webhook-key-of-the-test-0123456789\n');
  node.extra = ['--push.webhook_url', hook.url, '--push.webhook_secret_file', secret, '--push.delay', '200ms'];
  await node.start();
  const phone = client(node, 'carol', 'phone');
  const laptop = client(node, 'carol', 'laptop');
  await phone.connect();
  await laptop.connect();
  await phone.registerPush({ provider: 'webhook', token: 'carol-phone-1' });
  phone.close();
  await until(async () => (await node.get('/healthz')).connections === 1, 'the phone gone');
  // Normal priority (push.min_priority is high): it waits, nobody is pushed.
  await laptop.sendToDevice('phone', 'chat', { n: 1 }, { requiresAck: true, id: 'quiet-1' });
  await new Promise((r) => setTimeout(r, 800));
  assert.deepEqual(hook.got, []);
  await laptop.sendToDevice('phone', 'chat', { n: 2 },
    { requiresAck: true, id: 'loud-1', notify: true, notification: { title: 't', body: 'b' } });
  await until(() => hook.got.length === 1, 'the push of the notify message');
  const [push] = hook.got;
  assert.equal(push.path, '/hook');
  assert.match(push.signature, /^t=\d+,v1=[0-9a-f]{64}$/);
  assert.equal(push.body.userId, 'carol');
  assert.equal(push.body.deviceId, 'phone');
  assert.equal(push.body.token, 'carol-phone-1');
  assert.deepEqual(push.body.messageIds, ['loud-1']);
  assert.equal(push.body.count, 2);
  laptop.close();
});

// SERVER PART (optimization.notify/notification carried).
test('notify and notification reach the recipient in optimization; wrong shapes throw', { timeout: 30000 }, async () => {
  const node = await startNode();
  const laptop = client(node, 'dave', 'laptop');
  const phone = client(node, 'dave', 'phone');
  await laptop.connect();
  await phone.connect();
  const before = laptop.sent.length;
  for (const bad of [{ notify: 'yes' }, { notify: 1 }, { notification: 'hi' }, { notification: null }, { notification: { title: 't' } },
    { notification: { title: 1, body: 'b' } }, { notification: ['t', 'b'] }]) {
    assert.throws(() => laptop.sendToDevice('phone', 'chat', {}, bad), TypeError, JSON.stringify(bad));
  }
  assert.equal(laptop.sent.length, before);

  const got = next(phone, 'message');
  await laptop.sendToDevice('phone', 'chat', { text: 'hi' },
    { requiresAck: true, notify: true, notification: { title: 't', body: 'b', sound: 'x' } });
  // Only title and body are sent.
  assert.deepEqual(requests(laptop, 'chat').at(-1).optimization.notification, { title: 't', body: 'b' });
  const [m] = await got;
  assert.equal(m.optimization.notify, true);
  assert.deepEqual(m.optimization.notification, { title: 't', body: 'b' });
  // notify: false is not written.
  const plain = next(phone, 'message');
  await laptop.sendToDevice('phone', 'chat', { text: 'quiet' }, { requiresAck: true, notify: false });
  assert.equal('notify' in requests(laptop, 'chat').at(-1).optimization, false);
  const [q] = await plain;
  assert.equal(q.optimization.notify, undefined);
  assert.equal(q.optimization.notification, undefined);
  laptop.close();
  phone.close();
});

// SERVER PART (tether.lifecycle).
test('background() shows the device away, is told again after a reconnect, foreground() undoes it', { timeout: 30000 }, async () => {
  const node = await startNode(['--presence.diff_interval', '50ms']);
  const phone = client(node, 'erin', 'phone');
  const laptop = client(node, 'frank', 'laptop');
  await phone.connect();
  await laptop.connect();
  await phone.join('team', { presence: true });
  await laptop.join('team', { presence: true });
  const shown = () => laptop.presence('team').get('erin/phone')?.status;
  await until(() => shown() === 'online', 'the phone online at the laptop');
  assert.equal(phone.appState, 'foreground');

  const bg = phone.background();
  assert.equal(phone.appState, 'background');
  assert.equal((await bg).status, 'processed');
  await until(() => shown() === 'away', 'the phone away at the laptop');
  // Idempotent: the same promise, nothing written.
  const count = phone.sent.length;
  assert.equal(phone.background(), bg);
  assert.equal(phone.sent.length, count);

  // A new connection starts in the foreground: the client says background
  // again on it, after rejoining its rooms.
  const from = await reconnect(phone);
  const told = requests(phone, 'tether.lifecycle', from);
  assert.deepEqual(told.map((f) => f.payload), [{ state: 'background' }]);
  const written = phone.sent.slice(from).map((f) => f.type).filter((t) => t?.startsWith('tether.'));
  assert.ok(written.indexOf('tether.join') < written.indexOf('tether.lifecycle'), written.join());
  await until(() => acked(phone, told[0].id), 'the background told again, acked');
  await laptop.getPresence('team');
  await until(() => shown() === 'away', 'the phone still away after its reconnect');
  assert.equal(phone.appState, 'background');

  assert.equal((await phone.foreground()).status, 'processed');
  assert.equal(phone.appState, 'foreground');
  await until(() => shown() === 'online', 'the phone online again');
  // In the foreground a reconnect tells nothing.
  const later = await reconnect(phone);
  assert.deepEqual(states(phone, later), []);
  assert.deepEqual(phone.errors, []);
  phone.close();
  laptop.close();
});

// A document as far as the client looks at it: hidden, visibilityState and
// its visibilitychange listeners (counted).
class FakeDocument extends EventTarget {
  constructor(hidden = false) {
    super();
    this.hidden = hidden;
    this.listeners = 0;
  }

  get visibilityState() { return this.hidden ? 'hidden' : 'visible'; }

  addEventListener(type, fn) {
    if (type === 'visibilitychange') this.listeners++;
    super.addEventListener(type, fn);
  }

  removeEventListener(type, fn) {
    if (type === 'visibilitychange') this.listeners--;
    super.removeEventListener(type, fn);
  }

  set(hidden) {
    this.hidden = hidden;
    this.dispatchEvent(new Event('visibilitychange'));
  }
}

// Served by any tetherd (a server without tether.lifecycle refuses the
// requests UNSUPPORTED_TARGET, which the automatic ones do not report).
test('lifecycle: \'visibility\' follows the document: hidden is background(), shown foreground(); close() unwires', { timeout: 30000 }, async () => {
  assert.throws(() => new TetherClient({ url: 'ws://127.0.0.1:1/ws', token: 't', WebSocket, lifecycle: 'appstate' }), TypeError);
  const node = await startNode();
  const doc = new FakeDocument();
  const phone = client(node, 'gina', 'phone', { lifecycle: 'visibility', visibility: doc });
  await phone.connect();
  assert.equal(doc.listeners, 2); // the link check and the lifecycle
  assert.deepEqual(states(phone), []);
  doc.set(true);
  assert.equal(phone.appState, 'background');
  doc.set(false);
  assert.equal(phone.appState, 'foreground');
  await until(() => states(phone).length === 2, 'both states written');
  assert.deepEqual(states(phone), ['background', 'foreground']);
  await until(() => requests(phone, 'tether.lifecycle').every((f) => phone.acks.some((a) => a.messageId === f.id)), 'both answered');
  phone.close();
  assert.equal(doc.listeners, 0);
  doc.set(true);
  assert.equal(phone.appState, 'foreground');
  assert.deepEqual(phone.errors, []);

  // A page hidden when it connects starts in the background: one request,
  // from the outbox (not a second one after the welcome).
  const hidden = new FakeDocument(true);
  const tab = client(node, 'gina', 'tab', { lifecycle: 'visibility', visibility: hidden });
  await tab.connect();
  assert.equal(tab.appState, 'background');
  await until(() => states(tab).length === 1, 'the background written');
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(states(tab), ['background']);
  tab.close();

  // In Node there is no document: off unless asked for.
  const quiet = new FakeDocument();
  const off = client(node, 'gina', 'desk', { visibility: quiet });
  await off.connect();
  quiet.set(true);
  assert.equal(off.appState, 'foreground');
  assert.equal(quiet.listeners, 1); // the link check only
  off.close();
});
