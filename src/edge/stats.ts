// Per-zone statistics of an edge: counters, origin response-time histogram, per-minute figures for the
// last 24 hours and totals; rendered as versioned JSON, Prometheus text and a CLI summary; saved to disk.
//
// How the edge uses it (one EdgeStats per process, zones are the configured hosts only):
//   const stats = new EdgeStats({ now: Date.now, onWarning: (m) => log.warn(m) });
//   await stats.load(file);                     // at start; a corrupt/unknown file is ignored with a warning
//   const persisting = stats.startPersisting(file, 60_000);   // unref'd timer; `await persisting.stop()` on shutdown
//   stats.record(zone, { kind: 'response', status, outcome, bytes, aborted })       // once per response, on 'close'
//   stats.record(zone, { kind: 'origin-response', status, ms })  // origin response head received (ms since request sent)
//   stats.record(zone, { kind: 'origin-bytes', bytes })          // body bytes read from the origin (any chunking)
//   stats.record(zone, { kind: 'origin-error', code })           // origin attempt that produced no response
//   stats.record(zone, { kind: 'retry' } | { kind: 'stale-if-error' } | { kind: 'stale-while-revalidate' })
//   GET /_mediacdn/stats → JSON.stringify(stats.snapshot());  GET /_mediacdn/metrics → stats.toPrometheus()
//     with Content-Type `text/plain; version=0.0.4; charset=utf-8`.
// With several worker processes each keeps its own EdgeStats; the primary can add their snapshots with merge().
//
// Why not prom-client: it holds only process-lifetime cumulative values in a registry; we also need
// per-minute history, the same figures as JSON, and totals restored from disk (a prom-client histogram
// cannot be seeded with saved bucket counts). Rendering text format 0.0.4 from our own figures is ~60
// lines, and keeps the JSON, the metrics and the summary the same numbers.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { formatBytes } from '../web/client/format.ts';
import { OUTCOMES } from './outcome.ts';
import type { Outcome } from './outcome.ts';

export const STATS_VERSION = 1;

type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';
const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/**
 * Upper bounds (ms) of the origin response-time buckets: a 1-2-5 log series from 1 ms to 50 s, plus a
 * last +Inf bucket. Changing them changes the saved format (new STATS_VERSION).
 */
export const ORIGIN_BUCKETS_MS: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000];

export type StatsEvent =
  /** A response finished or was aborted by the client. `bytes`: body bytes written to the client. */
  | { kind: 'response'; status: number; outcome: Outcome; bytes: number; aborted?: boolean }
  /** An origin (or shield) response head arrived `ms` after the request was sent. */
  | { kind: 'origin-response'; status: number; ms: number }
  | { kind: 'origin-bytes'; bytes: number }
  /** An origin attempt failed without a response: refused, reset, timeout, broken framing. */
  | { kind: 'origin-error'; code: string }
  | { kind: 'retry' }
  | { kind: 'stale-if-error' }
  | { kind: 'stale-while-revalidate' };

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
 */
export type StatsSnapshot = {
  version: typeof STATS_VERSION;
  generatedAt: number;
  originResponseBucketsMs: number[];
  zones: Record<string, { since: number; totals: FiguresView; minutes: Array<FiguresView & { t: number }> }>;
};

type LoadResult = { kind: 'loaded'; zones: number } | { kind: 'missing' } | { kind: 'ignored'; reason: string };

const MINUTE_MS = 60_000;
const RING = 1440;
const MAX_KEY_LENGTH = 64;

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
  };
}

