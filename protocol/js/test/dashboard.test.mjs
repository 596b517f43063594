// The dashboard (/dashboard/, SPEC §15) in headless Chromium (Debian's,
// driven by playwright-core) against a real two-node cluster with traffic
// running: the key is asked for and checked, and the page shows what the
// server API reports — every node, connections and message rates, a room
// with its members and their presence, a queue with its depth, errors by
// code — then a killed node as down. The event stream and its refusals are
// checked from Node. Writes $TETHER_ARTIFACTS/dashboard.png.
// Run: TETHERD=... node --test test/dashboard.test.mjs

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Node, until, freePorts, trackedDevice } from './support/tetherd.mjs';

const key = 'dash-' + 'k'.repeat(32);
const shared = mkdtempSync(join(tmpdir(), 'tether-dash-'));
const secretFile = join(shared, 'secret.key');
const keysFile = join(shared, 'api.keys');
const hookKeyFile = join(shared, 'webhook.key');
writeFileSync(secretFile, 'b'.repeat(64) + '\n', { mode: 0o600 });
writeFileSync(hookKeyFile, 'w'.repeat(32) + '\n', { mode: 0o600 });
writeFileSync(keysFile, `ops ${key}\n`, { mode: 0o600 });
const nodes = [];
const clients = [];
let browser;
let stopTraffic = () => {};
after(async () => {
  stopTraffic();
  if (browser) await browser.close();
  for (const c of clients) c.close();
  for (const n of nodes) await n.remove();
  rmSync(shared, { recursive: true, force: true });
});

const device = (...args) => trackedDevice(clients, ...args);

function authed(node, path, init = {}) {
  return fetch(`http://127.0.0.1:${node.port}${path}`, {
    ...init, headers: { authorization: `Bearer ${key}`, ...(init.headers || {}) },
  });
}

async function overview(node) {
  const r = await authed(node, '/api/v1/overview');
  assert.equal(r.status, 200);
  return r.json();
}

// Reads `count` events of GET /api/v1/stream (bounded), then aborts it.
async function readEvents(node, count, query = '') {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 15000);
  const r = await authed(node, `/api/v1/stream${query}`, { signal: ctl.signal });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/event-stream');
  const events = [];
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  try {
    while (events.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const ev = /^event: (.*)$/m.exec(block);
        const data = /^data: (.*)$/m.exec(block);
        if (ev && data) events.push({ event: ev[1], data: JSON.parse(data[1]) });
      }
    }
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
  return events;
}

async function startCluster() {
  // The third port stays closed: the webhook's.
  const cports = await freePorts(3);
  const flags = (i) => ['--auth.api_keys_file', keysFile, '--cluster.port', String(cports[i]),
    '--cluster.node_id', i === 0 ? 'node-a' : 'node-b', '--cluster.heartbeat_interval', '200ms',
    '--cluster.connection_timeout', '1s', '--supervision.backoff_base', '50ms', '--supervision.backoff_cap', '500ms',
    '--node.request_timeout', '2s', ...(i === 0 ? [] : ['--cluster.seeds', `127.0.0.1:${cports[0]}`]),
    // Webhook pushes to a port where nothing listens: each fails, counted.
    '--push.webhook_url', `http://127.0.0.1:${cports[2]}/push`, '--push.webhook_secret_file', hookKeyFile,
    '--push.delay', '200ms', '--push.max_retries', '0'];
  const two = [];
  for (let i = 0; i < 2; i++) {
    const n = new Node(flags(i), { secretFile });
    nodes.push(n);
    two.push(n);
    await n.start();
  }
  await until(async () => {
    const o = await overview(two[0]);
    return o.nodes.length === 2 && o.nodes.every((x) => x.state === 'alive');
  }, 'both nodes in the overview', 15000);
  return two;
}

// The text of every cell of a row, by data-field.
async function cells(page, rowSelector) {
  return page.$eval(rowSelector, (tr) => Object.fromEntries(
    [...tr.querySelectorAll('td[data-field]')].map((td) => [td.dataset.field, td.textContent])));
}

