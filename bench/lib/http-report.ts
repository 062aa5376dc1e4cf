// The markdown of the origin and edge results: what the machine was doing (and the busy-machine
// marker), every server's figures per row, and ours against each baseline by the client-bound rule.
import os from 'node:os';
import type { Server } from './library.ts';
import { HOLD_PERIOD_US, openCpuHold, quotaFor } from './cpu-hold.ts';
import { boundBy, compare, comparisonCell, fastest, machineVerdict, SERVER_BOUND_SHARE, type MachineLoad } from './measure.ts';
import { fmtInt, fmtMiB, markdownTable } from './report.ts';
import { PAIR_FULL_CORE, runInterleaved, runPaired, type Load, type PairRow, type RoundsResult } from './rounds.ts';

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

/** A results heading; on a busy machine it says the figures under it are not claims. */
export function heading(title: string, m: MachineLoad): string {
  return `## ${title}${machineVerdict(m).busy ? ' (busy machine: recorded, not claimed)' : ''}`;
}

/** p50 / p99 per request, or for h2load (no percentiles) its mean and max. */
function latencyCell(r: { p50Ms: number; p99Ms: number; meanMs?: number; maxMs?: number }): string {
  if (Number.isNaN(r.p50Ms) && r.meanMs !== undefined && r.maxMs !== undefined) return `mean ${r.meanMs.toFixed(2)} / max ${r.maxMs.toFixed(2)}`;
  return `${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)}`;
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
        latencyCell(r),
        pct(r.serverShare),
        pct(r.clientShare),
        boundBy(r) === 'client' ? `**client**${r.clientBoundRounds < r.rounds ? ` (${r.clientBoundRounds} of ${r.rounds} rounds)` : ''}` : boundBy(r),
        fmtSec(r.cpuPer10k),
        fmtSec(r.cpuPerGB),
        fmtMiB(r.peakRss),
        r.errors > 0 ? `**${fmtInt(r.errors)}**` : '0',
      ]);
    }
  }
  return markdownTable(['test', 'server', 'req/s', 'MB/s', 'p50 / p99 ms', 'server CPU', 'client CPU', 'bound by', 'CPU-s / 10k req', 'CPU-s / GB', 'peak RSS', 'errors'], rows);
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
          return b.servers.length > 1 ? `vs ${best.server.name}: ${cell}` : cell;
        }),
      ],
    ];
  });
  return markdownTable(['test', ...baselines.map((b) => `${ours.name} / ${b.label}`)], rows);
}

/** How the rows were run, for both sections. */
export function methodParagraph(mode: string): string {
  return `${mode}. Every server runs at once, pinned to core 1 (\`taskset\`); the load generator runs on core 0:
\`wrk -t1 -c50\`, or for the radio row bench/lib/radio-client.ts (each listener on its own connection
reads the 32 MiB file in sequential 256 KiB ranges, one at a time, listener k starting at range k).
Rounds are interleaved test by test and server by server; each row is the round with the median req/s.`;
}

/** How to read the comparison table. */
export const COMPARISON_LEGEND = `A ratio is our req/s over the baseline's. When the load generator used ≥ 90 % of its core in either
run (**client-bound**), req/s measured the client, so the cell compares server CPU per request
instead (below 1: ours spends less), and it is never a win. "not saturated": one of the two servers
used less than 90 % of its core without the client being the limit (latency, or other processes on
a shared machine), so the ratio says less about what each server can do.`;

/** How to read the figures table. */
export const FIGURES_LEGEND = `Server CPU is the server's processes' CPU time over the run (100 % = one core); client CPU the load
generator's; "bound by" says which of the two was at ≥ 90 % of its core (neither: latency, or other
processes). CPU-s / 10k req and CPU-s / GB are the server's CPU-seconds per 10,000 requests and per
10⁹ bytes received by the client (headers included). Peak RSS is VmHWM of the server's processes
during that run. p50 / p99 are per request (per 256 KiB range in the radio row).`;

/** Paired runs last at most this long: both servers see the same machine, so shorter runs suffice. */
const PAIRED_MAX_SEC = 5;

/**
 * The side-by-side part of a section: paired runs of `tests` (runPaired), ours against each baseline,
 * and their legend and table in markdown.
 */
export async function sideBySide<T extends { name: string }>(o: {
  tests: T[];
  ours: Server;
  baselines: Array<{ label: string; server: Server }>;
  rounds: number;
  durationSec: number;
  load(test: T, server: Server): Load | undefined;
}): Promise<string> {
  const durationSec = Math.min(o.durationSec, PAIRED_MAX_SEC);
  const row = await runPaired({ tests: o.tests, ours: o.ours, baselines: o.baselines.map((b) => b.server), rounds: o.rounds, durationSec, load: o.load });
  return `${pairedLegend(durationSec, o.rounds)}\n\n${pairedTable(o.tests, o.ours, o.baselines, row)}`;
}

/**
 * The paired table: for each test and baseline, our requests per CPU-second over the baseline's, both
 * measured in the same runs (runPaired). Above 1: ours does more work per CPU-second.
 */
