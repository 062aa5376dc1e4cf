// Interleaved wrk rounds (BENCH.md): each round goes test by test and, inside a test, server by server,
// so drift on a shared machine hits every server alike; the table takes medians over the rounds.
import type { Server } from './library.ts';
import { fmtInt, median } from './report.ts';
import { runWrk, type WrkResult } from './wrk.ts';

/** What wrk asks one server for in one test. */
export type WrkTarget = { url: string; range?: string; ifNoneMatch?: string };

export type RoundsResult<T> = {
  /** Every round's result for a test and server. */
  runs(test: T, server: Server): WrkResult[];
  /** Median req/s and MB/s over the rounds. */
  medians(test: T, server: Server): { rps: number; mbps: number };
};

export async function runInterleaved<T extends { name: string }>(o: {
  tests: T[];
  servers: Server[];
  rounds: number;
  durationSec: number;
  target(test: T, server: Server): WrkTarget;
  /** Called between rounds (e.g. to sample memory). */
  afterRound?(round: number): void;
}): Promise<RoundsResult<T>> {
  const results = new Map<T, Map<Server, WrkResult[]>>();
  const width = Math.max(...o.servers.map((s) => s.name.length));
  for (let round = 1; round <= o.rounds; round++) {
    for (const t of o.tests) {
      for (const s of o.servers) {
        const target = o.target(t, s);
        const r = await runWrk({ url: target.url, durationSec: o.durationSec, range: target.range, ifNoneMatch: target.ifNoneMatch });
        if (r.errors > 0) console.warn(`  ${s.name} ${t.name}: ${r.errors} errors`);
        const byServer = results.get(t) ?? new Map<Server, WrkResult[]>();
        byServer.set(s, [...(byServer.get(s) ?? []), r]);
        results.set(t, byServer);
        console.log(`round ${round}  ${t.name.padEnd(24)} ${s.name.padEnd(width)} ${fmtInt(r.rps).padStart(8)} req/s ${r.mbps.toFixed(0).padStart(6)} MB/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms`);
      }
    }
    o.afterRound?.(round);
  }
  const runs = (t: T, s: Server) => results.get(t)?.get(s) ?? [];
  return {
    runs,
    medians: (t, s) => ({ rps: median(runs(t, s).map((r) => r.rps)), mbps: median(runs(t, s).map((r) => r.mbps)) }),
  };
}

/** A table cell: "12,345 req/s, 678 MB/s (0.91×)"; the ratio is left out for the baseline itself. */
export function rateCell(m: { rps: number; mbps: number }, baselineRps?: number): string {
  return `${fmtInt(m.rps)} req/s, ${m.mbps.toFixed(0)} MB/s${baselineRps === undefined ? '' : ` (${(m.rps / baselineRps).toFixed(2)}×)`}`;
}
