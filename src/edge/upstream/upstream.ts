// The edge's HTTP client towards one origin (or shield edge): an undici keep-alive pool with connect /
// first-byte / body-idle timeouts, retries with backoff and jitter for idempotent requests (connection
// failures and head timeouts; answer statuses only where a zone asks), forwarding
// headers (Via, X-Forwarded-*) added after hop-by-hop fields are removed, and events for statistics.
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { SecureContext } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { stripHopByHop } from '../../http/hop-by-hop.ts';
import type { Headers } from '../../http/types.ts';
import { OriginTimeoutError, OriginTlsError, OriginUnreachableError, RequestHeadTooLargeError } from '../errors.ts';
import { systemTrust, tlsFailureReason, verifyingConnector } from './trust.ts';

/** Our Via member (RFC 9110 §7.6.3: received-protocol received-by); a pseudonym, not a host name. */
export const VIA = '1.1 mediacdn';

/** Node's default limit on a request head (--max-http-header-size), so what a Node origin accepts. */
export const NODE_MAX_HEADER_BYTES = 16 * 1024;

type UpstreamOptions = {
  /** Origin URL: scheme, host, port, optional path prefix (no trailing slash). */
  origin: string;
  /** Host header for the origin; default the origin's own host. */
  originHost?: string;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  connections: number;
  /**
   * The largest request head the upstream accepts. A request whose forwarded head (the client's
   * fields plus the ones the edge adds) would be larger is refused with 431 before anything is sent,
   * so the upstream never sees a request it cannot parse because of what the edge added.
   */
  maxHeaderBytes?: number;
  /**
   * Retries of idempotent requests without a body after a connection error (refused, reset, connect
   * timeout) or a response-head timeout, and after an answer with one of `retryOnStatus`.
   */
  retries?: number;
  /**
   * Answer statuses worth another attempt (e.g. [502, 503, 504]); default none. Retrying every 5xx by
   * default multiplies the load on an origin that is already failing: a zone opts in.
   */
  retryOnStatus?: readonly number[];
  /** Backoff before retry n (from 0): min(max, base * 2^n) * (0.5 + random() / 2). */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /**
   * After a request failed to connect even with its retries, the origin counts as down for this long:
   * requests that have a stale copy to fall back on answer with it at once instead of waiting for
   * connection attempts of their own (Varnish's grace with a sick backend). 0 = off.
   */
  downForMs?: number;
  /** For an https upstream: the CA certificates a new connection is verified against (default: the system's, systemTrust). */
  trust?: () => SecureContext;
  /** Jitter source in [0, 1); default Math.random (tests inject a fixed one). */
  random?: () => number;
  /** Milliseconds for response times (monotonic is best); default performance.now. */
  clock?: () => number;
  onEvent?: (e: UpstreamEvent) => void;
};

/** What statistics learn from the client (the same shapes as the stats module's events). */
type UpstreamEvent =
  | { kind: 'origin-response'; status: number; ms: number }
  | { kind: 'origin-error'; code: string }
  | { kind: 'retry' };

