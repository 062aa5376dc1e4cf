// The origin's front door in the edge bench: passes every request on to our origin and counts them by
// path, so "one origin request per object" is measured where the origin sees it, not assumed.
//
//   node bench/servers/counting-proxy.ts <origin-url>
//
// A path may carry any prefix before /media/ (/ours/c1/media/x, /nginx/media/x): the prefix names who
// asked and which run it belongs to, and is cut off before the origin sees the request.
// GET /_bench/counts → {path: count}; GET /_bench/failures → the requests it could not pass on or whose
// answer broke off ({path, error, reusedSocket}: a kept-alive connection to the origin that closed as it
// was reused says so), which a cache may then ask again; POST /_bench/reset clears both;
// POST /_bench/delay?ms=N holds each request back N ms before passing it on (an origin far away).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const origin = new URL(process.argv[2] ?? '');
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
let counts = new Map<string, number>();
type Failure = { path: string; error: string; reusedSocket: boolean };
let failures: Failure[] = [];
let delayMs = 0;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

function forward(req: http.IncomingMessage, res: http.ServerResponse, path: string, target: string): void {
  const headers: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && k !== 'host') headers[k] = v;
  const up = http.request({ host: origin.hostname, port: origin.port, method: req.method, path: target, headers, agent }, (ur) => {
    const out: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(ur.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
    res.writeHead(ur.statusCode ?? 502, out);
    ur.on('close', () => {
      if (!ur.complete) failures.push({ path, error: 'answer broke off', reusedSocket: up.reusedSocket });
    });
    ur.pipe(res);
  });
  up.on('error', (err: NodeJS.ErrnoException) => {
    failures.push({ path, error: err.code ?? err.message, reusedSocket: up.reusedSocket });
    res.destroy();
  });
  res.on('close', () => up.destroy());
  req.pipe(up);
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (url.startsWith('/_bench/')) {
    const u = new URL(url, 'http://proxy');
    if (u.pathname === '/_bench/counts') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Object.fromEntries(counts)));
    if (u.pathname === '/_bench/failures') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(failures));
    if (u.pathname === '/_bench/reset' && req.method === 'POST') {
      counts = new Map();
      failures = [];
      return void res.writeHead(204).end();
    }
    if (u.pathname === '/_bench/delay' && req.method === 'POST') {
      delayMs = Number(u.searchParams.get('ms') ?? 0);
      return void res.writeHead(204).end();
    }
    return void res.writeHead(404).end();
  }
  const path = url.split('?')[0];
  counts.set(path, (counts.get(path) ?? 0) + 1);
  const at = url.indexOf('/media/');
  const target = at < 0 ? url : url.slice(at);
  if (delayMs > 0) setTimeout(() => forward(req, res, path, target), delayMs);
  else forward(req, res, path, target);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(`counting proxy listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
