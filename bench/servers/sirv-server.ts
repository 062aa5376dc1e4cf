// The Node static-server baseline for the origin bench: sirv over the media folder at /media/,
// with the same caching promise as the origin (immutable, one year) and ETags for revalidation.
//
// With --rfc-304, sirv also sends what RFC 9110 §15.4.5 and our origin put on a 304 (ETag,
// Cache-Control, Last-Modified) and the CORS headers our origin puts on every media response: plain
// sirv answers a revalidation with a bare 304, which is less work than the same answer done right.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sirv from 'sirv';

const root = process.argv[2];
const rfc304 = process.argv.includes('--rfc-304');
if (!root) throw new Error('usage: sirv-server.ts <root> [--rfc-304]');
const serve = sirv(root, { dev: false, etag: true, maxAge: 31536000, immutable: true });
const notFound = (_req: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(404).end();
const lastModified = new Map<string, string>();
const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (!url.startsWith('/media/')) return notFound(req, res);
  req.url = url.slice('/media'.length);
  if (rfc304) {
    const path = req.url;
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', 'Content-Range, Content-Length, Accept-Ranges, ETag');
    const writeHead = res.writeHead.bind(res) as (status: number, headers?: Record<string, string>) => http.ServerResponse;
    (res as { writeHead: unknown }).writeHead = (status: number, headers?: Record<string, string>) => {
      if (status === 304) {
        res.setHeader('etag', req.headers['if-none-match'] as string);
        res.setHeader('cache-control', 'public,max-age=31536000,immutable');
        const lm = lastModified.get(path);
        if (lm) res.setHeader('last-modified', lm);
      } else if (headers?.['Last-Modified']) {
        lastModified.set(path, headers['Last-Modified']);
      }
      return writeHead(status, headers);
    };
  }
  serve(req, res, () => {
    notFound(req, res);
  });
});
server.listen(0, '127.0.0.1', () => console.log(`sirv listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
