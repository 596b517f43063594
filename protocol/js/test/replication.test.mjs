// Replicated device queues (SPEC §14.3) on "several hosts": three tetherd
// nodes, each in a network namespace of its own, the clients in the switch
// namespace between them (test/integration/hosts_traffic.sh makes them:
// TETHER_NETNS names the three).
//
// With cluster.replication_factor 3, 500 durable messages acked `received`
// for an offline device whose queue is on node C survive C's death with
// its data dir: a follower takes the queue over and the device, connecting
// to A, gets all 500; C restarted empty becomes a follower again. When C
// comes back empty before a takeover could happen (B was down too), the
// followers adopt their copies of the queue C lost. With factor 2 and C's
// disk kept, C's copy is stale when it comes back: it is handed over and
// dropped, and the device gets nothing twice.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { until } from './support/tetherd.mjs';
import { HostsCluster, alive } from './support/hosts.mjs';

const cluster = new HostsCluster('r');
const device = (...args) => cluster.device(...args);
after(() => cluster.remove());
const replica = (node, event) => node.metric('tether_replica_total', `event="${event}"`);

const start = (factor) => cluster.start(['--cluster.replication_factor', String(factor)]);

// The tablet's queue is on C (it connected there and left); the phone on
// A sends it `count` durable messages, each acked `received`.
async function fill(a, c, count) {
  const tablet = device(c, 'alice', 'tablet', { deviceType: 'tablet' });
  await tablet.connect();
  tablet.close();
  const phone = device(a, 'alice', 'phone');
  await phone.connect();
  await until(() => phone.sendToDevice('tablet', 'warm', {}, { requiresAck: true })
    .then((k) => { if (k.status === 'received') { phone.warmId = k.messageId; return true; } return false; }, () => false),
  'a first message for the tablet acked', 15000);
  const acked = [phone.warmId];
  for (let n = 0; n < count; n += 50) {
    const ks = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      phone.sendToDevice('tablet', 'stored', { n: n + i }, { requiresAck: true })));
    for (const k of ks) {
      assert.equal(k.status, 'received');
      acked.push(k.messageId);
    }
  }
  return { phone, acked };
}

test('R=3: a queue whose node and disk are lost is delivered whole from its copies', { timeout: 180000 }, async () => {
  const [a, b, c] = await start(3);
  const { phone, acked } = await fill(a, c, 500);
  assert.equal(acked.length, 501);
  assert.equal(await replica(c, 'no_quorum'), 0);
  // Both followers stored every row (the quorum is two of three; the
  // leader sends to both).
  assert.ok(await replica(c, 'sent') >= 1002, `C sent ${await replica(c, 'sent')}`);
  for (const n of [a, b]) assert.ok(await replica(n, 'stored') >= 501, `${n.host} stored ${await replica(n, 'stored')}`);

  await c.stop('SIGKILL');
  rmSync(c.dir, { recursive: true, force: true });
  mkdirSync(c.dir);
  for (const n of [a, b]) await until(async () => (await alive(n)) === 1, `C down at ${n.host}`, 10000);
  await until(async () => (await replica(a, 'taken_over')) + (await replica(b, 'taken_over')) === 1,
    'one follower took the queue over', 15000);
  // Senders get `received` again (NODE_UNAVAILABLE only until the home
  // learned of the takeover).
  const t1 = Date.now();
  await until(() => phone.sendToDevice('tablet', 'after', {}, { requiresAck: true })
    .then((k) => { if (k.status === 'received') { acked.push(k.messageId); return true; } return false; }, () => false),
  'a message for the tablet acked again', 15000);
  console.log(`R=3: senders acked again ${Date.now() - t1} ms after the takeover was seen`);
  const tablet = device(a, 'alice', 'tablet', { deviceType: 'tablet' });
  await tablet.connect();
  await until(() => acked.every((id) => tablet.got.has(id)), 'every acked message at the tablet on A', 30000)
    .catch((e) => { console.log(`lost ${acked.filter((id) => !tablet.got.has(id)).length}`); throw e; });
  const lost = acked.filter((id) => !tablet.got.has(id)).length;
  console.log(`R=3: ${acked.length} acked, delivered ${tablet.got.size}, lost ${lost}, duplicates ${tablet.stats.duplicates}`);
  assert.equal(lost, 0);
  // In the order they were sent, every one once.
  assert.deepEqual([...tablet.got.values()].filter((m) => m.type === 'stored').map((m) => m.payload.n),
    Array.from({ length: 500 }, (_, i) => i));
  assert.equal(tablet.stats.duplicates, 0);

  // C restarted empty rejoins and is a follower again: the queue's rows
  // written from now on are on its disk too.
  await c.start();
  for (const n of cluster.nodes) await until(async () => (await alive(n)) === 2, `C back at ${n.host}`, 20000);
  tablet.close();
  await until(async () => (await a.get('/healthz')).status !== undefined, 'A answers', 5000);
  const more = [];
  await until(async () => {
    const k = await phone.sendToDevice('tablet', 'later', {}, { requiresAck: true }).catch(() => null);
    if (k && k.status === 'received') more.push(k.messageId);
    return (await replica(c, 'stored')) > 0;
  }, 'C stores a copy of the queue again', 20000);
  console.log(`C rejoined: stored ${await replica(c, 'stored')} after ${more.length} new messages`);
  await cluster.teardown();
});

