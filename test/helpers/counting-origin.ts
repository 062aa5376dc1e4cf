// A tiny origin for edge scenarios: real node:http on 127.0.0.1 port 0 that records every request it
// gets, serving per-path static responses (with optional ETag / Last-Modified validation) or handlers.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type RecordedRequest = { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer };

export type StaticRoute = {
  status?: number;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  /** Answer If-None-Match (against headers.etag) / If-Modified-Since (against headers['last-modified']) with 304. */
  validate?: boolean;
  /** Extra headers sent only on a 304 (e.g. a new Cache-Control). */
  notModifiedHeaders?: Record<string, string>;
};

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => void;

export type CountingOrigin = {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Requests for `path` (exact path+query), optionally of one method; without path, all requests. */
  count(path?: string, method?: string): number;
  route(path: string, spec: StaticRoute | RouteHandler): void;
  /** Stops listening and drops every connection: the port now refuses connections. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  resume(): Promise<void>;
  close(): Promise<void>;
};

export type CountingOriginOptions = {
  /** Clock for the Date header (use the edge's fake clock so ages are exact). */
  now?: () => number;
};

export async function startCountingOrigin(opts: CountingOriginOptions = {}): Promise<CountingOrigin> {
  const now = opts.now ?? Date.now;
  const routes = new Map<string, StaticRoute | RouteHandler>();
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(recorded);
      const route = routes.get(recorded.url) ?? routes.get(recorded.url.split('?')[0]);
      res.setHeader('date', new Date(now()).toUTCString());
      if (!route) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('no route\n');
        return;
      }
      if (typeof route === 'function') {
        route(req, res, recorded);
        return;
      }
      const headers = route.headers ?? {};
      if (route.validate && req.method === 'GET') {
        const inm = req.headers['if-none-match'];
        const ims = req.headers['if-modified-since'];
        const etag = headers['etag'];
        const lm = headers['last-modified'];
        const match = inm !== undefined ? inm === etag : ims !== undefined && lm !== undefined && ims === lm;
        if (match) {
          const h: Record<string, string | string[]> = {};
          for (const name of ['etag', 'cache-control', 'cdn-cache-control', 'expires', 'vary', 'last-modified']) {
            if (headers[name] !== undefined) h[name] = headers[name];
          }
          res.writeHead(304, { ...h, ...route.notModifiedHeaders });
          res.end();
          return;
        }
      }
      const body = typeof route.body === 'string' ? Buffer.from(route.body) : (route.body ?? Buffer.alloc(0));
      res.writeHead(route.status ?? 200, { 'content-length': String(body.length), ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    count(path?: string, method?: string) {
      return requests.filter((r) => (path === undefined || r.url === path) && (method === undefined || r.method === method)).length;
    },
    route(path, spec) {
      routes.set(path, spec);
    },
    stop() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    resume() {
      return new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    },
    close() {
      if (!server.listening) return Promise.resolve();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
