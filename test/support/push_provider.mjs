// A stand-in push provider for the tests of the push client and pushes:
// Node's own http2 server over TLS (HTTP/1.1 clients allowed too), or plain
// HTTP/1.1 with --plain. Prints "listening on 127.0.0.1:PORT", then one
// line per request it finished reading: "REQ " + JSON {session, version,
// method, path, headers, body}. What it answers depends on the path:
//   /ok     200 {"ok":true}          /gone   410 {"reason":"Unregistered"}
//   /retry  429, Retry-After: 7 (or ?after=N)   /hang   never answers
//   /big    200 with 200,000 bytes   anything else 404
// Usage: node push_provider.mjs [--plain] --cert CERT.pem --key KEY.pem
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';

const args = process.argv.slice(2);
const arg = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const plain = args.includes('--plain');

let sessions = 0;
const sessionIds = new WeakMap();

function handle(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const key = req.stream ? req.stream.session : req.socket;
    if (!sessionIds.has(key)) sessionIds.set(key, ++sessions);
    const headers = {};
    for (const [k, v] of Object.entries(req.headers))
      if (!k.startsWith(':')) headers[k] = v;
    process.stdout.write('REQ ' + JSON.stringify({
      session: sessionIds.get(key),
      version: req.httpVersion,
      method: req.method,
      path: req.url,
      headers,
      body: Buffer.concat(chunks).toString('utf8'),
    }) + '\n');
    const url = new URL(req.url, 'http://x');
    switch (url.pathname) {
      case '/ok':
        res.writeHead(200, {'content-type': 'application/json'});
        res.end('{"ok":true}');
        break;
      case '/retry':
        res.writeHead(429, {'retry-after': url.searchParams.get('after') ?? '7'});
        res.end('{"reason":"TooManyRequests"}');
        break;
      case '/gone':
        res.writeHead(410);
        res.end('{"reason":"Unregistered"}');
        break;
      case '/big':
        res.writeHead(200);
        res.end('x'.repeat(200000));
        break;
      case '/hang':
        break; // never answered
      default:
        res.writeHead(404);
        res.end();
    }
  });
}

const server = plain
  ? http.createServer(handle)
  : http2.createSecureServer({
      cert: fs.readFileSync(arg('--cert')),
      key: fs.readFileSync(arg('--key')),
      allowHTTP1: true,
    }, handle);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on 127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