export function pairedTable<T extends { name: string }>(tests: T[], ours: Server, baselines: Array<{ label: string; server: Server }>, row: (t: T, base: Server) => PairRow | undefined): string {
  const rows = tests.flatMap((t) => {
    const measured = baselines.map((b) => row(t, b.server));
    // Our own cost beside the first baseline: the reference for what sharing the core with another cost us.
    const reference = measured[0]?.oursCost;
    const cells = baselines.map((b, i) => {
      const r = measured[i];
      if (!r) return '–';
      const beside = i > 0 && reference !== undefined && reference > 0 ? r.oursCost / reference : 1;
      const notes = [
        ...(beside > 1 + BESIDE_SHIFT || beside < 1 - BESIDE_SHIFT ? [`ours ${beside.toFixed(2)}× its CPU per request beside ${baselines[0].label}`] : []),
        ...(r.serverCoreFull ? [] : ['server core not full']),
        ...(r.oursErrors > 0 ? [`${r.oursErrors} errors (ours)`] : []),
        ...(r.baseErrors > 0 ? [`${r.baseErrors} errors (${b.label})`] : []),
      ];
      const spread = r.ratios.length > 1 ? ` (rounds ${(1 / r.ratios[r.ratios.length - 1]).toFixed(2)}–${(1 / r.ratios[0]).toFixed(2)})` : '';
      return `${(1 / r.cpuRatio).toFixed(2)}×${spread}${notes.length ? `, ${notes.join(', ')}` : ''}`;
    });
    return cells.every((c) => c === '–') ? [] : [[t.name, ...cells]];
  });
  return markdownTable(['test', ...baselines.map((b) => `${ours.name} / ${b.label}`)], rows);
}

/** How far our own CPU per request beside a baseline may differ from ours beside the first one before a cell says so. */
const BESIDE_SHIFT = 0.15;

/** How the paired table was measured and how to read it. */
function pairedLegend(durationSec: number, rounds: number): string {
  return `Side by side: in each run our server and one baseline are loaded at the same time (${durationSec} s, both
pinned to core 1, each with its own load generator on core 0), so a machine whose speed drifts from one
minute to the next (a shared host) slows both alike; ${rounds} round(s), the order of the two starts
alternating. A cell is our requests per CPU-second over the baseline's in the same run (the inverse of
the ratio of CPU per request), the median of the rounds with their range: above 1 ours does more work per
CPU-second. "server core not full": the two servers together used less than ${PAIR_FULL_CORE * 100} % of their core in some
round, so the figure is taken below saturation (the load generators were the limit). Errors are the
load generator's (timeouts included), counted over the rounds for each side. "ours N× its CPU per request
beside X": our server's own CPU per request in these runs was N times what it was beside the first
baseline (X), by more than ${BESIDE_SHIFT * 100} %: sharing the core with this baseline changed what our requests cost
(a server with a thread per request in flight, as Varnish, costs the event loop beside it cache and
scheduling), so the cell says as much about the pairing as about either server; the interleaved runs above
load one server at a time.`;
}

/** The share of a core the held rows give every server, unless BENCH_HOLD says otherwise. */
export const DEFAULT_HOLD_SHARE = 0.5;

/**
 * The held part of a section: the same rows with every server held to `share` of its core in turn
 * (cpu-hold.ts), interleaved, so that the server is the limit even where, free, the load generator
 * saturates its core first; then ours against each baseline by req/s, which at equal CPU is work per
 * CPU-second. Without a cpu controller or root it says so instead.
 */
export async function heldSection<T extends { name: string }>(
  section: { tests: T[]; rounds: number; durationSec: number; holdShare: number },
  ours: Server,
  /** The servers ours is set against, one column each. */
  baselines: Server[],
  load: (test: T, server: Server) => Load | undefined,
): Promise<{ markdown: string; result: RoundsResult<T> | undefined }> {
  const share = section.holdShare;
  const hold = openCpuHold(share);
  const percent = `${(share * 100).toFixed(0)} %`;
  if (hold instanceof Error) {
    console.log(`held rows not run: ${hold.message}`);
    return { markdown: `Not run on this machine: ${hold.message} (the held rows need root and a cgroup cpu controller).`, result: undefined };
  }
  try {
    const { tests } = section;
    const servers = [...baselines, ours];
    const result = await runInterleaved({ tests, servers, rounds: section.rounds, durationSec: section.durationSec, load, hold });
    const comparison = comparisonTable(tests, ours, baselines.map((s) => ({ label: s.name, servers: [s] })), result);
    const figures = figuresTable(tests, servers, result);
    console.log(`\nheld to ${percent} of a core:\n${comparison}\n\n${figures}\n`);
    const markdown = `Every server in turn held to ${percent} of its core by a CPU quota (a cgroup with
\`cpu.cfs_quota_us\` ${quotaFor(share)} per ${HOLD_PERIOD_US} µs, bench/lib/cpu-hold.ts), the same rows, load generator
and interleaved rounds as above. Held, a server is the limit of its run in rows where, free, the load
generator saturates its core first; all servers then have the same CPU, so a ratio of req/s is one of
work per CPU-second. A ratio is our req/s over the baseline's; "not saturated": one of the two servers
used less than ${SERVER_BOUND_SHARE * 100} % of its ${percent}; a row still client-bound compares CPU per request, as above,
and is no win. The server's share of a core in the figures is of the whole core (at most ${percent}).
A quota is not free: each server's CPU per request held is higher than in the free rows, the more
so the smaller the share and the more threads share the quota (Varnish's thread per connection, the
helper threads of V8 in a Node server, against nginx's single thread: at 25 % of a core our edge's
4 KiB hit cost 1.8-2.4x its free cost, nginx's 1.3x; at 50 %, 1.1-1.3x and 1.05x). So the held ratios
measure rows the free runs cannot, beside the free server-bound rows and the side-by-side ones, not
instead of them.

${comparison}

${figures}`;
    return { markdown, result };
  } finally {
    hold.close();
  }
}
