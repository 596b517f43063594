// Three tetherd nodes on 127.0.0.1 joined into a cluster (one seed), one
// user's devices connected to different nodes, driven by the JS client:
// direct, extension and user-broadcast messages cross nodes with acks and
// in order; a killed node's devices leave the routes and reconnect
// elsewhere; an offline device's queue follows it to the node it connects
// to, and comes back with a killed node restarted on its data dir; a
// message handled on one node is withdrawn from the user's devices on the
// others (an online one told, an offline one's queue emptied); a
// room's presence is one view on every node, and a killed node's members
// leave it once after the grace (those that reconnected elsewhere stay).
// Run: TETHERD=... node --test test/cluster.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterPki, Node, until, freePorts, trackedDevice, trackedRun } from './support/tetherd.mjs';

const secretDir = mkdtempSync(join(tmpdir(), 'tether-secret-'));
const secretFile = join(secretDir, 'secret.key');
const pki = new ClusterPki();
writeFileSync(secretFile, 'a'.repeat(64) + '\n', { mode: 0o600 }); // every node signs alike
const { nodes, clients } = trackedRun(() => {
  rmSync(secretDir, { recursive: true, force: true });
  pki.remove();
});

async function healthz(node) {
  const r = await fetch(`http://127.0.0.1:${node.port}/healthz`);
  return r.json();
}

const device = (...args) => trackedDevice(clients, ...args);

// Routes reach other nodes once the user's home has told them: retried
// until accepted (bounded), then every later message must pass at once.
async function sendUntilAccepted(client, send, what) {
  let ack;
  await until(async () => {
    ack = await send().catch(() => null);
    return ack && ack.status === 'received';
  }, what, 15000);
  return ack;
}

// Three nodes, B and C seeded by A, every one seeing the two others alive.
async function startCluster(extra = []) {
  const cports = await freePorts(3);
  const flags = (i) => [...extra, ...pki.flags(`127.0.0.1:${cports[i]}`),
    '--cluster.port', String(cports[i]), '--cluster.heartbeat_interval', '200ms',
    '--cluster.connection_timeout', '1s', '--supervision.backoff_base', '50ms', '--supervision.backoff_cap', '500ms',
    '--node.request_timeout', '2s',
    ...(i === 0 ? [] : ['--cluster.seeds', `127.0.0.1:${cports[0]}`])];
  const three = [];
  for (let i = 0; i < 3; i++) {
    const n = new Node(flags(i), { secretFile });
    nodes.push(n);
    three.push(n);
    await n.start();
  }
  await until(async () => {
    for (const n of three) {
      const h = await healthz(n);
      if (h.members.filter((m) => m.state === 'alive').length !== 2) return false;
    }
    return true;
  }, 'three alive members on every node', 15000);
  return three;
}