/** RFC 9110 §9.2.2: methods whose intended effect of several identical requests is that of one. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

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
  /** Interim (1xx) responses from upstream, before the final one; fields hop-by-hop-stripped. */
  onInterim?: (status: number, headers: Record<string, string | string[]>) => void;
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
  readonly retries: number;
  readonly #pool: Pool;
  readonly #prefix: string;
  readonly #originHost: string | undefined;
  readonly #baseDelay: number;
  readonly #maxDelay: number;
  readonly #random: () => number;
  readonly #clock: () => number;
  readonly #emit: (e: UpstreamEvent) => void;
  readonly #downForMs: number;
  readonly #maxHeaderBytes: number;
  readonly #retryOnStatus: ReadonlySet<number>;
  /** `host: <origin host>\r\n` as undici writes it when the request names no Host. */
  readonly #hostLineBytes: number;
  #downUntil = 0;

  constructor(opts: UpstreamOptions) {
    const url = new URL(opts.origin);
    this.origin = opts.origin;
    this.retries = opts.retries ?? 0;
    this.#baseDelay = opts.retryBaseDelayMs ?? 100;
    this.#maxDelay = opts.retryMaxDelayMs ?? 2_000;
    this.#random = opts.random ?? Math.random;
    this.#clock = opts.clock ?? (() => performance.now());
    this.#emit = opts.onEvent ?? (() => {});
    this.#downForMs = opts.downForMs ?? 0;
    this.#prefix = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
    this.#originHost = opts.originHost;
    this.#maxHeaderBytes = opts.maxHeaderBytes ?? NODE_MAX_HEADER_BYTES;
    this.#retryOnStatus = new Set(opts.retryOnStatus ?? []);
    this.#hostLineBytes = `host: ${opts.originHost ?? url.host}\r\n`.length;
    this.#pool = new Pool(url.origin, {
      connections: opts.connections,
      connect: url.protocol === 'https:'
        // Always verified; SNI and the name checked are the Host sent (a shield's zone), else the URL's.
        ? verifyingConnector({ timeout: opts.connectTimeoutMs, servername: hostnameOf(opts.originHost) ?? hostnameOf(url.host) }, opts.trust ?? systemTrust)
        : { timeout: opts.connectTimeoutMs },
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: opts.bodyTimeoutMs,
      keepAliveTimeout: 30_000,
      // Media bodies go straight through; no pipelining (a stalled response would block others).
      pipelining: 1,
      // HTTP/1.1 upstream even when an https upstream offers h2 (undici would take it): the head-size
      // check counts HTTP/1.1 framing, and large bodies spread over the pool's connections instead of
      // sharing one HTTP/2 connection's flow-control window.
      allowH2: false,
    });
  }

  /**
   * Sends the request; retries idempotent requests without a body on a connection error (refused,
   * reset, connect timeout), a response-head timeout or a status in `retryOnStatus`, up to `retries`
   * times, with backoff and jitter. Retries happen before this resolves, i.e. before the caller could
   * have sent a byte to its client. A body that stalls is never retried.
   */
  async request(r: UpstreamRequest): Promise<UpstreamResponse> {
    const headers = this.#forwardHeaders(r);
    this.#checkHeadSize(r, headers);
    // RFC 9110 §9.2.2: "A user agent, proxy, or other client can automatically retry a request ... if it
    // knows that the request method is idempotent". A streamed request body cannot be sent twice.
    const retryable = IDEMPOTENT.has(r.method) && r.body === undefined;
    for (let attempt = 0; ; attempt++) {
      const last = !retryable || attempt >= this.retries;
      const started = this.#clock();
      let res: Dispatcher.ResponseData;
      try {
        res = await this.#pool.request({
          method: r.method as 'GET',
          path: this.#prefix + r.target,
          headers,
          body: r.body ?? null,
          signal: r.signal,
          onInfo: r.onInterim ? ({ statusCode, headers: h }) => r.onInterim!(statusCode, endToEnd(h as IncomingHttpHeaders)) : undefined,
        });
      } catch (err) {
        const mapped = upstreamError(this.origin, err);
        this.#emit({ kind: 'origin-error', code: errorCodeOf(err) });
        if (last && isConnectionError(err)) this.#downUntil = this.#clock() + this.#downForMs;
        if (last || !(isConnectionError(err) || isHeadTimeout(err)) || r.signal?.aborted) throw mapped;
        await this.#backoff(attempt, r.signal);
        continue;
      }
      this.#emit({ kind: 'origin-response', status: res.statusCode, ms: this.#clock() - started });
      this.#downUntil = 0;
      if (!last && this.#retryOnStatus.has(res.statusCode)) {
        discardBody(res.body);
        await this.#backoff(attempt, r.signal);
        continue;
      }
      const cl = headerString(res.headers['content-length']);
      const contentLength = cl !== undefined && /^[0-9]+$/.test(cl) ? Number(cl) : undefined;
      return { status: res.statusCode, headers: endToEnd(res.headers), contentLength, body: res.body };
    }
  }

  /**
   * Throws RequestHeadTooLargeError (431) when the forwarded head of `r` would exceed what the
   * upstream accepts. Callers check before they let other requests wait on this one.
   */
  assertForwardable(r: Pick<UpstreamRequest, 'method' | 'target' | 'headers' | 'clientIp' | 'zoneHost' | 'body'>): void {
    this.#checkHeadSize(r, this.#forwardHeaders(r));
  }

  #forwardHeaders(r: Pick<UpstreamRequest, 'headers' | 'clientIp' | 'zoneHost'>): Record<string, string | string[]> {
    const headers = forwardRequestHeaders(r.headers, r.clientIp, r.zoneHost);
    if (this.#originHost !== undefined) headers['host'] = this.#originHost;
    return headers;
  }

  /**
   * The head counted as undici writes it (request line, every field line with ": " and CRLF, Host,
   * Connection, body framing, the blank line): never less than what a Node upstream counts against
   * its limit (target, field names and values only).
   */
  #checkHeadSize(r: Pick<UpstreamRequest, 'method' | 'target' | 'body'>, headers: Record<string, string | string[]>): void {
    let bytes = `${r.method} ${this.#prefix}${r.target} HTTP/1.1\r\n`.length + 'connection: keep-alive\r\n'.length + 2;
    if (r.body !== undefined) bytes += 'transfer-encoding: chunked\r\n'.length;
    if (headers['host'] === undefined) bytes += this.#hostLineBytes;
    for (const [name, value] of Object.entries(headers)) {
      for (const v of Array.isArray(value) ? value : [value]) bytes += name.length + v.length + 4;
    }
    if (bytes >= this.#maxHeaderBytes) throw new RequestHeadTooLargeError(bytes, this.#maxHeaderBytes);
  }

  /** True while the origin counts as down (see downForMs); requests still go through when asked to. */
  get down(): boolean {
    return this.#downUntil > this.#clock();
  }

  /** Full-range exponential backoff with "equal jitter": half fixed, half random, so retries spread out. */
  retryDelayMs(attempt: number): number {
    const cap = Math.min(this.#maxDelay, this.#baseDelay * 2 ** attempt);
    return Math.round(cap * (0.5 + this.#random() / 2));
  }

  async #backoff(attempt: number, signal: AbortSignal | undefined): Promise<void> {
    this.#emit({ kind: 'retry' });
    const ms = this.retryDelayMs(attempt);
    if (ms > 0) await sleep(ms, undefined, { signal }).catch(() => {});
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Ends every connection now, failing requests in flight (shutdown, after the listeners closed). */
  destroy(): Promise<void> {
    return this.#pool.destroy();
  }
}

/** The stable code of a failure for statistics (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, ...). */
export function errorCodeOf(err: unknown): string {
  let found = 'unknown';
  let e: unknown = err;
  // Our errors and undici's socket errors wrap the system error (ECONNRESET ...): prefer the innermost code.
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && !code.startsWith('edge_')) found = code;
    e = (e as { cause?: unknown }).cause;
  }
  return found;
}