function amount(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

function applyEvent(f: Figures, e: StatsEvent): void {
  switch (e.kind) {
    case 'response': {
      f.requests++;
      if (e.aborted) f.clientAborts++;
      const cls = `${Math.floor(e.status / 100)}xx`;
      if (cls in f.responses) f.responses[cls as StatusClass]++;
      f.outcomes[e.outcome]++;
      f.bytesToClients += amount(e.bytes);
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

type ZoneState = { since: number; totals: Figures; ring: Array<{ minute: number; figures: Figures } | undefined> };

export type EdgeStatsOptions = {
  /** Unix milliseconds (Date.now). */
  now: () => number;
  /** Persistence problems that are survived: unreadable or unknown-version file, failed periodic save. */
  onWarning?: (message: string) => void;
  /** Guard against recording under arbitrary Host names: events for further zones are dropped. */
  maxZones?: number;
};

type Persisting = {
  /** Resolves when the save in progress (if any) is done. */
  whenSaved(): Promise<void>;
  /** Stops the timer and saves one last time. */
  stop(): Promise<void>;
};

export class EdgeStats {
  readonly #now: () => number;
  readonly #warn: (message: string) => void;
  readonly #maxZones: number;
  readonly #zones = new Map<string, ZoneState>();

  constructor(opts: EdgeStatsOptions) {
    this.#now = opts.now;
    this.#warn = opts.onWarning ?? ((m) => process.emitWarning(m, 'EdgeStatsWarning'));
    this.#maxZones = opts.maxZones ?? 1024;
  }

  record(zone: string, event: StatsEvent): void {
    const now = this.#now();
    const state = this.#zone(zone, now);
    if (!state) return;
    applyEvent(state.totals, event);
    applyEvent(this.#minute(state, Math.floor(now / MINUTE_MS)), event);
  }

  /** The figures as JSON-ready data (see StatsSnapshot). */
  snapshot(now: number = this.#now()): StatsSnapshot {
    const current = Math.floor(now / MINUTE_MS);
    const zones: StatsSnapshot['zones'] = {};
    for (const host of [...this.#zones.keys()].sort()) {
      const state = this.#zones.get(host)!;
      const minutes = state.ring
        .filter((m): m is NonNullable<typeof m> => m !== undefined && m.minute > current - RING && m.minute <= current)
        .sort((a, b) => a.minute - b.minute)
        .map((m) => ({ t: m.minute * MINUTE_MS, ...viewFigures(m.figures) }));
      zones[host] = { since: state.since, totals: viewFigures(state.totals), minutes };
    }
    return { version: STATS_VERSION, generatedAt: now, originResponseBucketsMs: [...ORIGIN_BUCKETS_MS], zones };
  }

  /** Prometheus text exposition format 0.0.4 of the totals. */
  toPrometheus(): string {
    return renderPrometheus(this.snapshot());
  }

  /**
   * Adds a snapshot's figures (from disk, or from another worker) to these: totals always, minutes when
   * they fall in the last 24 hours.
   */
  merge(snapshot: StatsSnapshot): void {
    const current = Math.floor(this.#now() / MINUTE_MS);
    for (const [host, saved] of Object.entries(snapshot.zones)) {
      const state = this.#zone(host, saved.since);
      if (!state) continue;
      state.since = Math.min(state.since, saved.since);
      addFigures(state.totals, saved.totals);
      for (const m of saved.minutes) {
        const minute = Math.floor(m.t / MINUTE_MS);
        if (minute > current - RING && minute <= current) addFigures(this.#minute(state, minute), m);
      }
    }
  }

  /** Atomic: writes a temporary file beside `file`, flushes it, then renames it over `file`. */
  async save(file: string): Promise<void> {
    const dir = path.dirname(file);
    await fs.mkdir(dir, { recursive: true });
    const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const handle = await fs.open(tmp, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify(this.snapshot()));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  /** Reads a saved snapshot and merges it. A missing file is normal; anything unreadable is ignored with a warning. */
  async load(file: string): Promise<LoadResult> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
      return this.#ignored(file, `cannot be read (${(err as Error).message})`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.#ignored(file, 'is not valid JSON');
    }
    const parsed = parseSnapshot(json);
    if (parsed.kind === 'invalid') return this.#ignored(file, parsed.reason);
    this.merge(parsed.snapshot);
    return { kind: 'loaded', zones: Object.keys(parsed.snapshot.zones).length };
  }

  /** Saves every `intervalMs` on an unref'd timer (it never keeps the process alive); failures are warnings. */
  startPersisting(file: string, intervalMs: number): Persisting {
    let pending: Promise<void> = Promise.resolve();
    const saveNow = (): Promise<void> =>
      (pending = pending.then(() => this.save(file)).catch((err: unknown) => this.#warn(`edge stats: saving ${file} failed: ${(err as Error).message}`)));
    const timer = setInterval(() => void saveNow(), intervalMs);
    timer.unref();
    let stopped = false;
    return {
      whenSaved: () => pending,
      stop: async () => {
        if (stopped) return pending;
        stopped = true;
        clearInterval(timer);
        return saveNow();
      },
    };
  }

  #ignored(file: string, reason: string): LoadResult {
    this.#warn(`edge stats: ${file} ${reason}; starting from empty statistics`);
    return { kind: 'ignored', reason };
  }

  #zone(host: string, now: number): ZoneState | undefined {
    let state = this.#zones.get(host);
    if (!state) {
      if (this.#zones.size >= this.#maxZones) return undefined;
      state = { since: now, totals: emptyFigures(), ring: new Array(RING) };
      this.#zones.set(host, state);
    }
    return state;
  }

  #minute(state: ZoneState, minute: number): Figures {
    const slot = ((minute % RING) + RING) % RING;
    let entry = state.ring[slot];
    if (!entry || entry.minute !== minute) state.ring[slot] = entry = { minute, figures: emptyFigures() };
    return entry.figures;
  }
}

// ---- reading saved snapshots ----------------------------------------------------------------------

const nonNegative = z.number().finite().min(0);
const tally = z.record(z.string().max(MAX_KEY_LENGTH), nonNegative);
const figuresSchema = z.object({
  requests: nonNegative,
  clientAborts: nonNegative,
  responses: z.object({ '1xx': nonNegative, '2xx': nonNegative, '3xx': nonNegative, '4xx': nonNegative, '5xx': nonNegative }),
  outcomes: z.object({ hit: nonNegative, stale: nonNegative, revalidated: nonNegative, miss: nonNegative, pass: nonNegative }),
  bytesToClients: nonNegative,
  bytesFromOrigin: nonNegative,
  originResponses: nonNegative,
  originResponseMs: z.object({ counts: z.array(nonNegative).length(ORIGIN_BUCKETS_MS.length + 1), sum: nonNegative }),
  originNon2xx: tally,
  originRetries: nonNegative,
  originErrors: nonNegative,
  originErrorsByCode: tally,
  staleIfErrorServed: nonNegative,
  staleWhileRevalidateRefreshes: nonNegative,
});
const snapshotSchema = z.object({
  version: z.literal(STATS_VERSION),
  generatedAt: nonNegative,
  originResponseBucketsMs: z.array(z.number()).refine((b) => b.length === ORIGIN_BUCKETS_MS.length && b.every((x, i) => x === ORIGIN_BUCKETS_MS[i]), {
    message: 'histogram buckets differ from this version',
  }),
  zones: z.record(z.string().min(1).max(253), z.object({ since: nonNegative, totals: figuresSchema, minutes: z.array(figuresSchema.extend({ t: nonNegative })) })),
});

/** Validates a parsed JSON value as a snapshot this version can read (saved formats carry a version). */
export function parseSnapshot(json: unknown): { kind: 'ok'; snapshot: StatsSnapshot } | { kind: 'invalid'; reason: string } {
  const version = (json as { version?: unknown } | null)?.version;
  if (version !== STATS_VERSION) return { kind: 'invalid', reason: `has unknown version ${JSON.stringify(version ?? null)} (this edge reads version ${STATS_VERSION})` };
  const parsed = snapshotSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { kind: 'invalid', reason: `is not a valid statistics file (${issue.path.join('.')}: ${issue.message})` };
  }
  const zones: StatsSnapshot['zones'] = {};
  for (const [host, z] of Object.entries(parsed.data.zones)) {
    zones[host] = { since: z.since, totals: viewFigures(z.totals), minutes: z.minutes.map((m) => ({ t: m.t, ...viewFigures(m) })) };
  }
  return { kind: 'ok', snapshot: { version: STATS_VERSION, generatedAt: parsed.data.generatedAt, originResponseBucketsMs: [...ORIGIN_BUCKETS_MS], zones } };
}

// ---- Prometheus text format 0.0.4 -----------------------------------------------------------------

/** Label values escape backslash, double quote and line feed (text format 0.0.4). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(pairs: Record<string, string>): string {
  return `{${Object.entries(pairs).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

type Sample = [labels: Record<string, string>, value: number];
type Family = { name: string; type: 'counter' | 'histogram'; help: string; samples: (zone: string, f: Figures) => Sample[] };

const FAMILIES: Family[] = [
  { name: 'edge_requests_total', type: 'counter', help: 'Requests answered, by status class of the response.', samples: (zone, f) => STATUS_CLASSES.map((c) => [{ zone, status_class: c }, f.responses[c]]) },
  { name: 'edge_client_aborts_total', type: 'counter', help: 'Responses the client went away from before the end.', samples: (zone, f) => [[{ zone }, f.clientAborts]] },
  { name: 'edge_cache_outcomes_total', type: 'counter', help: 'Requests by cache outcome (hit, stale, revalidated, miss, pass).', samples: (zone, f) => OUTCOMES.map((o) => [{ zone, outcome: o }, f.outcomes[o]]) },
  { name: 'edge_client_sent_bytes_total', type: 'counter', help: 'Body bytes sent to clients.', samples: (zone, f) => [[{ zone }, f.bytesToClients]] },
  { name: 'edge_origin_received_bytes_total', type: 'counter', help: 'Body bytes received from the origin or shield.', samples: (zone, f) => [[{ zone }, f.bytesFromOrigin]] },
  {
    name: 'edge_origin_response_seconds',
    type: 'histogram',
    help: 'Time from sending an origin request to its response head.',
    samples: (zone, f) => {
      const out: Sample[] = [];
      let cumulative = 0;
      f.originResponseMs.counts.forEach((n, i) => {
        cumulative += n;
        const le = i < ORIGIN_BUCKETS_MS.length ? String(ORIGIN_BUCKETS_MS[i] / 1000) : '+Inf';
        out.push([{ zone, le }, cumulative]);
      });
      return out;
    },
  },
  { name: 'edge_origin_non_2xx_responses_total', type: 'counter', help: 'Origin responses with a status outside 200-299, by status.', samples: (zone, f) => Object.entries(f.originNon2xx).sort().map(([status, n]) => [{ zone, status }, n]) },
  { name: 'edge_origin_retries_total', type: 'counter', help: 'Origin requests retried after a connection error or 502/503/504.', samples: (zone, f) => [[{ zone }, f.originRetries]] },
  { name: 'edge_origin_errors_total', type: 'counter', help: 'Origin attempts that produced no response, by error code.', samples: (zone, f) => Object.entries(f.originErrorsByCode).sort().map(([code, n]) => [{ zone, code }, n]) },
  { name: 'edge_stale_if_error_total', type: 'counter', help: 'Stale responses served because the origin failed (stale-if-error).', samples: (zone, f) => [[{ zone }, f.staleIfErrorServed]] },
  { name: 'edge_stale_while_revalidate_refreshes_total', type: 'counter', help: 'Background refreshes started for stale-while-revalidate.', samples: (zone, f) => [[{ zone }, f.staleWhileRevalidateRefreshes]] },
];

export function renderPrometheus(snapshot: StatsSnapshot): string {
  const lines: string[] = [];
  const zones = Object.entries(snapshot.zones);
  for (const family of FAMILIES) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const [zone, { totals }] of zones) {
      if (family.type === 'histogram') {
        for (const [l, v] of family.samples(zone, totals)) lines.push(`${family.name}_bucket${labels(l)} ${v}`);
        lines.push(`${family.name}_sum${labels({ zone })} ${totals.originResponseMs.sum / 1000}`);
        lines.push(`${family.name}_count${labels({ zone })} ${totals.originResponses}`);
      } else {
        for (const [l, v] of family.samples(zone, totals)) lines.push(`${family.name}${labels(l)} ${v}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

// ---- readable summary (`mediacdn stats`) ----------------------------------------------------------

function sumMinutes(minutes: ReadonlyArray<Figures & { t: number }>, from: number): Figures {
  const f = emptyFigures();
  for (const m of minutes) if (m.t >= from) addFigures(f, m);
  return f;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const pct = (r: number | null): string => (r === null ? '-' : `${(r * 100).toFixed(1)}%`);
const ms = (n: number | null): string => (n === null ? '-' : n < 10 ? `${n.toFixed(1)} ms` : `${int(n)} ms`);
const tallyText = (t: Record<string, number>): string => {
  const entries = Object.entries(t).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? '-' : entries.map(([k, n]) => `${k}×${int(n)}`).join(' ');
};

/** A table per zone: last hour, last 24 hours and totals, for `mediacdn stats [--zone Z]`. */
export function summarise(snapshot: StatsSnapshot, opts: { zone?: string } = {}): string {
  const hosts = Object.keys(snapshot.zones).filter((h) => opts.zone === undefined || h === opts.zone);
  if (hosts.length === 0) return opts.zone === undefined ? 'No statistics recorded yet.\n' : `No statistics for zone ${opts.zone}.\n`;
  const blocks = hosts.map((host) => {
    const zone = snapshot.zones[host];
    const columns = [
      viewFigures(sumMinutes(zone.minutes, (Math.floor(snapshot.generatedAt / MINUTE_MS) - 59) * MINUTE_MS)),
      viewFigures(sumMinutes(zone.minutes, 0)),
      zone.totals,
    ];
    const rows: Array<[string, (f: FiguresView) => string]> = [
      ['requests', (f) => int(f.requests)],
      ...STATUS_CLASSES.filter((c) => c !== '1xx' || zone.totals.responses['1xx'] > 0).map((c): [string, (f: FiguresView) => string] => [`  ${c}`, (f) => int(f.responses[c])]),
      ['  client aborts', (f) => int(f.clientAborts)],
      ['cache hit rate', (f) => pct(f.hitRate)],
      ...OUTCOMES.map((o): [string, (f: FiguresView) => string] => [`  ${o}`, (f) => int(f.outcomes[o])]),
      ['sent to clients', (f) => formatBytes(f.bytesToClients)],
      ['fetched from origin', (f) => formatBytes(f.bytesFromOrigin)],
      ['origin responses', (f) => int(f.originResponses)],
      ['  p50 / p95 / p99', (f) => `${ms(f.originResponseMs.p50)} / ${ms(f.originResponseMs.p95)} / ${ms(f.originResponseMs.p99)}`],
      ['  non-2xx', (f) => tallyText(f.originNon2xx)],
      ['origin retries', (f) => int(f.originRetries)],
      ['origin errors', (f) => (f.originErrors === 0 ? '0' : `${int(f.originErrors)} (${tallyText(f.originErrorsByCode)})`)],
      ['stale-if-error served', (f) => int(f.staleIfErrorServed)],
      ['stale-while-revalidate', (f) => int(f.staleWhileRevalidateRefreshes)],
    ];
    const table = [['', 'last hour', 'last 24 h', 'total'], ...rows.map(([label, cell]) => [label, ...columns.map(cell)])];
    const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
    const text = table.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('   ').trimEnd());
    return [`zone ${host} (totals since ${new Date(zone.since).toISOString()})`, ...text].join('\n');
  });
  return `${blocks.join('\n\n')}\n`;
}