test('a user\'s devices on three nodes reach each other; a killed node\'s device moves', { timeout: 120000 }, async () => {
  const [a, b, c] = await startCluster();

  const phone = device(a, 'alice', 'phone');
  const laptop = device(b, 'alice', 'laptop', { deviceType: 'desktop', role: 'extension' });
  const tablet = device(c, 'alice', 'tablet', { deviceType: 'tablet' });
  await Promise.all([phone.connect(), laptop.connect(), tablet.connect()]);

  // Direct, A -> B, and back, B -> A.
  let ack = await sendUntilAccepted(phone, () => phone.sendToDevice('laptop', 'ping', { n: 0 }, { requiresAck: true }), 'phone -> laptop');
  assert.equal(ack.recipients, 1);
  ack = await sendUntilAccepted(laptop, () => laptop.sendToDevice('phone', 'pong', {}, { requiresAck: true }), 'laptop -> phone');
  assert.equal(ack.recipients, 1);
  // Extension and user broadcast (B and C at once).
  ack = await phone.sendToExtension('open', { path: 'a.txt' }, { requiresAck: true });
  assert.equal(ack.recipients, 1);
  ack = await sendUntilAccepted(phone, () => phone.broadcast('hello', {}, { requiresAck: true }).then((x) => (x.recipients === 2 ? x : null)), 'broadcast to two nodes');
  assert.equal(ack.recipients, 2);
  await until(() => laptop.got.some((m) => m.type === 'open') && laptop.got.some((m) => m.type === 'hello')
    && tablet.got.some((m) => m.type === 'hello') && phone.got.some((m) => m.type === 'pong'), 'the deliveries');
  const open = laptop.got.find((m) => m.type === 'open');
  assert.equal(open.source.deviceId, 'phone');
  assert.deepEqual(open.payload, { path: 'a.txt' });

  // Order across nodes: 200 durable messages A -> C arrive in order.
  await sendUntilAccepted(phone, () => phone.sendToDevice('tablet', 'warm', {}, { requiresAck: true }), 'phone -> tablet');
  const sends = [];
  for (let n = 0; n < 200; n++) sends.push(phone.sendToDevice('tablet', 'seq', { n }, { requiresAck: true }));
  const acks = await Promise.all(sends);
  assert.ok(acks.every((x) => x.status === 'received' && x.recipients === 1));
  await until(() => tablet.got.filter((m) => m.type === 'seq').length === 200, '200 at the tablet');
  assert.deepEqual(tablet.got.filter((m) => m.type === 'seq').map((m) => m.payload.n), Array.from({ length: 200 }, (_, i) => i));

  // /metrics counts what crossed: A sent routes out, C took them in.
  const metric = (node, labels) => node.metric('tether_cluster_messages_total', labels);
  assert.ok(await metric(a, 'kind="route",direction="out"') >= 201);
  assert.ok(await metric(c, 'kind="route",direction="in"') >= 201);

  // C dies with the tablet's queue: a broadcast reaches the laptop and is
  // refused for the tablet, by name; the tablet, reconnected to B, is
  // reached there.
  tablet.close();
  await c.stop('SIGKILL');
  await until(async () => (await healthz(a)).members.some((m) => m.state === 'down'), 'C down at A');
  // Its detection time: since its last ping (every 200 ms) to the link loss.
  const detection = await a.metric('tether_cluster_last_detection_seconds');
  assert.ok(detection >= 0 && detection < 1.0, `detection ${detection} s`);
  let refused;
  await until(async () => {
    refused = await phone.broadcast('after', {}, { requiresAck: true }).then(() => null, (e) => e);
    return refused && refused.code === 'NODE_UNAVAILABLE';
  }, 'the broadcast refused for the tablet', 30000);
  assert.match(refused.message, /queued for 1 of 2 devices; device 'tablet'/);
  const moved = device(b, 'alice', 'tablet', { deviceType: 'tablet' });
  await moved.connect();
  await sendUntilAccepted(phone, () => phone.sendToDevice('tablet', 'moved', {}, { requiresAck: true }), 'phone -> tablet on B');
  await until(() => moved.got.some((m) => m.type === 'moved'), 'the tablet on B');
  ack = await phone.broadcast('again', {}, { requiresAck: true });
  assert.equal(ack.recipients, 2);
  for (const x of [phone, laptop, moved]) x.close();
});