/** Refused, reset, unreachable, DNS failure, connect timeout: the request never reached a handler. */
export function isConnectionError(err: unknown): boolean {
  const code = errorCodeOf(err);
  return /^(ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|UND_ERR_SOCKET|UND_ERR_CLOSED)$/.test(code);
}

/** No response head in time: the origin may be overloaded or the connection silently dead; worth one more try. */
function isHeadTimeout(err: unknown): boolean {
  return errorCodeOf(err) === 'UND_ERR_HEADERS_TIMEOUT';
}

/** Maps undici failures to our errors: timeouts → 504, everything else → 502. */
export function upstreamError(origin: string, err: unknown): Error {
  const code = (err as { code?: string } | null)?.code;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return new OriginTimeoutError(origin, 'connect', err);
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return new OriginTimeoutError(origin, 'waiting for the response head', err);
  if (code === 'UND_ERR_BODY_TIMEOUT') return new OriginTimeoutError(origin, 'body stalled', err);
  if (err instanceof OriginTimeoutError || err instanceof OriginUnreachableError || err instanceof OriginTlsError) return err;
  for (let e: unknown = err, depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++, e = (e as { cause?: unknown }).cause) {
    const c = (e as { code?: unknown }).code;
    const reason = typeof c === 'string' ? tlsFailureReason(c, (e as Error).message ?? '') : undefined;
    if (reason !== undefined) return new OriginTlsError(origin, reason, err);
  }
  return new OriginUnreachableError(origin, err);
}

/**
 * The fields sent upstream: the client's, minus hop-by-hop ones (RFC 9110 §7.6.1), Expect and Host (the
 * pool sets the origin's), plus Via (§7.6.3: "A proxy MUST send an appropriate Via header field") and
 * X-Forwarded-For / -Host / -Proto, added after stripping so a client cannot have them removed.
 */
function forwardRequestHeaders(client: Headers, clientIp: string, zoneHost: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(stripHopByHop(client))) {
    // Expect: the edge meets a 100-continue expectation itself (it answers 100 Continue once it
    // forwards the request), so the expectation ends at this hop.
    if (value === undefined || name === 'host' || name === 'expect') continue;
    out[name] = value;
  }
  out['via'] = appendList(out['via'], VIA);
  out['x-forwarded-for'] = appendList(out['x-forwarded-for'], clientIp);
  out['x-forwarded-host'] = zoneHost;
  if (out['x-forwarded-proto'] === undefined) out['x-forwarded-proto'] = 'http';
  return out;
}

/** Response fields worth keeping and forwarding: no hop-by-hop, no framing (we set our own). */
function endToEnd(headers: IncomingHttpHeaders | Headers): Record<string, string | string[]> {
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

/** The host name of a Host value (`cdn.example.com:8443` → `cdn.example.com`), for SNI. */
function hostnameOf(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const h = host.trim();
  if (h.startsWith('[')) return undefined; // an IPv6 literal: no SNI
  const name = h.replace(/:\d*$/, '');
  return /^[0-9.]+$/.test(name) ? undefined : name;
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
}
