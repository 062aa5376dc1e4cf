// Statistics of every edge of the fleet: each edge's /_mediacdn/stats, one row per edge and the fleet
// total. `mediacdn stats` prints them; the origin relays them as /api/edge-stats (the total's snapshot
// fields, as before, plus `edges`).
import { request } from 'undici';
import type { Config } from '../config/index.ts';
import { fleetOf } from '../config/fleet.ts';
import { EdgeStats } from '../edge/stats/counting.ts';
import { addFigures, emptyFigures, viewFigures, type StatsSnapshot } from '../edge/stats/figures.ts';
import { parseSnapshot } from '../edge/stats/persistence.ts';

/** An edge to ask: its fleet name (or its URL when it is not in the fleet) and its control URL. */
export type StatsSource = { name: string; url: string };

/** One edge's row: whether it answered, and its totals over every zone since its statistics began. */
export type EdgeStatsRow = {
  name: string;
  url: string;
  ok: boolean;
  /** Why there are no figures (unreachable, HTTP status, unknown format). */
  error?: string;
  requests: number;
  hitRate: number | null;
  bytesToClients: number;
  bytesFromOrigin: number;
  originErrors: number;
  responses5xx: number;
};

export type FleetStats = StatsSnapshot & { edges: EdgeStatsRow[] };

/** The edges whose statistics count: every fleet member, then extra control URLs not in the fleet. */
export function statsSources(config: Pick<Config, 'fleet'>, extraUrls: readonly string[] = []): StatsSource[] {
  const fleet = fleetOf(config).members.map((m) => ({ name: m.name, url: m.control }));
  const known = new Set(fleet.map((s) => s.url));
  const extra = extraUrls.map((u) => u.replace(/\/+$/, '')).filter((u) => !known.has(u));
  return [...fleet, ...[...new Set(extra)].map((url) => ({ name: url.replace(/^https?:\/\//, ''), url }))];
}

async function fetchOne(source: StatsSource, token: string): Promise<{ snapshot: StatsSnapshot } | { error: string }> {
  try {
    const res = await request(`${source.url}/_mediacdn/stats`, { headers: { authorization: `Bearer ${token}` }, headersTimeout: 5000, bodyTimeout: 5000 });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return { error: `HTTP ${res.statusCode}` };
    }
    const parsed = parseSnapshot(await res.body.json());
    return parsed.kind === 'ok' ? { snapshot: parsed.snapshot } : { error: `the statistics ${parsed.reason}` };
  } catch (err) {
    return { error: `unreachable: ${(err as Error).message}` };
  }
}

function rowOf(source: StatsSource, snapshot: StatsSnapshot): EdgeStatsRow {
  const sum = emptyFigures();
  for (const z of Object.values(snapshot.zones)) addFigures(sum, z.totals);
  const v = viewFigures(sum);
  return {
    ...source,
    ok: true,
    requests: v.requests,
    hitRate: v.hitRate,
    bytesToClients: v.bytesToClients,
    bytesFromOrigin: v.bytesFromOrigin,
    originErrors: v.originErrors,
    responses5xx: v.responses['5xx'],
  };
}

/** Asks every edge at once; the total adds up the edges that answered. */
export async function fetchFleetStats(sources: readonly StatsSource[], token: string): Promise<FleetStats> {
  const results = await Promise.all(sources.map((s) => fetchOne(s, token)));
  const total = new EdgeStats({ now: Date.now, onWarning: () => {} });
  const edges = results.map((r, i): EdgeStatsRow => {
    if ('error' in r) return { ...sources[i], ok: false, error: r.error, requests: 0, hitRate: null, bytesToClients: 0, bytesFromOrigin: 0, originErrors: 0, responses5xx: 0 };
    total.merge(r.snapshot);
    return rowOf(sources[i], r.snapshot);
  });
  return { ...total.snapshot(), edges };
}