test('a room publish reaches the members on every node once', { timeout: 60000 }, async () => {
  const [a, b, c] = await startCluster();
  const alice = device(a, 'alice', 'phone');
  const bob = device(b, 'bob', 'laptop', { deviceType: 'desktop' });
  const carol = device(c, 'carol', 'tablet', { deviceType: 'tablet' });
  await Promise.all([alice.connect(), bob.connect(), carol.connect()]);
  for (const x of [alice, bob, carol]) await x.join('team-x');
  let ack = await alice.publish('team-x', 'note', { n: 1 }, { requiresAck: true });
  assert.equal(ack.recipients, 2); // bob on B, carol on C: the durable ack counts both
  await alice.publish('team-x', 'note', { n: 2 }); // not durable
  ack = await bob.publish('team-x', 'note', { n: 3 }, { requiresAck: true });
  assert.equal(ack.recipients, 2);
  await until(() => bob.got.length === 2 && carol.got.length === 3 && alice.got.length === 1, 'every copy');
  // Order holds per sender (SPEC §5.5), not between alice and bob.
  assert.deepEqual(carol.got.filter((m) => m.source.userId === 'alice').map((m) => m.payload.n), [1, 2]);
  assert.deepEqual(carol.got.filter((m) => m.source.userId === 'bob').map((m) => m.payload.n), [3]);
  assert.deepEqual(bob.got.map((m) => m.payload.n), [1, 2]);
  assert.deepEqual(alice.got.map((m) => m.payload.n), [3]);
  assert.ok(await a.metric('tether_cluster_messages_total', 'kind="room",direction="out"') >= 1);
  // Bytes stay bytes across nodes between msgpack devices (the message
  // crosses in its payload's codec), and reach a JSON device as base64.
  const mp1 = device(a, 'erin', 'a', {}, 'msgpack');
  const mp2 = device(b, 'erin', 'b', {}, 'msgpack');
  const js3 = device(c, 'erin', 'c');
  await Promise.all([mp1.connect(), mp2.connect(), js3.connect()]);
  const bytes = new Uint8Array([0, 1, 2, 250, 255]);
  await sendUntilAccepted(mp1, () => mp1.broadcast('blob', { data: bytes }, { requiresAck: true })
    .then((x) => (x.recipients === 2 ? x : null)), 'msgpack broadcast to two nodes');
  await until(() => mp2.got.length > 0 && js3.got.length > 0, 'the blob on B and C');
  assert.ok(mp2.got[0].payload.data instanceof Uint8Array);
  assert.deepEqual([...mp2.got[0].payload.data], [...bytes]);
  assert.equal(js3.got[0].payload.data, Buffer.from(bytes).toString('base64'));
  for (const x of [mp1, mp2, js3]) x.close();

  // Not a member: refused on the publisher's node.
  const dave = device(c, 'dave', 'phone');
  await dave.connect();
  await assert.rejects(dave.publish('team-x', 'note', {}, { requiresAck: true }), (e) => e.code === 'FORBIDDEN');
  for (const x of [alice, bob, carol, dave]) x.close();
});

test('a message handled on one node is withdrawn from the user\'s devices on the others', { timeout: 120000 }, async () => {
  const [a, b, c] = await startCluster();
  const laptop = device(a, 'yan', 'laptop', { deviceType: 'desktop' });
  const desktop = device(a, 'yan', 'desktop', { deviceType: 'desktop' });
  const tablet = device(b, 'yan', 'tablet', { deviceType: 'tablet' });
  let phone = device(c, 'yan', 'phone');
  let watch = device(b, 'yan', 'watch');
  const told = new Map();
  for (const x of [laptop, desktop, tablet]) {
    told.set(x, []);
    x.on('withdrawn', (ids) => told.get(x).push(...ids));
  }
  await Promise.all([laptop, desktop, tablet, phone, watch].map((x) => x.connect()));
  await sendUntilAccepted(laptop, () => laptop.broadcast('warm', {}, { requiresAck: true }).then((x) => (x.recipients === 4 ? x : null)), 'a broadcast to three nodes');
  await until(() => phone.got.some((m) => m.type === 'warm') && watch.got.some((m) => m.type === 'warm'), 'warm at the phone and the watch');
  // The phone and the watch leave: their queues stay on C and B and take
  // what comes.
  phone.close();
  watch.close();
  await until(async () => (await healthz(c)).connections === 0 && (await healthz(b)).connections === 1, 'the phone and the watch gone');
  await laptop.broadcast('plain', {}, { id: 'x-plain' });
  const ack = await laptop.broadcast('durable', {}, { requiresAck: true, id: 'x-durable' });
  assert.equal(ack.recipients, 4);
  await until(() => ['plain', 'durable'].every((t) => desktop.got.some((m) => m.type === t)
    && tablet.got.some((m) => m.type === t)), 'the online copies');

  // Handled on A: B's tablet is told, the queues of the watch on B and of
  // the phone on C lose both copies.
  await desktop.markHandled(['x-plain', 'x-durable']);
  await until(() => told.get(tablet).length === 2, 'the tablet on B told');
  assert.deepEqual(told.get(tablet), ['x-plain', 'x-durable']);
  const withdrawn = (node) => node.metric('tether_queue_events_total', 'event="withdrawn"');
  await until(async () => (await withdrawn(c)) === 2 && (await withdrawn(b)) >= 2, 'the offline copies on B and C withdrawn');
  await sendUntilAccepted(laptop, () => laptop.broadcast('marker', {}, { requiresAck: true }), 'the marker');
  phone = device(c, 'yan', 'phone');
  watch = device(b, 'yan', 'watch');
  await Promise.all([phone.connect(), watch.connect()]);
  await until(() => [phone, watch].every((x) => x.got.some((m) => m.type === 'marker')), 'the marker at the phone and the watch');
  // (warm again if its ack had not left when it closed: at least once.)
  for (const x of [phone, watch]) assert.deepEqual(x.got.map((m) => m.type).filter((t) => t !== 'warm'), ['marker']);
  // Neither the device that handled them nor the one that sent them.
  assert.deepEqual(told.get(desktop), []);
  assert.deepEqual(told.get(laptop), []);
  for (const x of [laptop, desktop, tablet, phone, watch]) x.close();
});

