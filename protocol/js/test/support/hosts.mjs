// "Several hosts" for the JS tests run through test/integration/
// hosts_traffic.sh: the three node namespaces it made (TETHER_NETNS), their
// addresses, the cluster port every "host" uses, a quick client backoff, a
// token secret for the cluster, iptables partitions, and the cluster of
// three nodes with its clients (HostsCluster).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TetherClient } from '../../tether-client.js';
import { ClusterPki, Node, WebSocket, until } from './tetherd.mjs';

export const netns = (process.env.TETHER_NETNS || '').split(' ').filter(Boolean);
if (netns.length !== 3) throw new Error('run through test/integration/hosts_traffic.sh (TETHER_NETNS)');
export const address = (i) => `10.201.0.${i + 1}`;
export const clusterPort = 7400; // the same on every "host"
export const fast = { baseMs: 50, capMs: 500, multiplier: 2 };

/** A token secret file shared by the nodes (`fill`: its character);
 * `remove()` deletes it. */
export function clusterSecret(fill) {
  const dir = mkdtempSync(join(tmpdir(), 'tether-secret-'));
  const file = join(dir, 'secret.key');
  writeFileSync(file, fill.repeat(64) + '\n', { mode: 0o600 });
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Cuts namespace i off (both directions), or heals it. */
export function partition(i, on) {
  for (const [chain, dir] of [['INPUT', '-i'], ['OUTPUT', '-o']])
    execFileSync('/usr/sbin/ip', ['netns', 'exec', netns[i], 'iptables', on ? '-A' : '-D', chain, dir, 'eth0', '-j', 'DROP']);
}

/** The three-node cluster of a namespace test: its token secret and CA,
 * its nodes (one per namespace, mutual TLS, quick timings) and the clients
 * made with device(); teardown() ends them, remove() also the secret. */
export class HostsCluster {
  constructor(fill) {
    this.secret = clusterSecret(fill);
    this.pki = new ClusterPki();
    this.nodes = [];
    this.clients = [];
  }

  /** Starts the three nodes (`extra` flags on each) and waits until each
   * sees the other two alive. */
  async start(extra = []) {
    for (let i = 0; i < 3; i++) {
      const seeds = [0, 1, 2].filter((j) => j !== i).map((j) => `${address(j)}:${clusterPort}`).join(',');
      const n = new Node([...this.pki.flags(`${address(i)}:${clusterPort}`),
        '--cluster.address', address(i), '--cluster.port', String(clusterPort), '--cluster.seeds', seeds,
        '--cluster.heartbeat_interval', '200ms', '--cluster.connection_timeout', '1s', '--node.request_timeout', '2s',
        '--supervision.backoff_base', '50ms', '--supervision.backoff_cap', '500ms', ...extra],
      { secretFile: this.secret.file, host: address(i), netns: netns[i] });
      this.nodes.push(n);
      await n.start();
    }
    for (const n of this.nodes) await until(async () => (await alive(n)) === 2, `two peers alive at ${n.host}`, 20000);
    return this.nodes;
  }

  /** A client of `user`'s device `id` on `node`; what it receives is in
   * `got` by message id. */
  device(node, user, id, claims = {}) {
    const c = new TetherClient({ url: node.url, token: node.token(user, id, claims), WebSocket, backoff: fast });
    c.got = new Map();
    c.on('message', (m) => c.got.set(m.id, m));
    this.clients.push(c);
    return c;
  }

  async teardown() {
    for (const c of this.clients) c.close();
    for (const n of this.nodes) {
      if (process.env.TETHER_LOG) console.error(`--- ${n.host}\n${n.stderr}`);
      await n.remove();
    }
    this.nodes = [];
    this.clients = [];
  }

  async remove() {
    await this.teardown();
    this.secret.remove();
    this.pki.remove();
  }
}

/** How many other members `node` sees alive. */
export const alive = async (node) => (await node.get('/healthz')).members.filter((m) => m.state === 'alive').length;
