// The edge's control endpoints under /_mediacdn/: purge (POST), statistics (JSON) and metrics
// (Prometheus), all behind the admin bearer token, plus an unauthenticated health check. They answer on
// every host of the main listener, or only on the admin listener when edge.adminPort is set.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { bearerMatches } from '../../config/token.ts';
import { normaliseTarget } from '../cache/cache-key.ts';
import type { PurgeSelector } from '../cache/cache.ts';
import { AdminAuthError, ControlRequestError, ShieldPurgeError, UnknownZoneError } from '../errors.ts';
import type { Outcome } from '../outcome.ts';
import { firstValue } from '../../http/types.ts';
import { sendError } from '../stages/synth.ts';
import type { QueryStringMode } from '../../config/edge-schema.ts';

/** `POST /_mediacdn/purge` bodies: one absolute URL, an absolute URL prefix, or a whole zone (host name). */
export const purgeRequestSchema = z.union([
  z.object({ url: z.string().min(1) }).strict(),
  z.object({ prefix: z.string().min(1) }).strict(),
  z.object({ zone: z.string().min(1) }).strict(),
]);
export type PurgeRequest = z.infer<typeof purgeRequestSchema>;

type PurgeResult = { removed: number; shield?: { url: string; removed: number } };

/** What the control endpoints need to know of a zone. */
export type ControlZone = {
  host: string;
  queryString: QueryStringMode;
  shieldAdmin: string | undefined;
  /** For an https shieldAdmin: verified like the zone's upstream, with the zone's host as SNI. */
  shieldDispatcher?: Dispatcher;
};

type ControlOptions = {
  /** Admin bearer token; undefined disables every endpoint but health. */
  token: string | undefined;
  zones: ReadonlyMap<string, ControlZone>;
  purge: (selector: PurgeSelector) => Promise<number>;
  /** JSON-ready statistics and their Prometheus rendering. */
  statsJson: () => unknown;
  metricsText: () => string | Promise<string>;
  /** How long a forwarded purge may take at the shield. */
  shieldTimeoutMs?: number;
};

const MAX_BODY = 64 * 1024;

/** The request handler for /_mediacdn/* (the caller has checked the prefix and the block list). */
export function createControlHandler(opts: ControlOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    answer(opts, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, err, 'pass' satisfies Outcome);
      else res.destroy();
    });
  };
}

async function answer(opts: ControlOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '').replace(/^https?:\/\/[^/]*/i, '').split('?')[0];
  const method = req.method ?? 'GET';
  if (path === '/_mediacdn/health') {
    req.resume();
    return send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
  }
  const route = ROUTES[path];
  if (!route) {
    req.resume();
    throw new ControlRequestError(`No control endpoint ${path}.`, 404);
  }
  if (route.method !== method && !(route.method === 'GET' && method === 'HEAD')) {
    req.resume();
    throw new ControlRequestError(`${path} answers ${route.method} only.`, 405, { allow: route.method });
  }
  // Authenticate before reading a body, so that unauthenticated clients cannot make us buffer one.
  if (opts.token === undefined || !bearerMatches(firstValue(req.headers.authorization), opts.token)) {
    req.resume();
    throw new AdminAuthError(opts.token !== undefined);
  }
  if (path === '/_mediacdn/stats') return send(res, 200, 'application/json; charset=utf-8', `${JSON.stringify(await opts.statsJson())}\n`, method);
  if (path === '/_mediacdn/metrics') return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', await opts.metricsText(), method);
  const body = await readJson(req);
  const parsed = purgeRequestSchema.safeParse(body);
  if (!parsed.success) throw new ControlRequestError('Purge body must be {"url": "<absolute URL>"}, {"prefix": "<absolute URL prefix>"} or {"zone": "<hostname>"}.');
  const result = await purge(opts, parsed.data, firstValue(req.headers.authorization)!);
  return send(res, 200, 'application/json; charset=utf-8', `${JSON.stringify(result)}\n`);
}

const ROUTES: Record<string, { method: string }> = {
  '/_mediacdn/purge': { method: 'POST' },
  '/_mediacdn/stats': { method: 'GET' },
  '/_mediacdn/metrics': { method: 'GET' },
};

/**
 * Purge order across layers: an edge whose zone has a shield forwards the purge to the shield FIRST
 * and purges itself only when the shield confirmed. Otherwise the edge could refill from a shield that
 * still holds the old object. Forwarding repeats at every layer, so a purge sent to any edge clears
 * the whole chain above it, top first; purging several edges in any order is therefore safe.
 */
export async function purge(opts: ControlOptions, request: PurgeRequest, authorization: string): Promise<PurgeResult> {
  const { zone, selector } = selectorOf(opts.zones, request);
  let shield: PurgeResult['shield'];
  if (zone.shieldAdmin !== undefined) {
    shield = { url: zone.shieldAdmin, removed: await forwardPurge(zone.shieldAdmin, request, authorization, opts.shieldTimeoutMs ?? 10_000, zone.shieldDispatcher) };
  }
  const removed = await opts.purge(selector);
  return shield ? { removed, shield } : { removed };
}

/** A purge body → the zone and the cache selector, with the zone's query string handling applied to URLs. */
export function selectorOf(zones: ReadonlyMap<string, ControlZone>, r: PurgeRequest): { zone: ControlZone; selector: PurgeSelector } {
  if ('zone' in r) {
    const zone = zones.get(r.zone.toLowerCase().replace(/\.$/, ''));
    if (!zone) throw new UnknownZoneError(r.zone);
    return { zone, selector: { kind: 'zone', zone: zone.host } };
  }
  const text = 'url' in r ? r.url : r.prefix;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new ControlRequestError(`${JSON.stringify(text.slice(0, 200))} is not an absolute URL (http://<zone host>/path).`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ControlRequestError(`${JSON.stringify(text.slice(0, 200))} is not an http(s) URL.`);
  const zone = zones.get(u.hostname.toLowerCase().replace(/\.$/, ''));
  if (!zone) throw new UnknownZoneError(u.hostname);
  const target = u.pathname + u.search;
  if ('url' in r) return { zone, selector: { kind: 'key', zone: zone.host, target: normaliseTarget(target, zone.queryString) } };
  return { zone, selector: { kind: 'prefix', zone: zone.host, prefix: target } };
}

async function forwardPurge(shield: string, body: PurgeRequest, authorization: string, timeoutMs: number, dispatcher: Dispatcher | undefined): Promise<number> {
  let status: number;
  let text: string;
  try {
    const res = await request(`${shield}/_mediacdn/purge`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(dispatcher ? { dispatcher } : {}),
    });
    status = res.statusCode;
    text = await res.body.text();
  } catch (err) {
    throw new ShieldPurgeError(shield, (err as Error).message, err);
  }
  if (status !== 200) throw new ShieldPurgeError(shield, `HTTP ${status}: ${text.trim().slice(0, 200)}`);
  const removed = (JSON.parse(text) as { removed?: unknown }).removed;
  if (typeof removed !== 'number') throw new ShieldPurgeError(shield, 'no "removed" count in its answer');
  return removed;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new ControlRequestError(`Purge body over ${MAX_BODY} bytes.`, 413);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ControlRequestError('Purge body is not JSON.');
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, method = 'GET'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store' });
  res.end(method === 'HEAD' ? undefined : body);
}


