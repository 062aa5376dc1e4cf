// The edge's HTTP client towards one origin: an undici keep-alive pool with connect / first-byte /
// body-idle timeouts, forwarding headers (Via, X-Forwarded-*) added after hop-by-hop fields are removed.
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { stripHopByHop } from '../http/hop-by-hop.ts';
import type { Headers } from '../http/types.ts';
import { OriginTimeoutError, OriginUnreachableError } from './errors.ts';

/** Our Via member (RFC 9110 §7.6.3: received-protocol received-by); a pseudonym, not a host name. */
export const VIA = '1.1 mediacdn';

export type UpstreamOptions = {
  /** Origin URL: scheme, host, port, optional path prefix (no trailing slash). */
  origin: string;
  /** Host header for the origin; default the origin's own host. */
  originHost?: string;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  connections: number;
};

export type UpstreamRequest = {
  method: string;
  /** Path and query as the client sent it. */
  target: string;
  headers: Headers;
  body?: Readable;
  /** For X-Forwarded-For. */
  clientIp: string;
  /** The zone host, for X-Forwarded-Host. */
  zoneHost: string;
  signal?: AbortSignal;
};

export type UpstreamResponse = {
  status: number;
  /** End-to-end response fields: hop-by-hop and framing fields removed. */
  headers: Record<string, string | string[]>;
  /** Content-Length as announced, if valid. */
  contentLength: number | undefined;
  body: Readable;
};

/** Request fields a fill must not forward: the edge fetches the whole, current representation itself. */
export const CONDITIONAL_AND_RANGE = ['range', 'if-range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'];

export class Upstream {
  readonly origin: string;
  readonly #pool: Pool;
  readonly #prefix: string;
  readonly #originHost: string | undefined;

  constructor(opts: UpstreamOptions) {
    const url = new URL(opts.origin);
    this.origin = opts.origin;
    this.#prefix = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
    this.#originHost = opts.originHost;
    this.#pool = new Pool(url.origin, {
      connections: opts.connections,
      connect: { timeout: opts.connectTimeoutMs },
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: opts.bodyTimeoutMs,
      keepAliveTimeout: 30_000,
      // Media bodies go straight through; no pipelining (a stalled response would block others).
      pipelining: 1,
    });
  }

  async request(r: UpstreamRequest): Promise<UpstreamResponse> {
    const headers = forwardRequestHeaders(r.headers, r.clientIp, r.zoneHost);
    if (this.#originHost !== undefined) headers['host'] = this.#originHost;
    try {
      const res = await this.#pool.request({
        method: r.method as 'GET',
        path: this.#prefix + r.target,
        headers,
        body: r.body ?? null,
        signal: r.signal,
      });
      const cl = headerString(res.headers['content-length']);
      const contentLength = cl !== undefined && /^[0-9]+$/.test(cl) ? Number(cl) : undefined;
      return { status: res.statusCode, headers: endToEnd(res.headers), contentLength, body: res.body };
    } catch (err) {
      throw upstreamError(this.origin, err);
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/** Maps undici failures to our errors: timeouts → 504, everything else → 502. */
export function upstreamError(origin: string, err: unknown): Error {
  const code = (err as { code?: string } | null)?.code;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return new OriginTimeoutError(origin, 'connect', err);
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return new OriginTimeoutError(origin, 'waiting for the response head', err);
  if (code === 'UND_ERR_BODY_TIMEOUT') return new OriginTimeoutError(origin, 'body stalled', err);
  if (err instanceof OriginTimeoutError || err instanceof OriginUnreachableError) return err;
  return new OriginUnreachableError(origin, err);
}

/**
 * The fields sent upstream: the client's, minus hop-by-hop ones (RFC 9110 §7.6.1) and Host (the pool
 * sets the origin's), plus Via (§7.6.3: "A proxy MUST send an appropriate Via header field") and
 * X-Forwarded-For / -Host / -Proto, added after stripping so a client cannot have them removed.
 */
export function forwardRequestHeaders(client: Headers, clientIp: string, zoneHost: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(stripHopByHop(client))) {
    if (value === undefined || name === 'host') continue;
    out[name] = value;
  }
  out['via'] = appendList(out['via'], VIA);
  out['x-forwarded-for'] = appendList(out['x-forwarded-for'], clientIp);
  out['x-forwarded-host'] = zoneHost;
  if (out['x-forwarded-proto'] === undefined) out['x-forwarded-proto'] = 'http';
  return out;
}

/** Response fields worth keeping and forwarding: no hop-by-hop, no framing (we set our own). */
export function endToEnd(headers: IncomingHttpHeaders | Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(stripHopByHop(headers as Headers))) {
    if (value === undefined || name === 'content-length') continue;
    out[name] = value;
  }
  return out;
}

export function appendList(existing: string | string[] | undefined, member: string): string {
  if (existing === undefined) return member;
  const joined = Array.isArray(existing) ? existing.join(', ') : existing;
  return joined.trim() === '' ? member : `${joined}, ${member}`;
}

/** Drops an upstream body we will not use; undici reports the abort as an error, which we expect. */
export function discardBody(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
}
