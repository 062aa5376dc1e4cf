// A reference for the edge bench, not a cache to copy: the least a Node caching proxy can do on node:http.
// The first GET of a URL fetches the whole body from the origin into a Map; later ones are answered from
// it with the origin's headers, one `bytes=a-b` range at most. No freshness, Vary, validation or
// coalescing. It shows how far node:http itself goes, so the edge's own per-request cost can be told
// apart from the HTTP stack's.
//
//   node bench/servers/naive-cache.ts <origin-url>
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const origin = (process.argv[2] ?? '').replace(/\/+$/, '');
if (!origin) throw new Error('usage: naive-cache.ts <origin-url>');
type Entry = { status: number; headers: Record<string, string>; body: Buffer };
const entries = new Map<string, Entry>();
const DROP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date']);

async function fill(url: string): Promise<Entry> {
  const r = await fetch(`${origin}${url}`);
  const body = Buffer.from(await r.arrayBuffer());
  const headers: Record<string, string> = {};
  r.headers.forEach((v, k) => {
    if (!DROP.has(k)) headers[k] = v;
  });
  const e = { status: r.status, headers: { ...headers, via: '1.1 naive', age: '0', 'x-cache': 'HIT' }, body };
  if (r.status === 200) entries.set(url, e);
  return { ...e, headers: { ...e.headers, 'x-cache': 'MISS' } };
}

function send(req: http.IncomingMessage, res: http.ServerResponse, e: Entry): void {
  const m = e.status === 200 ? /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') : null;
  if (m && Number(m[1]) <= Number(m[2]) && Number(m[1]) < e.body.length) {
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), e.body.length - 1);
    res.writeHead(206, { ...e.headers, 'content-range': `bytes ${start}-${end}/${e.body.length}`, 'content-length': end - start + 1 });
    res.end(e.body.subarray(start, end + 1));
    return;
  }
  res.writeHead(e.status, { ...e.headers, 'content-length': e.body.length });
  res.end(e.body);
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  const hit = entries.get(url);
  if (hit) return send(req, res, hit);
  fill(url).then(
    (e) => send(req, res, e),
    () => res.writeHead(502).end(),
  );
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(`naive cache listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