test('an offline device\'s queue follows it to another node and comes back with a killed node', { timeout: 120000 }, async () => {
  const [a, b, c] = await startCluster();
  const phone = device(b, 'zoe', 'phone');
  let tablet = device(a, 'zoe', 'tablet', { deviceType: 'tablet' });
  await Promise.all([phone.connect(), tablet.connect()]);
  await sendUntilAccepted(phone, () => phone.sendToDevice('tablet', 'warm', {}, { requiresAck: true }), 'phone -> tablet on A');
  await until(() => tablet.got.length === 1, 'warm on A');
  const kinds = (client, type) => client.got.filter((m) => m.type === type).map((m) => m.payload.n);
  const range = (n) => Array.from({ length: n }, (_, i) => i);

  // Offline: its queue on A takes what the phone on B sends (on disk).
  tablet.close();
  for (let n = 0; n < 50; n++) {
    const ack = await phone.sendToDevice('tablet', 'q1', { n }, { requiresAck: true });
    assert.equal(ack.status, 'received');
    assert.equal(ack.recipients, 1);
  }
  // It connects to C: A hands its queue over, in order, once.
  tablet = device(c, 'zoe', 'tablet', { deviceType: 'tablet' });
  await tablet.connect();
  await until(() => kinds(tablet, 'q1').length === 50, '50 handed over to C');
  assert.deepEqual(kinds(tablet, 'q1'), range(50));
  const handed = (node) => node.metric('tether_queue_events_total', 'event="handed_over"');
  // Counted when the handover's answer is back at A, which may be after the
  // tablet has the messages.
  await until(async () => await handed(a) >= 50, 'A counts 50 handed over'); // and what the tablet had not acked

  // Offline again, on C; C dies with 30 durable messages on its disk.
  tablet.close();
  for (let n = 0; n < 30; n++) {
    const ack = await phone.sendToDevice('tablet', 'q2', { n }, { requiresAck: true });
    assert.equal(ack.recipients, 1);
  }
  await c.stop('SIGKILL');
  await until(async () => (await healthz(b)).members.some((m) => m.state === 'down'), 'C down at B');
  // Meanwhile a send to it is refused, naming why: not a silent loss.
  let refused;
  await until(async () => {
    refused = await phone.sendToDevice('tablet', 'q3', {}, { requiresAck: true }).then(() => null, (e) => e);
    return refused && refused.code === 'NODE_UNAVAILABLE';
  }, 'NODE_UNAVAILABLE for the tablet', 30000);
  assert.match(refused.message, /down/);
  // The tablet comes back on A; C restarts on its data dir and rejoins,
  // and what it stored reaches the tablet there: lost = 0.
  tablet = device(a, 'zoe', 'tablet', { deviceType: 'tablet' });
  await tablet.connect();
  await c.start();
  await until(() => kinds(tablet, 'q2').length === 30, 'the 30 stored on C at the tablet on A', 30000);
  assert.deepEqual(kinds(tablet, 'q2'), range(30));
  await until(async () => await handed(c) >= 30, 'C counts 30 handed over');
  // And sends reach it at once again.
  const ack = await phone.sendToDevice('tablet', 'q4', {}, { requiresAck: true });
  assert.equal(ack.recipients, 1);
  await until(() => tablet.got.some((m) => m.type === 'q4'), 'q4');
  for (const x of [phone, tablet]) x.close();
});

