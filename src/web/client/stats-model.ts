// Turns the edge statistics snapshot (GET /api/edge-stats: the JSON of src/edge/stats/, version 1)
// into what the dashboard draws: per-minute series over a window and the window's totals. Pure: no DOM.

/** The parts of the snapshot this page reads; mirrors StatsSnapshot / FiguresView in src/edge/stats/figures.ts. */
export type WireFigures = {
  requests: number;
  outcomes: { hit: number; stale: number; revalidated: number; miss: number; pass: number };
  responses?: Record<string, number>;
  bytesToClients: number;
  bytesFromOrigin: number;
  originResponses: number;
  originResponseMs: { counts: number[]; sum: number; p50: number | null; p95: number | null; p99?: number | null };
  originNon2xx: Record<string, number>;
  originErrors: number;
  hitRate: number | null;
};
export type WireZone = { since: number; totals: WireFigures; minutes: Array<WireFigures & { t: number }> };
export type WireSnapshot = { version: 1; generatedAt: number; originResponseBucketsMs: number[]; zones: Record<string, WireZone> };

export const MINUTE_MS = 60_000;

export type ZoneSeries = {
  /** Minute starts, oldest first, one per minute of the window (minutes without traffic included). */
  times: number[];
  hitRate: (number | null)[];
  /** Average bytes per second over each minute. */
  servedBps: number[];
  originBps: number[];
  originP50: (number | null)[];
  originP95: (number | null)[];
  originNon2xx: number[];
  originErrors: number[];
  requests: number[];
};

export type WindowTotals = {
  requests: number;
  hitRate: number | null;
  bytesToClients: number;
  bytesFromOrigin: number;
  originResponses: number;
  originP50: number | null;
  originP95: number | null;
  originNon2xx: number;
  originNon2xxByStatus: Record<string, number>;
  originErrors: number;
};

export function isSnapshot(v: unknown): v is WireSnapshot {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<WireSnapshot>;
  return s.version === 1 && typeof s.generatedAt === 'number' && typeof s.zones === 'object' && s.zones !== null;
}

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * Quantile from histogram bucket counts (upper bounds `bounds`, plus a last +Inf bucket): the bucket
 * holding the rank, interpolated geometrically inside it because the bounds are log-spaced — the same
 * estimate the edge reports per minute, applied here to a whole window's summed counts.
 */
export function quantileFromBuckets(counts: readonly number[], bounds: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0 || bounds.length === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] > 0 && seen + counts[i] >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const f = Math.min(1, Math.max(0, (rank - seen) / counts[i]));
      return i === 0 ? bounds[0] * f : bounds[i - 1] * (bounds[i] / bounds[i - 1]) ** f;
    }
    seen += counts[i];
  }
  return bounds[bounds.length - 1];
}

/** The last `minutes` minutes up to the snapshot's own time (not the browser's clock, which may differ). */
export function zoneSeries(snapshot: WireSnapshot, zone: WireZone, minutes: number): ZoneSeries {
  const last = Math.floor(snapshot.generatedAt / MINUTE_MS) * MINUTE_MS;
  const first = last - (minutes - 1) * MINUTE_MS;
  const byT = new Map(zone.minutes.map((m) => [m.t, m]));
  const out: ZoneSeries = { times: [], hitRate: [], servedBps: [], originBps: [], originP50: [], originP95: [], originNon2xx: [], originErrors: [], requests: [] };
  for (let t = first; t <= last; t += MINUTE_MS) {
    const m = byT.get(t);
    out.times.push(t);
    out.hitRate.push(m?.hitRate ?? null);
    out.servedBps.push((m?.bytesToClients ?? 0) / 60);
    out.originBps.push((m?.bytesFromOrigin ?? 0) / 60);
    out.originP50.push(m?.originResponseMs.p50 ?? null);
    out.originP95.push(m?.originResponseMs.p95 ?? null);
    out.originNon2xx.push(m ? sum(m.originNon2xx) : 0);
    out.originErrors.push(m?.originErrors ?? 0);
    out.requests.push(m?.requests ?? 0);
  }
  return out;
}

export function windowTotals(snapshot: WireSnapshot, zone: WireZone, minutes: number): WindowTotals {
  const last = Math.floor(snapshot.generatedAt / MINUTE_MS) * MINUTE_MS;
  const first = last - (minutes - 1) * MINUTE_MS;
  const bounds = snapshot.originResponseBucketsMs ?? [];
  const counts: number[] = new Array(bounds.length + 1).fill(0);
  const t: WindowTotals = { requests: 0, hitRate: null, bytesToClients: 0, bytesFromOrigin: 0, originResponses: 0, originP50: null, originP95: null, originNon2xx: 0, originNon2xxByStatus: {}, originErrors: 0 };
  let fromCache = 0;
  let withOutcome = 0;
  for (const m of zone.minutes) {
    if (m.t < first || m.t > last) continue;
    t.requests += m.requests;
    const o = m.outcomes;
    fromCache += o.hit + o.stale + o.revalidated;
    withOutcome += o.hit + o.stale + o.revalidated + o.miss + o.pass;
    t.bytesToClients += m.bytesToClients;
    t.bytesFromOrigin += m.bytesFromOrigin;
    t.originResponses += m.originResponses;
    m.originResponseMs.counts.forEach((n, i) => {
      if (i < counts.length) counts[i] += n;
    });
    for (const [status, n] of Object.entries(m.originNon2xx)) t.originNon2xxByStatus[status] = (t.originNon2xxByStatus[status] ?? 0) + n;
    t.originErrors += m.originErrors;
  }
  t.hitRate = withOutcome === 0 ? null : fromCache / withOutcome;
  t.originNon2xx = sum(t.originNon2xxByStatus);
  t.originP50 = quantileFromBuckets(counts, bounds, 0.5);
  t.originP95 = quantileFromBuckets(counts, bounds, 0.95);
  return t;
}