test('R=3: a leader back with an empty disk before its queue was taken over: its copies are adopted', { timeout: 180000 }, async () => {
  const [a, b, c] = await start(3);
  const { acked } = await fill(a, c, 500);
  // B goes, then C with its disk: A alone keeps a copy, one of the two a
  // takeover needs (what it lacks may have been acked with B): it waits.
  await b.stop('SIGKILL');
  await until(async () => (await alive(a)) === 1, 'B down at A', 10000);
  await c.stop('SIGKILL');
  rmSync(c.dir, { recursive: true, force: true });
  mkdirSync(c.dir);
  await until(async () => (await alive(a)) === 0, 'C down at A', 10000);
  // C is back, empty, under its own name: the queue it led is gone from it,
  // and A's copy is all that is left of it. A puts it into the tablet's
  // queue on A (SPEC §14.3: orphan copies).
  await c.start();
  await until(async () => (await alive(a)) === 1, 'C back at A', 20000);
  await until(async () => (await replica(a, 'adopted')) === 1, 'A adopts its copy of the queue C lost', 15000);
  assert.equal(await replica(a, 'taken_over'), 0);
  const tablet = device(a, 'alice', 'tablet', { deviceType: 'tablet' });
  await tablet.connect();
  await until(() => acked.every((id) => tablet.got.has(id)), 'every acked message at the tablet on A', 30000)
    .catch((e) => { console.log(`lost ${acked.filter((id) => !tablet.got.has(id)).length}`); throw e; });
  assert.deepEqual([...tablet.got.values()].filter((m) => m.type === 'stored').map((m) => m.payload.n),
    Array.from({ length: 500 }, (_, i) => i));
  assert.equal(tablet.stats.duplicates, 0);
  // B is back with its copy of C's old queue: an orphan too. It adopts it
  // and hands it on to the tablet's queue on A, which delivered every one
  // of them and drops them: nothing arrives twice.
  const before = { got: tablet.got.size, delivered: tablet.stats.delivered };
  const queueEvents = (node, event) => node.metric('tether_queue_events_total', `event="${event}"`);
  const dropped = await queueEvents(a, 'duplicate');
  await b.start();
  for (const n of cluster.nodes) await until(async () => (await alive(n)) === 2, `B back at ${n.host}`, 20000);
  await until(async () => (await replica(b, 'adopted')) === 1, 'B adopts its copy', 15000);
  await until(async () => (await queueEvents(a, 'duplicate')) - dropped >= acked.length, 'A drops what it delivered', 20000);
  await new Promise((r) => setTimeout(r, 2000));
  console.log(`R=3 orphans: ${acked.length} acked, delivered ${tablet.stats.delivered}, duplicates ${tablet.stats.duplicates}`);
  assert.equal(tablet.stats.duplicates, 0);
  assert.equal(tablet.stats.delivered, before.delivered);
  assert.equal(tablet.got.size, before.got);
  await cluster.teardown();
});

test('R=2: the old leader back with its disk hands its stale copy over; nothing arrives twice', { timeout: 180000 }, async () => {
  const [a, b, c] = await start(2);
  const { acked } = await fill(a, c, 500);
  await c.stop('SIGKILL');
  for (const n of [a, b]) await until(async () => (await alive(n)) === 1, `C down at ${n.host}`, 10000);
  await until(async () => (await replica(a, 'taken_over')) + (await replica(b, 'taken_over')) === 1,
    'its follower took the queue over', 15000);
  const tablet = device(a, 'alice', 'tablet', { deviceType: 'tablet' });
  await tablet.connect();
  await until(() => acked.every((id) => tablet.got.has(id)), 'every acked message at the tablet on A', 30000);
  // C comes back with its 501 rows (generation 0): the queue is at A in
  // generation 1 now; C hands its copy over and A, which delivered every
  // one of them, drops them (SPEC §14.3).
  const before = { got: tablet.got.size, duplicates: tablet.stats.duplicates, delivered: tablet.stats.delivered };
  // (The nodes log at warn: their counters tell.)
  const queueEvents = (node, event) => node.metric('tether_queue_events_total', `event="${event}"`);
  const dropped = await queueEvents(a, 'duplicate');
  await c.start();
  for (const n of cluster.nodes) await until(async () => (await alive(n)) === 2, `C back at ${n.host}`, 20000);
  await until(async () => (await queueEvents(c, 'handed_over')) >= acked.length, 'C hands its stale copy over', 20000);
  await until(async () => (await queueEvents(a, 'duplicate')) - dropped >= acked.length, 'A drops what it delivered', 10000);
  await new Promise((r) => setTimeout(r, 2000));
  console.log(`R=2: ${acked.length} acked, delivered ${tablet.stats.delivered}, duplicates ${tablet.stats.duplicates} (before C came back: ${JSON.stringify(before)})`);
  assert.equal(tablet.stats.duplicates, before.duplicates);
  assert.equal(tablet.stats.delivered, before.delivered);
  assert.equal(tablet.got.size, before.got);
  assert.equal(before.duplicates, 0);
  await cluster.teardown();
});