test('the dashboard shows what the server API reports, for every node', { timeout: 120000 }, async () => {
  const [a, b] = await startCluster();

  // Traffic: alice's phone on A talks to her extension on B; three members
  // of a room on two nodes; carol's tablet, offline, has 5 messages queued
  // on A; one refused send (UNKNOWN_DEVICE).
  const phone = device(a, 'alice', 'phone');
  const ext = device(b, 'alice', 'laptop', { deviceType: 'desktop', role: 'extension' });
  const bob = device(a, 'bob', 'phone');
  const tablet = device(a, 'carol', 'tablet', { deviceType: 'tablet' });
  await Promise.all([phone.connect(), ext.connect(), bob.connect(), tablet.connect()]);
  await tablet.registerPush({ provider: 'webhook', token: 'carol-tablet' });
  for (const c of [phone, ext, bob]) await c.join('design', { presence: true });
  await until(async () => {
    const p = await (await authed(a, '/api/v1/rooms/design/presence')).json();
    return p.members.length === 3;
  }, 'three members of design on A');
  tablet.close();
  await until(async () => (await a.get('/healthz')).connections === 2, 'the tablet gone');
  for (let i = 0; i < 5; i++) {
    const r = await authed(a, '/api/v1/users/carol/messages', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'note', payload: { i }, destination: { target: 'device', deviceId: 'tablet' }, optimization: { priority: 'high', requiresAck: true } }),
    });
    assert.equal(r.status, 200);
  }
  await phone.sendToDevice('nosuch', 'x', {}, { requiresAck: true }).then(() => assert.fail('accepted'), (e) => assert.equal(e.code, 'UNKNOWN_DEVICE'));
  let sent = 0;
  let running = true;
  stopTraffic = () => { running = false; };
  const traffic = (async () => {
    while (running && sent < 3000) { // bounded: 3000 x 20 ms = 60 s at most
      // Every other one durable: store commits on B, the extension's node.
      await phone.sendToExtension('edit', { n: sent }, { requiresAck: sent++ % 2 === 0 }).catch(() => {});
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await until(() => ext.got.length >= 20, 'traffic reaching the extension across nodes');

  // The event stream: one overview per interval; refused without a key and
  // for a bad interval.
  const events = await readEvents(a, 2, '?interval=250');
  assert.equal(events.length, 2);
  assert.ok(events.every((e) => e.event === 'overview'));
  assert.ok(events[1].data.time > events[0].data.time);
  assert.deepEqual(events[0].data.nodes.map((n) => n.node), ['node-a', 'node-b']);
  assert.equal((await fetch(`http://127.0.0.1:${a.port}/api/v1/stream`)).status, 401);
  assert.equal((await authed(a, '/api/v1/stream?interval=10')).status, 400);
  assert.equal((await authed(a, '/api/v1/stream', { method: 'POST' })).status, 405);

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !/401/.test(m.text())) problems.push(m.text()); });

  const res = await page.goto(`http://127.0.0.1:${a.port}/dashboard`);
  assert.equal(res.status(), 200);
  assert.equal(new URL(page.url()).pathname, '/dashboard/');
  assert.match(res.headers()['content-security-policy'], /default-src 'self'/);
  // A wrong key is refused, and the board stays hidden.
  await page.fill('#key', 'not-the-key-0123456789');
  await page.click('#login button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#login-error').textContent.includes('not one of'));
  assert.equal(await page.isHidden('#board'), true);
  // The right key: the board fills and the stream keeps it live.
  await page.fill('#key', key);
  await page.click('#login button[type=submit]');
  await page.waitForFunction(() => Number(document.querySelector('#board').dataset.updates || 0) >= 4, null, { timeout: 20000 });
  assert.equal(await page.getAttribute('#status', 'data-state'), 'live');

  // Every node, as the API reports it.
  const api = await overview(a);
  for (const n of api.nodes) {
    const row = await cells(page, `#nodes tr[data-node="${n.node}"]`);
    assert.equal(row.state, 'alive');
    assert.equal(Number(row.connections), n.connections, `connections of ${n.node}`);
  }
  assert.equal(Number((await cells(page, '#nodes tr[data-node="node-a"]')).connections), 2);
  assert.equal(Number((await cells(page, '#nodes tr[data-node="node-b"]')).connections), 1);
  // Messages flow: A receives the phone's sends, B delivers them.
  await page.waitForFunction(() => {
    const v = (node, f) => Number(document.querySelector(`#nodes tr[data-node="${node}"] td[data-field="${f}"]`).textContent);
    return v('node-a', 'in') > 5 && v('node-b', 'out') > 5;
  }, null, { timeout: 10000 });
  // The durable sends are committed on B: a commit time, as the API's.
  await page.waitForFunction(() => /ms$/.test(document.querySelector('#nodes tr[data-node="node-b"] td[data-field="commit"]').textContent),
    null, { timeout: 10000 });
  assert.ok((await overview(a)).nodes[1].store.commits > 0);

  // The room, with its members on both nodes.
  const room = await cells(page, '#rooms tr[data-room="design"]');
  assert.equal(Number(room.members), 3);
  assert.match(room.by, /node-a: 2/);
  assert.match(room.by, /node-b: 1/);
  await page.click('#rooms tr[data-room="design"]');
  await page.waitForSelector('#presence tr[data-member="alice/laptop"]');
  const members = await page.$$eval('#presence tbody tr', (rows) => rows.map((r) => r.dataset.member).sort());
  assert.deepEqual(members, ['alice/laptop', 'alice/phone', 'bob/phone']);

  // Carol's tablet: 5 queued on A, not connected.
  const apiQueue = api.nodes[0].queues.top.find((q) => q.userId === 'carol');
  assert.equal(apiQueue.waiting, 5);
  const q = await cells(page, '#queues tr[data-device="carol/tablet"]');
  assert.equal(q.node, 'node-a');
  assert.equal(Number(q.waiting), 5);
  assert.equal(q.connected, 'no');

  // Errors by code, as the API counts them.
  const e = await cells(page, '#errors tr[data-code="UNKNOWN_DEVICE"]');
  assert.equal(Number(e.total), api.nodes.reduce((s, n) => s + (n.errors.UNKNOWN_DEVICE || 0), 0));
  assert.ok(Number(e.total) >= 1);

  // Pushes by provider, as the API counts them: carol's tablet's one push
  // failed (nothing listens at the webhook's port).
  await until(async () => (await overview(a)).nodes[0].pushes.webhook.failed === 1, 'the push failed', 10000);
  await page.waitForFunction(() => document.querySelector('#pushes tr[data-provider="webhook"] td[data-field="failed"]')?.textContent === '1', null, { timeout: 10000 });
  for (const provider of ['apns', 'fcm', 'webhook']) {
    const p = await cells(page, `#pushes tr[data-provider="${provider}"]`);
    const latest = await overview(a);
    for (const o of ['sent', 'retried', 'failed', 'dead', 'unconfigured'])
      assert.equal(Number(p[o]), latest.nodes.reduce((s, n) => s + (n.pushes?.[provider]?.[o] || 0), 0), `${provider} ${o}`);
  }

  // A few more samples on the charts, then the picture.
  const seen = Number(await page.getAttribute('#board', 'data-updates'));
  await page.waitForFunction((n) => Number(document.querySelector('#board').dataset.updates) >= n, seen + 4, { timeout: 10000 });
  mkdirSync(process.env.TETHER_ARTIFACTS || tmpdir(), { recursive: true });
  const shot = join(process.env.TETHER_ARTIFACTS || tmpdir(), 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`dashboard screenshot: ${shot}`);

  // B killed: A's dashboard shows it down, and goes on.
  stopTraffic();
  await traffic;
  await b.stop('SIGKILL');
  await page.waitForFunction(() => {
    const tr = document.querySelector('#nodes tr[data-node="node-b"]');
    return tr && tr.dataset.state !== 'alive';
  }, null, { timeout: 15000 });
  assert.equal(await page.getAttribute('#nodes tr[data-node="node-a"]', 'data-state'), 'alive');
  assert.deepEqual(problems, []);
});

test('the dashboard is off with the server API', { timeout: 30000 }, async () => {
  const n = new Node();
  nodes.push(n);
  await n.start();
  const r = await fetch(`http://127.0.0.1:${n.port}/dashboard/`);
  assert.equal(r.status, 404);
  assert.match((await r.json()).message, /auth.api_keys_file/);
});
