// The figures an edge counts: the events it records, additive per-zone figures, what is derived from
// them (hit rate, origin response-time quantiles) and the versioned snapshot that JSON, disk and
// Prometheus output share.
import { OUTCOMES } from '../outcome.ts';
import type { Outcome } from '../outcome.ts';
import type { ProcessSample } from './process.ts';

export const STATS_VERSION = 1;

type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';
export const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/**
 * Upper bounds (ms) of the origin response-time buckets: a 1-2-5 log series from 1 ms to 50 s, plus a
 * last +Inf bucket. Changing them changes the saved format (new STATS_VERSION).
 */
export const ORIGIN_BUCKETS_MS: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000];

export type StatsEvent =
  /**
   * A response finished or was aborted by the client. `bytes`: body bytes written to the client;
   * `protocol`: how the request arrived (http1 plain, http1-tls, h2), counted in requestsByProtocol.
   */
  | { kind: 'response'; status: number; outcome: Outcome; bytes: number; aborted?: boolean; protocol?: string }
  /** An origin (or shield) response head arrived `ms` after the request was sent. */
  | { kind: 'origin-response'; status: number; ms: number }
  | { kind: 'origin-bytes'; bytes: number }
  /** An origin attempt failed without a response: refused, reset, timeout, broken framing. */
  | { kind: 'origin-error'; code: string }
  | { kind: 'retry' }
  | { kind: 'stale-if-error' }
  | { kind: 'stale-while-revalidate' }
  /** A request for the zone that got no response event (the listener's redirect to https) arrived over a protocol. */
  | { kind: 'protocol'; protocol: string };

/** Additive figures: totals, minutes, and sums of minutes all have this shape. */
export type Figures = {
  /** Responses finished or aborted (one per request that reached the zone). */
  requests: number;
  /** Of those, the ones the client went away from before the end. */
  clientAborts: number;
  responses: Record<StatusClass, number>;
  outcomes: Record<Outcome, number>;
  bytesToClients: number;
  bytesFromOrigin: number;
  /** Origin response heads received; `originResponseMs.counts` has one more entry than ORIGIN_BUCKETS_MS. */
  originResponses: number;
  originResponseMs: { counts: number[]; sum: number };
  /** Origin responses with a status outside 200-299, by status (304 from revalidation included). */
  originNon2xx: Record<string, number>;
  originRetries: number;
  originErrors: number;
  originErrorsByCode: Record<string, number>;
  staleIfErrorServed: number;
  staleWhileRevalidateRefreshes: number;
  /** Requests by how they arrived: http1 (plain HTTP/1.x), http1-tls (HTTP/1.x over TLS), h2 (HTTP/2 over TLS). */
  requestsByProtocol: Record<string, number>;
};

/** Figures with what is derived from them. All times in milliseconds. */
export type FiguresView = Figures & {
  /** (hit + stale + revalidated) / requests with an outcome; null when there were none. */
  hitRate: number | null;
  originResponseMs: { counts: number[]; sum: number; p50: number | null; p95: number | null; p99: number | null };
};

/**
 * `GET /_mediacdn/stats`, and the file format on disk. Times are Unix milliseconds; a minute's `t` is the
 * start of that minute. `minutes` lists only minutes with activity, oldest first, at most the last 1440.
 * `processes`: the memory of each process of the edge when it answered (process.ts); never saved.
 */
export type StatsSnapshot = {
  version: typeof STATS_VERSION;
  generatedAt: number;
  originResponseBucketsMs: number[];
  zones: Record<string, { since: number; totals: FiguresView; minutes: Array<FiguresView & { t: number }> }>;
  processes?: ProcessSample[];
};


export const MINUTE_MS = 60_000;
/** Longest error code or status key kept in a tally (guards against unbounded labels). */
export const MAX_KEY_LENGTH = 64;

export function emptyFigures(): Figures {
  return {
    requests: 0,
    clientAborts: 0,
    responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    outcomes: { hit: 0, stale: 0, revalidated: 0, miss: 0, pass: 0 },
    bytesToClients: 0,
    bytesFromOrigin: 0,
    originResponses: 0,
    originResponseMs: { counts: new Array<number>(ORIGIN_BUCKETS_MS.length + 1).fill(0), sum: 0 },
    originNon2xx: {},
    originRetries: 0,
    originErrors: 0,
    originErrorsByCode: {},
    staleIfErrorServed: 0,
    staleWhileRevalidateRefreshes: 0,
    requestsByProtocol: {},
  };
}

