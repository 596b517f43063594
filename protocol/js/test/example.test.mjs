// The example page (example/index.html) as the README runs it: served by
// `python3 -m http.server -d protocol/js`, opened in headless Chromium
// (Debian's, driven by playwright-core) twice with two of alice's web
// tokens against a real tetherd. Both connect and show their device, the
// lobby shows both members online, and a message typed in one appears in
// the other with its sender, the sender showing the ack's recipient count.
// Writes $TETHER_ARTIFACTS/example.png.
// Run: TETHERD=... node --test test/example.test.mjs

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Node } from './support/tetherd.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let server;
let browser;
const node = new Node();
after(async () => {
  if (browser) await browser.close();
  if (server && server.exitCode === null) server.kill('SIGTERM');
  await node.remove();
});

// The README's static server, on a free port of 127.0.0.1.
function serve() {
  return new Promise((resolve, reject) => {
    server = spawn('/usr/bin/python3', ['-u', '-m', 'http.server', '-d', root, '--bind', '127.0.0.1', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`http.server did not start: ${out}`)), 10000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    server.on('exit', (code) => { clearTimeout(timer); reject(new Error(`http.server exited with ${code}`)); });
  });
}

async function open(httpPort, token) {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${httpPort}/example/`);
  await page.fill('#url', node.url);
  await page.fill('#token', token);
  await page.click('#connect');
  return page;
}

const text = (page, sel) => page.textContent(sel);

test('two browser tabs of alice talk through the example page', async () => {
  await node.start();
  const httpPort = await serve();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const web1 = await open(httpPort, node.token('alice', 'web1', { deviceType: 'web' }));
  const web2 = await open(httpPort, node.token('alice', 'web2', { deviceType: 'web' }));
  await web1.waitForFunction(() => document.getElementById('status').textContent.startsWith('connected'), null, { timeout: 10000 });
  await web2.waitForFunction(() => document.getElementById('status').textContent.startsWith('connected'), null, { timeout: 10000 });
  assert.equal(await text(web1, '#status'), 'connected as alice/web1');
  assert.equal(await text(web2, '#status'), 'connected as alice/web2');
  await web2.waitForFunction(() => document.getElementById('members').textContent.includes('alice/web1 (online)'), null, { timeout: 10000 });
  assert.equal(await text(web2, '#members'), 'alice/web1 (online), alice/web2 (online)');

  await web1.fill('#text', 'hello from web1');
  await web1.click('#send');
  await web2.waitForFunction(() => document.getElementById('log').textContent.includes('hello from web1'), null, { timeout: 10000 });
  assert.equal(await text(web2, '#log'), 'web1: hello from web1');
  await web1.waitForFunction(() => document.getElementById('log').textContent.includes('me:'), null, { timeout: 10000 });
  assert.equal(await text(web1, '#log'), 'me: hello from web1 (to 1 devices)');
  assert.equal(await web1.inputValue('#text'), '');

  const artifacts = process.env.TETHER_ARTIFACTS || '/tmp/art';
  mkdirSync(artifacts, { recursive: true });
  await web2.screenshot({ path: join(artifacts, 'example.png') });
});
