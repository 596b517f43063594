// Real tetherd processes for the client's tests (TETHERD: the binary; the
// test runner of tools/test.sh sets it), tokens signed with the node's own
// secret, and bounded waits.

import { after } from 'node:test';
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { TetherClient } from '../../tether-client.js';
import { until } from './until.mjs';

export { WebSocket, until };

/** The nodes and clients a test file starts (push them, or start a node
 * with `startNode(flags)`), ended after its last test whatever a failed
 * test left, so that nothing keeps the run alive; TETHER_LOG=info prints
 * the nodes' logs. `also` runs last. */
export function trackedRun(also) {
  const run = { nodes: [], clients: [] };
  run.startNode = async (flags = []) => {
    const n = new Node(flags);
    run.nodes.push(n);
    await n.start();
    return n;
  };
  after(async () => {
    for (const c of run.clients) c.close();
    if (process.env.TETHER_LOG) for (const n of run.nodes) console.error(`--- node ${n.port}\n${n.stderr}`);
    for (const n of run.nodes) await n.remove();
    if (also) await also();
  });
  return run;
}

const tetherd = process.env.TETHERD;
if (!tetherd) throw new Error('set TETHERD to the tetherd binary');

const tetherCli = process.env.TETHER_CLI || join(dirname(tetherd), 'tether');

/** A test cluster's certificates (SPEC §14.1), made with `tether cert`: its
 * CA at once, and a certificate per node id on demand. The cluster tests'
 * nodes talk mutual TLS, as nodes off loopback must. */
export class ClusterPki {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'tether-pki-'));
    this.issued = 0;
    execFileSync(tetherCli, ['cert', 'cluster-ca', '--out', join(this.dir, 'ca')], { stdio: 'ignore' });
  }

  /** The --cluster.tls_* flags of node `id` (a certificate issued now). */
  flags(id) {
    const out = join(this.dir, `node-${this.issued++}`);
    execFileSync(tetherCli, ['cert', 'node', '--node-id', id, '--ca', join(this.dir, 'ca'), '--out', out],
      { stdio: 'ignore' });
    return ['--cluster.tls_cert', join(out, 'node.pem'), '--cluster.tls_key', join(out, 'node-key.pem'),
      '--cluster.tls_ca', join(out, 'ca.pem')];
  }

  remove() { rmSync(this.dir, { recursive: true, force: true }); }
}

/** A tetherd on 127.0.0.1 (or `host`) with its own data dir; `port` 0
 * picks one. `netns`: the network namespace to run it in (`ip netns exec`
 * execs tetherd, so the pid is tetherd's). */
export class Node {
  /** `secretFile`: a token secret shared with other nodes (a cluster). */
  constructor(extra = [], { secretFile, host = '127.0.0.1', netns } = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'tether-js-'));
    this.extra = secretFile ? ['--auth.secret_file', secretFile, ...extra] : extra;
    this.secretFile = secretFile || join(this.dir, 'secret.key');
    this.host = host;
    this.netns = netns;
    this.port = 0;
  }

  start() {
    return new Promise((resolve, reject) => {
      const args = ['--address', this.host, '--port', String(this.port), '--data-dir', this.dir,
        '--log-level', process.env.TETHER_LOG || 'warn', ...this.extra];
      const p = this.netns
        ? spawn('/usr/sbin/ip', ['netns', 'exec', this.netns, tetherd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(tetherd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.proc = p;
      this.stderr = '';
      p.stderr.on('data', (d) => { this.stderr += d; });
      let out = '';
      const timer = setTimeout(() => reject(new Error(`tetherd did not start: ${this.stderr}`)), 20000);
      p.stdout.on('data', (d) => {
        out += d;
        const m = /listening on [^:]+:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          this.port = Number(m[1]);
          resolve(this.port);
        }
      });
      p.on('exit', (code) => {
        clearTimeout(timer);
        this.exited = code;
        // Before it listened: a refused start (reject is a no-op after).
        reject(new Error(`tetherd exited with ${code}: ${this.stderr}`));
      });
    });
  }

  get url() { return `ws://${this.host}:${this.port}/ws`; }

  /** GET `path` of this node's HTTP side, as JSON or text. */
  async get(path, json = true) {
    const r = await fetch(`http://${this.host}:${this.port}${path}`);
    return json ? r.json() : r.text();
  }

  /** The value of `name{labels}` in this node's /metrics (`labels` as
   * written there, e.g. 'event="retired"'; none: the bare name), or -1. */
  async metric(name, labels = '') {
    const key = labels ? `${name}{${labels}}` : name;
    const line = (await this.get('/metrics', false)).split('\n').find((l) => l.startsWith(`${key} `));
    return line ? Number(line.slice(key.length + 1)) : -1;
  }

  /** Ends the process (by its pid) with `signal` and waits for it. */
  stop(signal = 'SIGTERM') {
    return new Promise((resolve) => {
      if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) { resolve(); return; }
      const timer = setTimeout(() => { this.proc.kill('SIGKILL'); }, 10000);
      this.proc.once('exit', () => { clearTimeout(timer); resolve(); });
      this.proc.kill(signal);
    });
  }

  async remove() {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** An HS256 token of this node for a device (SPEC §10). */
  token(sub, deviceId, { deviceType = 'mobile', role, ttlSeconds = 3600 } = {}) {
    const secret = readFileSync(this.secretFile, 'utf8').trim();
    const b64 = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub, device_id: deviceId, device_type: deviceType, iat: now, exp: now + ttlSeconds };
    if (role) claims.role = role;
    const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
    return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
  }
}

/** `n` free TCP ports on 127.0.0.1 (held until all are picked). */
export async function freePorts(n) {
  const servers = [];
  for (let i = 0; i < n; i++) {
    const s = createServer();
    await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
    servers.push(s);
  }
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** The next `event` of `client` (bounded). */
export function next(client, event, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    const fn = (...args) => { clearTimeout(timer); client.off(event, fn); resolve(args); };
    client.on(event, fn);
  });
}

/** Reconnect quickly: the tests' links drop on purpose. */
export const fastBackoff = { baseMs: 20, capMs: 300, multiplier: 2 };

/** A client of `node` for device `id` of `user` (token claims as
 * Node.token), its messages collected in `got`, added to `clients` (the
 * test's after() closes them). */
export function trackedDevice(clients, node, user, id, claims = {}, codec = 'json') {
  const c = new TetherClient({ url: node.url, token: node.token(user, id, claims), WebSocket, backoff: fastBackoff, codec });
  c.got = [];
  c.on('message', (m) => c.got.push(m));
  clients.push(c);
  return c;
}