function amount(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

export function applyEvent(f: Figures, e: StatsEvent): void {
  switch (e.kind) {
    case 'response': {
      f.requests++;
      if (e.aborted) f.clientAborts++;
      // The class by index (a name made per response would be looked up as a new string each time).
      const cls = STATUS_CLASSES[Math.floor(e.status / 100) - 1];
      if (cls !== undefined) f.responses[cls]++;
      f.outcomes[e.outcome]++;
      f.bytesToClients += amount(e.bytes);
      if (e.protocol !== undefined) bump(f.requestsByProtocol, e.protocol.slice(0, MAX_KEY_LENGTH));
      return;
    }
    case 'origin-response': {
      const ms = amount(e.ms);
      let i = 0;
      while (i < ORIGIN_BUCKETS_MS.length && ms > ORIGIN_BUCKETS_MS[i]) i++;
      f.originResponses++;
      f.originResponseMs.counts[i]++;
      f.originResponseMs.sum += ms;
      if ((e.status < 200 || e.status > 299) && Number.isInteger(e.status) && e.status >= 100 && e.status <= 999) {
        bump(f.originNon2xx, String(e.status));
      }
      return;
    }
    case 'origin-bytes':
      f.bytesFromOrigin += amount(e.bytes);
      return;
    case 'origin-error':
      f.originErrors++;
      bump(f.originErrorsByCode, e.code.slice(0, MAX_KEY_LENGTH) || 'unknown');
      return;
    case 'retry':
      f.originRetries++;
      return;
    case 'stale-if-error':
      f.staleIfErrorServed++;
      return;
    case 'stale-while-revalidate':
      f.staleWhileRevalidateRefreshes++;
      return;
    case 'protocol':
      bump(f.requestsByProtocol, e.protocol.slice(0, MAX_KEY_LENGTH));
      return;
  }
}

/** target += source (source may be a view; only the additive fields are read). */
export function addFigures(target: Figures, source: Figures): void {
  target.requests += source.requests;
  target.clientAborts += source.clientAborts;
  for (const c of STATUS_CLASSES) target.responses[c] += source.responses[c];
  for (const o of OUTCOMES) target.outcomes[o] += source.outcomes[o];
  target.bytesToClients += source.bytesToClients;
  target.bytesFromOrigin += source.bytesFromOrigin;
  target.originResponses += source.originResponses;
  source.originResponseMs.counts.forEach((n, i) => (target.originResponseMs.counts[i] += n));
  target.originResponseMs.sum += source.originResponseMs.sum;
  for (const [k, n] of Object.entries(source.originNon2xx)) bump(target.originNon2xx, k, n);
  target.originRetries += source.originRetries;
  target.originErrors += source.originErrors;
  for (const [k, n] of Object.entries(source.originErrorsByCode)) bump(target.originErrorsByCode, k, n);
  target.staleIfErrorServed += source.staleIfErrorServed;
  target.staleWhileRevalidateRefreshes += source.staleWhileRevalidateRefreshes;
  for (const [k, n] of Object.entries(source.requestsByProtocol ?? {})) bump(target.requestsByProtocol, k, n);
}

/**
 * The q-quantile (0 < q ≤ 1) estimated from bucket counts, as Prometheus' histogram_quantile does but
 * interpolating geometrically inside a bucket (the buckets are log-spaced); linear in the first bucket
 * (from 0), and the largest finite bound when the rank falls in +Inf. Null without observations.
 */
export function estimateQuantile(counts: readonly number[], q: number, bounds: readonly number[] = ORIGIN_BUCKETS_MS): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i];
    if (n > 0 && below + n >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const frac = Math.min(1, Math.max(0, (rank - below) / n));
      const upper = bounds[i];
      const lower = i === 0 ? 0 : bounds[i - 1];
      return lower === 0 ? upper * frac : lower * (upper / lower) ** frac;
    }
    below += n;
  }
  return bounds[bounds.length - 1];
}

const round3 = (n: number | null): number | null => (n === null ? null : Math.round(n * 1000) / 1000);

export function viewFigures(f: Figures): FiguresView {
  const served = OUTCOMES.reduce((a, o) => a + f.outcomes[o], 0);
  const fromCache = f.outcomes.hit + f.outcomes.stale + f.outcomes.revalidated;
  const counts = [...f.originResponseMs.counts];
  return {
    ...structuredClone(f),
    hitRate: served === 0 ? null : fromCache / served,
    originResponseMs: {
      counts,
      sum: f.originResponseMs.sum,
      p50: round3(estimateQuantile(counts, 0.5)),
      p95: round3(estimateQuantile(counts, 0.95)),
      p99: round3(estimateQuantile(counts, 0.99)),
    },
  };
}

