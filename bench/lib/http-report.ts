// The markdown of the origin and edge results: what the machine was doing (and the busy-machine
// marker), every server's figures per row, and ours against each baseline by the client-bound rule.
import os from 'node:os';
import type { Server } from './library.ts';
import { compare, comparisonCell, fastest, machineVerdict, type MachineLoad } from './measure.ts';
import { fmtInt, fmtMiB, markdownTable } from './report.ts';
import type { RoundsResult } from './rounds.ts';

const fmtSec = (n: number) => (Number.isFinite(n) ? (n >= 10 ? n.toFixed(1) : n >= 0.1 ? n.toFixed(2) : n.toFixed(3)) : '–');
const pct = (share: number) => `${(share * 100).toFixed(0)} %`;

/** The paragraph on the machine: cores, load, other processes' CPU; a busy run is marked as such, first thing. */
export function machineParagraph(m: MachineLoad): string {
  const v = machineVerdict(m);
  const others = m.otherCores.length ? `other processes used ${fmtSec(m.otherCores.reduce((a, b) => a + b, 0) / m.otherCores.length)} cores on average during the timed runs (max ${fmtSec(Math.max(...m.otherCores))})` : 'no timed runs';
  const facts = `${m.cores} cores (${os.cpus()[0]?.model ?? 'cpu'}), ${fmtMiB(os.totalmem())} memory, Linux ${os.release()}; load average ${m.load1AtStart.toFixed(2)} at the start; ${others}.`;
  if (!v.busy) return `Quiet machine: ${facts}`;
  return `**Measured on a busy machine** (${v.reasons.join('; ')}): these numbers are recorded, not claimed; ratios between servers of one run are all they can hint at.\n\n${facts}`;
}

/** Every server's figures, one line per test and server. */
export function figuresTable<T extends { name: string }>(tests: T[], servers: Server[], res: RoundsResult<T>): string {
  const rows: string[][] = [];
  for (const t of tests) {
    for (const s of servers) {
      const r = res.row(t, s);
      if (!r) continue;
      rows.push([
        t.name,
        s.name,
        fmtInt(r.rps),
        r.mbps.toFixed(0),
        `${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)}`,
        pct(r.serverShare),
        `${pct(r.clientShare)}${r.clientBound ? ' **client-bound**' : ''}`,
        fmtSec(r.cpuPer10k),
        fmtSec(r.cpuPerGB),
        fmtMiB(r.peakRss),
        r.errors > 0 ? `**${fmtInt(r.errors)}**` : '0',
      ]);
    }
  }
  return markdownTable(['test', 'server', 'req/s', 'MB/s', 'p50 / p99 ms', 'server CPU', 'client CPU', 'CPU-s / 10k req', 'CPU-s / GB', 'peak RSS', 'errors'], rows);
}

/** A baseline column: one server, or the faster of several in each row (its name then said in the cell). */
export type Baseline = { label: string; servers: Server[] };

/** Ours against each baseline per test; a client-bound pair compares CPU per request, never req/s. */
export function comparisonTable<T extends { name: string }>(tests: T[], ours: Server, baselines: Baseline[], res: RoundsResult<T>): string {
  const rows = tests.flatMap((t) => {
    const mine = res.row(t, ours);
    if (!mine) return [];
    return [
      [
        t.name,
        ...baselines.map((b) => {
          const candidates = b.servers.flatMap((s) => {
            const r = res.row(t, s);
            return r ? [{ server: s, row: r, rps: r.rps }] : [];
          });
          if (candidates.length === 0) return '–';
          const best = fastest(candidates);
          const cell = comparisonCell(compare(mine, best.row));
          return b.servers.length > 1 ? `${cell} (vs ${best.server.name})` : cell;
        }),
      ],
    ];
  });
  return markdownTable(['test', ...baselines.map((b) => `${ours.name} / ${b.label}`)], rows);
}