test('a queue a restarted node starts for an absent device follows it to where it connects', { timeout: 120000 }, async () => {
  const [, b, c] = await startCluster();
  let phone = device(c, 'zed', 'phone');
  let tablet = device(c, 'zed', 'tablet', { deviceType: 'tablet' });
  await Promise.all([phone.connect(), tablet.connect()]);
  await phone.sendToDevice('tablet', 'warm', {}, { requiresAck: true });
  await until(() => tablet.got.some((m) => m.type === 'warm'), 'warm on C');
  // Its ack retired it: C stores nothing for the tablet.
  await until(async () => (await c.metric('tether_queue_events_total', 'event="retired"')) >= 1, 'warm retired on C');
  tablet.close();
  phone.close();
  // C restarts with nothing stored for the tablet; the phone, back on C,
  // sends to it: C starts a queue for a device that is not there.
  await c.stop('SIGTERM');
  await c.start();
  await until(async () => (await healthz(c)).members.filter((m) => m.state === 'alive').length === 2, 'C back in the cluster', 15000);
  phone = device(c, 'zed', 'phone');
  await phone.connect();
  const ack = await phone.sendToDevice('tablet', 'after', { n: 1 }, { requiresAck: true });
  assert.equal(ack.recipients, 1);
  // The tablet connects to B: C hands that queue over (its home learned
  // that C holds it).
  tablet = device(b, 'zed', 'tablet', { deviceType: 'tablet' });
  await tablet.connect();
  await until(() => tablet.got.some((m) => m.type === 'after'), 'the message held on C at the tablet on B', 20000);
  for (const x of [phone, tablet]) x.close();
});

test('a room\'s presence is the same on every node; a killed node\'s members leave once', { timeout: 120000 }, async () => {
  const [a, b, c] = await startCluster(['--presence.grace', '2s']);
  const keys = (client) => [...client.presence('ops').keys()].sort();
  const watch = (client) => {
    client.changes = [];
    client.on('presence', (room, members, update) => {
      if (room === 'ops' && update.diff) for (const x of update.diff.changes) client.changes.push(`${x.userId}/${x.deviceId}:${x.event}`);
    });
    return client;
  };
  const alice = watch(device(a, 'alice', 'phone'));
  const bob = watch(device(b, 'bob', 'laptop', { deviceType: 'desktop' }));
  let carol = watch(device(c, 'carol', 'tablet', { deviceType: 'tablet' }));
  const dave = watch(device(c, 'dave', 'phone'));
  await Promise.all([alice.connect(), bob.connect(), carol.connect(), dave.connect()]);
  for (const x of [alice, bob, carol, dave]) await x.join('ops', { presence: true });
  const all = ['alice/phone', 'bob/laptop', 'carol/tablet', 'dave/phone'];
  for (const x of [alice, bob, carol, dave]) await until(() => keys(x).join() === all.join(), "all four on every node");
  // A status set on one node shows on the others.
  await bob.setStatus('busy');
  await until(() => alice.presence('ops').get('bob/laptop')?.status === 'busy'
    && dave.presence('ops').get('bob/laptop')?.status === 'busy', 'busy on A and C');

  // C dies. Carol reconnects to A within the grace; dave does not.
  alice.changes.length = 0;
  bob.changes.length = 0;
  await c.stop('SIGKILL');
  carol.close();
  dave.close();
  carol = watch(device(a, 'carol', 'tablet', { deviceType: 'tablet' }));
  await carol.connect();
  await carol.join('ops', { presence: true });
  const three = ['alice/phone', 'bob/laptop', 'carol/tablet'];
  for (const x of [alice, bob, carol]) await until(() => keys(x).join() === three.join(), 'dave gone after the grace', 15000);
  // Dave left once; carol never left (no flap, no ghost).
  await new Promise((r) => setTimeout(r, 500));
  for (const x of [alice, bob]) {
    assert.deepEqual(x.changes.filter((e) => e.startsWith('dave/')), ['dave/phone:leave']);
    assert.deepEqual(x.changes.filter((e) => e.startsWith('carol/')), []);
  }
  // C restarts: no ghost comes back; a member joining there sees everyone.
  await c.start();
  await until(async () => (await healthz(a)).members.filter((m) => m.state === 'alive').length === 2, 'C back at A', 15000);
  const erin = watch(device(c, 'erin', 'phone'));
  await erin.connect();
  await erin.join('ops', { presence: true });
  const four = ['alice/phone', 'bob/laptop', 'carol/tablet', 'erin/phone'];
  for (const x of [alice, bob, carol, erin]) await until(() => keys(x).join() === four.join(), 'erin and the others everywhere');
  for (const x of [alice, bob, carol, erin]) x.close();
});
