// "Several hosts" for the JS tests run through test/integration/
// hosts_traffic.sh: the three node namespaces it made (TETHER_NETNS), their
// addresses, the cluster port every "host" uses, a quick client backoff, a
// token secret for the cluster and iptables partitions.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
