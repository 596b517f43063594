// Handled on one device, withdrawn from the others (SPEC §5.9), against a
// real tetherd: a broadcast to four devices of a user, two of them offline,
// handled on one leaves nothing of it queued for the offline ones (durable
// and not; after a restart too), the online one that had it is told by a
// tether.withdrawn, a message its sender kept (withdrawable: false) stays;
// the same for a room publish. Run: TETHERD=... node --test test/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until, trackedDevice, trackedRun } from './support/tetherd.mjs';

const { clients, startNode: start } = trackedRun();
// A stop without the drain's wait (the test restarts the node).
const startNode = () => start(['--server.drain_window', '0s']);

// A device that records its messages and the ids it was told were withdrawn.
function device(node, user, id, claims) {
  const c = trackedDevice(clients, node, user, id, claims);
  c.withdrawn = [];
  c.on('withdrawn', (ids) => c.withdrawn.push(...ids));
  return c;
}

const types = (c) => c.got.map((m) => m.type);

// A device that connects once and leaves: it is known, and offline.
async function leaves(node, user, id) {
  const c = device(node, user, id);
  await c.connect();
  c.close();
}

// The device connects again (a new client), waits for `marker` (sent after
// the handled request, so it comes after anything older still queued) and
// returns the client and what came to it.
async function comesBack(node, user, id, marker) {
  const c = device(node, user, id);
  await c.connect();
  await until(() => c.got.some((m) => m.type === marker), `${marker} at ${user}/${id}`);
  return [c, types(c)];
}

test('a broadcast handled on one device is withdrawn from the others', { timeout: 60000 }, async () => {
  const node = await startNode();
  const laptop = device(node, 'alice', 'laptop', { deviceType: 'desktop' });
  const desktop = device(node, 'alice', 'desktop', { deviceType: 'desktop' });
  const tablet = device(node, 'alice', 'tablet', { deviceType: 'tablet' });
  await Promise.all([laptop, desktop, tablet].map((c) => c.connect()));
  // Phone and watch are known and offline: their queues keep what comes.
  await leaves(node, 'alice', 'phone');
  await leaves(node, 'alice', 'watch');
  await until(async () => (await node.get('/healthz')).connections === 3, 'two devices gone');

  // Not durable, durable, and durable but kept by its sender.
  await laptop.broadcast('plain', { n: 1 }, { id: 'm-plain' });
  let ack = await laptop.broadcast('durable', { n: 2 }, { requiresAck: true, id: 'm-durable' });
  assert.equal(ack.recipients, 4);
  ack = await laptop.broadcast('kept', { n: 3 }, { requiresAck: true, withdrawable: false, id: 'm-kept' });
  assert.equal(ack.recipients, 4);
  await until(() => ['plain', 'durable', 'kept'].every((t) => types(desktop).includes(t) && types(tablet).includes(t)), 'the online copies');

  // The desktop handled all three; the client leaves the kept one out.
  const acks = await desktop.markHandled(['m-plain', 'm-durable', 'm-kept', 'm-plain']);
  assert.deepEqual(acks.map((a) => a.status), ['processed']);
  await until(() => tablet.withdrawn.length === 2, 'the tablet told');
  assert.deepEqual(tablet.withdrawn, ['m-plain', 'm-durable']);
  assert.equal(tablet.stats.withdrawn, 2);
  await until(async () => (await node.metric('tether_queue_events_total', 'event="withdrawn"')) >= 4, 'the offline copies withdrawn');
  ack = await laptop.broadcast('marker', {}, { requiresAck: true });
  assert.equal(ack.recipients, 4);

  // The phone comes back: the kept one and the marker, nothing withdrawn.
  const [phone, got] = await comesBack(node, 'alice', 'phone', 'marker');
  assert.deepEqual(got, ['kept', 'marker']);
  assert.deepEqual(phone.withdrawn, []);
  // Nor the one that handled them, nor the one that sent them.
  assert.deepEqual(desktop.withdrawn, []);
  assert.deepEqual(laptop.withdrawn, []);

  // A bad request is refused with the field named, and changes nothing.
  await assert.rejects(desktop.request('tether.handled', { messageIds: [] }),
    (e) => e.code === 'VALIDATION_ERROR' && /messageIds/.test(JSON.stringify(e.details)));
  await assert.rejects(desktop.markHandled([]), (e) => e.code === 'VALIDATION_ERROR');

  // The watch stays offline across a restart: the durable copy it lost is
  // not back from the store, the kept one is.
  for (const c of [laptop, desktop, tablet, phone]) c.close();
  await node.stop('SIGTERM');
  await node.start();
  const [watch, seen] = await comesBack(node, 'alice', 'watch', 'marker');
  assert.deepEqual(seen, ['kept', 'marker']);
  assert.deepEqual(watch.withdrawn, []);
});

test('a room publish handled on one device is withdrawn from the others', { timeout: 60000 }, async () => {
  const node = await startNode();
  const bob = device(node, 'bob', 'laptop', { deviceType: 'desktop' });
  const desktop = device(node, 'carol', 'desktop', { deviceType: 'desktop' });
  const phone = device(node, 'carol', 'phone');
  const other = device(node, 'dave', 'phone');
  await Promise.all([bob, desktop, phone, other].map((c) => c.connect()));
  for (const c of [bob, desktop, phone, other]) await c.join('team');
  // The phone is gone but still a member (its grace): its queue takes the
  // publish.
  phone.close();
  await until(async () => (await node.get('/healthz')).connections === 3, 'the phone gone');
  let ack = await bob.publish('team', 'note', { text: 'deploy at 5' }, { requiresAck: true, id: 'r-1' });
  assert.equal(ack.recipients, 3);
  await until(() => types(desktop).includes('note') && types(other).includes('note'), 'the publish');
  await desktop.markHandled(['r-1']);
  ack = await bob.publish('team', 'marker', {}, { requiresAck: true });
  assert.equal(ack.recipients, 3);
  const [back, got] = await comesBack(node, 'carol', 'phone', 'marker');
  assert.deepEqual(got, ['marker']);
  assert.deepEqual(back.withdrawn, []);
  // Another user's copy is theirs: dave keeps it and is told nothing.
  assert.deepEqual(other.withdrawn, []);
  assert.ok(types(other).includes('note'));
});
