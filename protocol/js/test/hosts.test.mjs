// "Several hosts" with traffic: three tetherd nodes, each in a network
// namespace of its own, the clients in the switch namespace between them
// (test/integration/hosts_traffic.sh makes them: TETHER_NETNS names the
// three). A user's devices on the three nodes exchange durable messages
// while node C is cut off with iptables DROP and healed: every message
// acked `received` arrives (lost = 0), and the room's presence converges
// on every node after the heal; C killed with messages for an offline
// device on its disk delivers them once restarted, to the node the device
// moved to.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { until } from './support/tetherd.mjs';
import { HostsCluster, alive, partition } from './support/hosts.mjs';

const cluster = new HostsCluster('b');
const { nodes } = cluster;
const device = (...args) => cluster.device(...args);
after(() => cluster.remove());

test('three hosts: no acked loss across a partition and its heal, presence converges', { timeout: 180000 }, async () => {
  await cluster.start(['--presence.grace', '2s']);
  const [a, b, c] = nodes;

  const phone = device(a, 'alice', 'phone');
  const laptop = device(b, 'alice', 'laptop', { deviceType: 'desktop' });
  const tablet = device(c, 'alice', 'tablet', { deviceType: 'tablet' });
  const bob = device(c, 'bob', 'desk', { deviceType: 'desktop' });
  const everyone = [phone, laptop, tablet, bob];
  await Promise.all(everyone.map((x) => x.connect()));
  for (const x of everyone) await x.join('ops', { presence: true });
  const four = ['alice/laptop', 'alice/phone', 'alice/tablet', 'bob/desk'].join();
  const keys = (x) => [...x.presence('ops').keys()].sort().join();
  for (const x of everyone) await until(() => keys(x) === four, 'four members on every node', 15000);
  // Routes to B and C are in place once a first message passes.
  for (const to of ['laptop', 'tablet'])
    await until(() => phone.sendToDevice(to, 'warm', {}, { requiresAck: true }).then((k) => k.status === 'received', () => false), `warm ${to}`, 15000);

  // Durable messages from A to B and to C, every 15 ms; C is cut off after
  // the first 60 and healed 3 s later (past detection and grace).
  const acked = { laptop: [], tablet: [] };
  const refused = { laptop: {}, tablet: {} };
  const last = { laptop: -1, tablet: -1 };
  const send = async (to, n) => {
    try {
      const k = await phone.sendToDevice(to, 'seq', { n }, { requiresAck: true });
      if (k.status === 'received') { acked[to].push(k.messageId); last[to] = Math.max(last[to], n); }
    } catch (e) {
      refused[to][e.code] = (refused[to][e.code] || 0) + 1;
      refused[to].last = `${n}: ${e.message}`;
      refused[to].lastN = n;
    }
  };
  const pending = [];
  let cutAt = 0;
  let healedAt = 0;
  for (let n = 0; n < 400; n++) {
    if (n === 60) { partition(2, true); cutAt = Date.now(); }
    if (cutAt && !healedAt && Date.now() - cutAt > 3000) { partition(2, false); healedAt = Date.now(); }
    pending.push(send('laptop', n), send('tablet', n));
    await new Promise((r) => setTimeout(r, 15));
  }
  if (!healedAt) { await new Promise((r) => setTimeout(r, Math.max(0, 3000 - (Date.now() - cutAt)))); partition(2, false); healedAt = Date.now(); }
  await Promise.all(pending);
  const detection = Number(/^tether_cluster_last_detection_seconds ([0-9.]+)$/m.exec(await a.get('/metrics', false))[1]);
  console.log(`partition detected at A after ${detection} s of silence`);
  // Within cluster.connection_timeout (1 s) plus a heartbeat (0.2 s) or so.
  assert.ok(detection >= 0.5 && detection <= 3, `detection ${detection} s`);
  console.log(`acked laptop ${acked.laptop.length}, tablet ${acked.tablet.length}; refused laptop ${JSON.stringify(refused.laptop)}, tablet ${JSON.stringify(refused.tablet)}`);
  assert.equal(acked.laptop.length, 400); // B stayed with A: nothing refused
  // C's part: refused while cut off, with a reason (TIMEOUT until the cut
  // is detected, NODE_UNAVAILABLE after), accepted again after the heal.
  assert.ok(refused.tablet.NODE_UNAVAILABLE > 0);
  assert.deepEqual(Object.keys(refused.tablet).filter((k) => !['TIMEOUT', 'NODE_UNAVAILABLE', 'last', 'lastN'].includes(k)), []);
  assert.equal(last.tablet, 399);
  assert.ok(refused.tablet.lastN < 399);
  // lost = 0: every message acked `received` arrives, once reconnected.
  await until(() => acked.laptop.every((id) => laptop.got.has(id)), 'every acked message at the laptop', 60000);
  await until(() => acked.tablet.every((id) => tablet.got.has(id)), 'every acked message at the tablet', 90000)
    .catch((e) => { console.log(`tablet missing ${acked.tablet.filter((id) => !tablet.got.has(id)).length}`); throw e; });
  // Presence converges on every node after the heal.
  for (const x of everyone) await until(() => keys(x) === four, 'four members on every node after the heal', 60000);
  for (const n of nodes) assert.equal(await alive(n), 2);

  // C killed on its host with 40 messages for the offline tablet on its
  // disk; the tablet comes back on B, C restarts on its data dir: they
  // arrive there, and the room shows the tablet once, from B.
  tablet.close();
  bob.close();
  const stored = [];
  for (let n = 0; n < 40; n++) {
    const k = await phone.sendToDevice('tablet', 'stored', { n }, { requiresAck: true });
    assert.equal(k.recipients, 1);
    stored.push(k.messageId);
  }
  await c.stop('SIGKILL');
  for (const n of [a, b]) await until(async () => (await alive(n)) === 1, `C down at ${n.host}`, 10000);
  const moved = device(b, 'alice', 'tablet', { deviceType: 'tablet' });
  await moved.connect();
  await moved.join('ops', { presence: true });
  await c.start();
  for (const n of nodes) await until(async () => (await alive(n)) === 2, `C back at ${n.host}`, 20000);
  await until(() => stored.every((id) => moved.got.has(id)), 'the 40 stored on C at the tablet on B', 30000);
  assert.deepEqual(stored.map((id) => moved.got.get(id).payload.n), Array.from({ length: 40 }, (_, i) => i));
  const three = ['alice/laptop', 'alice/phone', 'alice/tablet'].join();
  for (const x of [phone, laptop, moved]) await until(() => keys(x) === three, 'bob gone, the tablet shown once', 20000);
});
