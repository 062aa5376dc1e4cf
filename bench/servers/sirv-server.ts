// The Node static-server baseline for the origin bench: sirv over the media folder at /media/,
// with the same caching promise as the origin (immutable, one year) and ETags for revalidation.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sirv from 'sirv';

const root = process.argv[2];
if (!root) throw new Error('usage: sirv-server.ts <root>');
const serve = sirv(root, { dev: false, etag: true, maxAge: 31536000, immutable: true });
const notFound = (_req: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(404).end();
const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (!url.startsWith('/media/')) return notFound(req, res);
  req.url = url.slice('/media'.length);
  serve(req, res, () => {
    notFound(req, res);
  });
});
server.listen(0, '127.0.0.1', () => console.log(`sirv listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
