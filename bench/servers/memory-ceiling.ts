// The ceiling column of the origin and edge benches: a bare node:http server answering the bench's
// requests from memory with the least work that still sends what our origin and edge send (ETag,
// Cache-Control, Last-Modified, CORS, a 304 with its validators). Every file of a folder is read into
// memory at start with its header lists prebuilt; per request only a lookup, one `bytes=a-b` range at
// most, and an If-None-Match compare. It is not a server to copy: no HEAD, no multi-range, no
// If-Range, no 416. It shows what node:http itself costs, so the rest of our cost is known to be ours.
//
// With a certificate it serves https instead, HTTP/2 and HTTP/1.1 by ALPN (node:http2's secure server,
// set up as our edge's https listener: TLS 1.2+, the client's order of cipher suites), HTTP/2 on the
// core stream API (`stream.respond` with a field object, then `stream.end`: less than the
// compatibility API costs, as our edge answers bodiless HTTP/2 requests).
//
//   node bench/servers/memory-ceiling.ts <folder>                    (serves <folder>/<name> at /media/<name>)
//   node bench/servers/memory-ceiling.ts <folder> <cert.pem> <key.pem>   (the same over https)
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const [folder, certFile, keyFile] = process.argv.slice(2);
if (!folder || (certFile !== undefined && keyFile === undefined)) throw new Error('usage: memory-ceiling.ts <folder> [<cert.pem> <key.pem>]');

const CORS = ['access-control-allow-origin', '*', 'access-control-expose-headers', 'Content-Range, Content-Length, Accept-Ranges, ETag'];
type H2Fields = Record<string, string | number>;
type Entry = { body: Buffer; etag: string; full: string[]; partial: string[]; notModified: string[]; h2Full: H2Fields; h2NotModified: H2Fields };
/** A flat field list as the field object of HTTP/2's core API. */
function fieldObject(status: number, list: readonly string[]): H2Fields {
  const o: H2Fields = { ':status': status };
  for (let i = 0; i < list.length; i += 2) o[list[i]] = list[i + 1];
  return o;
}

const entries = new Map<string, Entry>();
for (const name of readdirSync(folder)) {
  const file = path.join(folder, name);
  if (!statSync(file).isFile()) continue;
  const body = readFileSync(file);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  const validators = ['etag', etag, 'last-modified', statSync(file).mtime.toUTCString(), 'cache-control', 'public, max-age=31536000, immutable'];
  const common = ['content-type', 'audio/wav', 'accept-ranges', 'bytes', ...validators, 'x-content-type-options', 'nosniff', ...CORS];
  const full = [...common, 'content-length', String(body.length)];
  const notModified = [...validators, ...CORS];
  entries.set(`/media/${name}`, { body, etag, full, partial: common, notModified, h2Full: fieldObject(200, full), h2NotModified: fieldObject(304, notModified) });
}

function answer(req: IncomingMessage, res: ServerResponse): void {
  const e = entries.get(req.url ?? '');
  if (e === undefined || req.method !== 'GET') return void res.writeHead(404, ['content-length', '0']).end();
  if (req.headers['if-none-match'] === e.etag) return void res.writeHead(304, e.notModified).end();
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  if (m) {
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), e.body.length - 1);
    if (start <= end) {
      res.writeHead(206, [...e.partial, 'content-range', `bytes ${start}-${end}/${e.body.length}`, 'content-length', String(end - start + 1)]);
      return void res.end(e.body.subarray(start, end + 1));
    }
  }
  res.writeHead(200, e.full);
  res.end(e.body);
}

function ignore(): void {}

function answerStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const e = entries.get(headers[':path'] ?? '');
  stream.on('error', ignore);
  if (e === undefined || headers[':method'] !== 'GET') return void stream.respond({ ':status': 404, 'content-length': '0' }, { endStream: true });
  if (headers['if-none-match'] === e.etag) return void stream.respond({ ...e.h2NotModified }, { endStream: true });
  const m = /^bytes=(\d+)-(\d+)$/.exec((headers.range as string | undefined) ?? '');
  if (m) {
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), e.body.length - 1);
    if (start <= end) {
      stream.respond(fieldObject(206, [...e.partial, 'content-range', `bytes ${start}-${end}/${e.body.length}`, 'content-length', String(end - start + 1)]));
      return void stream.end(e.body.subarray(start, end + 1));
    }
  }
  stream.respond({ ...e.h2Full });
  stream.end(e.body);
}

function secureServer(): http2.Http2SecureServer {
  const s = http2.createSecureServer({ allowHTTP1: true, minVersion: 'TLSv1.2', honorCipherOrder: false, cert: readFileSync(certFile), key: readFileSync(keyFile) });
  // HTTP/1.1 connections arrive as 'request'; the listener Node adds for HTTP/2 streams with it goes.
  s.on('request', answer as never);
  s.removeAllListeners('stream');
  s.on('stream', answerStream);
  return s;
}

const server = certFile ? secureServer() : http.createServer(answer);
Object.assign(server, { keepAliveTimeout: 65_000 });
const scheme = certFile ? 'https' : 'http';
server.listen(0, '127.0.0.1', () => console.log(`memory ceiling listening on ${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  if (server instanceof http.Server) server.closeAllConnections();
  else setTimeout(() => process.exit(0), 1000).unref();
});
