// Interleaved, measured rounds (BENCH.md): each round goes test by test and, inside a test, server by
// server, so drift on a shared machine hits every server alike. Around every run: the server tree's
// CPU time and peak RSS, the load generator's CPU time (client-bound rule), and what other processes
// used of the machine meanwhile. Paired runs (runPaired) load our server and a baseline at the same
// time, so that both see the same machine: their CPU per request is compared within one run.
import path from 'node:path';
import type { CpuHold } from './cpu-hold.ts';
import { benchCpuSec, CLIENT_CORE, machineBusySec, resetPeakRss, runPinned, treeCpuSec } from './cpu.ts';
import type { Server } from './library.ts';
import { efficiency, isClientBound } from './measure.ts';
import { peakRss } from './proc.ts';
import { fmtInt, median } from './report.ts';
import { runH2load } from './h2load.ts';
import { parseWrkReport, runWrk, type LoadResult } from './wrk.ts';

/**
 * What the load generator does in one run: wrk on one URL, the radio client's listeners, h2load on
 * one URL (HTTP/2 over TLS), or the handshake client's new TLS connection per request.
 */
export type Load =
  | { kind: 'wrk'; url: string; range?: string; ifNoneMatch?: string; origin?: string }
  | { kind: 'radio'; url: string; listeners: number; rangeBytes: number; fileBytes: number }
  | { kind: 'h2load'; url: string; connections: number; streams: number; headers?: Record<string, string> }
  | { kind: 'handshake'; url: string; caFile: string; loops: number; mode: 'full' | 'resumed' };

/** One run, measured. */
export type Measured = LoadResult & {
  wallSec: number;
  serverCpuSec: number;
  /** Server CPU over wall time: 1 is one core. */
  serverShare: number;
  /** The share of a core the server was allowed (cpu-hold.ts): 1 when free. */
  cpuLimit: number;
  /** Load generator CPU over its own run time. */
  clientShare: number;
  clientBound: boolean;
  /** Cores' worth of CPU that processes not started by the bench used during the run. */
  otherCores: number;
  /** Peak RSS of the server's processes during this run (bytes). */
  peakRss: number;
  cpuPer10k: number;
  cpuPerGB: number;
};

const RADIO_CLIENT = path.join(import.meta.dirname, 'radio-client.ts');
const HANDSHAKE_CLIENT = path.join(import.meta.dirname, 'handshake-client.ts');

/** One of the bench's own node load generators, which print wrk-report.lua's BENCH_RESULT line. */
async function runNodeClient(script: string, args: string[], durationSec: number): Promise<LoadResult> {
  const r = await runPinned({ cmd: process.execPath, args: [script, ...args, String(durationSec)], core: CLIENT_CORE, timeoutMs: (durationSec + 30) * 1000 });
  // Node's own start-up is not load: without this a 2 s quick run would read 5-10 % busier than it was.
  const startupUs = Number(/"startup_cpu_us":(\d+)/.exec(r.stdout)?.[1] ?? 0);
  const resumed = /"resumed":(\d+)/.exec(r.stdout)?.[1];
  return { ...parseWrkReport(r.stdout), clientCpuSec: Math.max(0, r.cpuSec - startupUs / 1e6), ...(resumed !== undefined ? { resumed: Number(resumed) } : {}) };
}

async function runLoad(load: Load, durationSec: number): Promise<LoadResult> {
  switch (load.kind) {
    case 'wrk':
      return runWrk({ url: load.url, durationSec, range: load.range, ifNoneMatch: load.ifNoneMatch, origin: load.origin });
    case 'h2load':
      return runH2load({ url: load.url, durationSec, connections: load.connections, streams: load.streams, headers: load.headers });
    case 'radio':
      return runNodeClient(RADIO_CLIENT, [load.url, String(load.listeners), String(load.rangeBytes), String(load.fileBytes)], durationSec);
    case 'handshake':
      return runNodeClient(HANDSHAKE_CLIENT, [load.url, load.caFile, String(load.loops), load.mode], durationSec);
  }
}

/** One run of `load` against `server`; with `hold`, the server is held to its share of a core meanwhile. */
export async function measure(server: Server, load: Load, durationSec: number, hold?: CpuHold): Promise<Measured> {
  hold?.enter(server.pid);
  try {
    return await measureFree(server, load, durationSec, hold?.share ?? 1);
  } finally {
    hold?.leave(server.pid);
  }
}

async function measureFree(server: Server, load: Load, durationSec: number, cpuLimit: number): Promise<Measured> {
  resetPeakRss(server.pid);
  const s0 = treeCpuSec(server.pid);
  const b0 = benchCpuSec();
  const m0 = machineBusySec();
  const t0 = performance.now();
  const r = await runLoad(load, durationSec);
  const wallSec = (performance.now() - t0) / 1000;
  const serverCpuSec = treeCpuSec(server.pid) - s0;
  const ours = benchCpuSec() - b0;
  const busy = machineBusySec() - m0;
  const eff = efficiency({ cpuSec: serverCpuSec, requests: r.requests, bytes: r.bytes });
  return {
    ...r,
    wallSec,
    serverCpuSec,
    serverShare: serverCpuSec / wallSec,
    cpuLimit,
    clientShare: r.clientCpuSec / r.seconds,
    clientBound: isClientBound(r.clientCpuSec, r.seconds),
    otherCores: Math.max(0, (busy - ours) / wallSec),
    peakRss: peakRss(server.pid),
    cpuPer10k: eff.per10k,
    cpuPerGB: eff.perGB,
  };
}

export type RoundsResult<T> = {
  /** Every round's run for a test and server. */
  runs(test: T, server: Server): Measured[];
  /** The run with the median req/s, client-bound if any round was; undefined when nothing ran. */
  row(test: T, server: Server): RowMeasured | undefined;
  /** otherCores of every run, for the busy-machine verdict. */
  otherCores(): number[];
};

/** A row: the median run, client-bound if any of its rounds was, and how many were. */
export type RowMeasured = Measured & { clientBoundRounds: number; rounds: number };

/** The run with the median req/s (the lower middle of an even count), so its figures belong together. */
export function medianRun(runs: Measured[]): RowMeasured | undefined {
  if (runs.length === 0) return undefined;
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  const mid = sorted[(sorted.length - 1) >> 1];
  const clientBoundRounds = runs.filter((r) => r.clientBound).length;
  return { ...mid, clientBound: clientBoundRounds > 0, clientBoundRounds, rounds: runs.length };
}

export async function runInterleaved<T extends { name: string }>(o: {
  tests: T[];
  servers: Server[];
  rounds: number;
  durationSec: number;
  load(test: T, server: Server): Load | undefined;
  /** Every server held to this share of a core during its runs (cpu-hold.ts). */
  hold?: CpuHold;
}): Promise<RoundsResult<T>> {
  const results = new Map<T, Map<Server, Measured[]>>();
  const width = Math.max(...o.servers.map((s) => s.name.length));
  for (let round = 1; round <= o.rounds; round++) {
    for (const t of o.tests) {
      for (const s of o.servers) {
        const load = o.load(t, s);
        if (!load) continue;
        const r = await measure(s, load, o.durationSec, o.hold);
        if (r.errors > 0) console.warn(`  ${s.name} ${t.name}: ${r.errors} errors`);
        const byServer = results.get(t) ?? new Map<Server, Measured[]>();
        byServer.set(s, [...(byServer.get(s) ?? []), r]);
        results.set(t, byServer);
        console.log(
          `round ${round}  ${t.name.padEnd(28)} ${s.name.padEnd(width)} ${fmtInt(r.rps).padStart(8)} req/s ${r.mbps.toFixed(0).padStart(6)} MB/s  ` +
            `p99 ${r.p99Ms.toFixed(1)} ms  server ${(r.serverShare * 100).toFixed(0)}%  client ${(r.clientShare * 100).toFixed(0)}%${r.clientBound ? ' CLIENT-BOUND' : ''}  other ${r.otherCores.toFixed(2)} cores`,
        );
      }
    }
  }
  const runs = (t: T, s: Server) => results.get(t)?.get(s) ?? [];
  return {
    runs,
    row: (t, s) => medianRun(runs(t, s)),
    otherCores: () => [...results.values()].flatMap((m) => [...m.values()].flat().map((r) => r.otherCores)),
  };
}

/**
 * One paired run: our server and a baseline under load at the same time, both on the server core, each
 * with its own load generator on the client core. A machine whose speed drifts by tens of per cent
 * from one minute to the next (a shared host) slows both alike, so their CPU per request compare.
 */
export type PairMeasured = {
  ours: Measured;
  base: Measured;
  /** Our CPU per request over the baseline's. */
  cpuRatio: number;
  /** The two servers' CPU together, in cores (the server core is full near 1). */
  serverCores: number;
  /** The two load generators' CPU together, in cores. */
  clientCores: number;
};

export async function measurePair(ours: Server, oursLoad: Load, base: Server, baseLoad: Load, durationSec: number): Promise<PairMeasured> {
  const [a, b] = await Promise.all([measure(ours, oursLoad, durationSec), measure(base, baseLoad, durationSec)]);
  return {
    ours: a,
    base: b,
    cpuRatio: a.cpuPer10k / b.cpuPer10k,
    serverCores: (a.serverCpuSec + b.serverCpuSec) / Math.max(a.wallSec, b.wallSec),
    clientCores: a.clientShare + b.clientShare,
  };
}

/** A paired row: the median of its rounds' ratios, whether the server core was full in every round, each side's errors. */
export type PairRow = {
  cpuRatio: number;
  ratios: number[];
  serverCoreFull: boolean;
  oursErrors: number;
  baseErrors: number;
  /** Our own CPU-seconds per 10,000 requests in these runs (median): what sharing the core with this baseline cost us. */
  oursCost: number;
};

/** Share of the server core the two servers together must use for a paired run to measure the servers. */
export const PAIR_FULL_CORE = 0.9;

export function pairRow(runs: PairMeasured[]): PairRow | undefined {
  if (runs.length === 0) return undefined;
  const ratios = runs.map((r) => r.cpuRatio).sort((x, y) => x - y);
  return {
    cpuRatio: median(ratios),
    oursCost: median(runs.map((r) => r.ours.cpuPer10k)),
    ratios,
    serverCoreFull: runs.every((r) => r.serverCores >= PAIR_FULL_CORE),
    oursErrors: runs.reduce((n, r) => n + r.ours.errors, 0),
    baseErrors: runs.reduce((n, r) => n + r.base.errors, 0),
  };
}

/** Paired rounds of every test: ours against each baseline in turn, the order of the two starts alternating by round. */
export async function runPaired<T extends { name: string }>(o: {
  tests: T[];
  ours: Server;
  baselines: Server[];
  rounds: number;
  durationSec: number;
  load(test: T, server: Server): Load | undefined;
}): Promise<(test: T, base: Server) => PairRow | undefined> {
  const results = new Map<T, Map<Server, PairMeasured[]>>();
  for (let round = 1; round <= o.rounds; round++) {
    for (const t of o.tests) {
      for (const b of o.baselines) {
        const mine = o.load(t, o.ours);
        const theirs = o.load(t, b);
        if (!mine || !theirs) continue;
        const r = round % 2 ? await measurePair(o.ours, mine, b, theirs, o.durationSec) : await swapped(o.ours, mine, b, theirs, o.durationSec);
        const byBase = results.get(t) ?? new Map<Server, PairMeasured[]>();
        byBase.set(b, [...(byBase.get(b) ?? []), r]);
        results.set(t, byBase);
        console.log(
          `paired ${round}  ${t.name.padEnd(28)} ${o.ours.name} / ${b.name}: CPU per request ${r.cpuRatio.toFixed(2)}×  ` +
            `(${(r.ours.cpuPer10k / 10).toFixed(3)} / ${(r.base.cpuPer10k / 10).toFixed(3)} ms)  servers ${(r.serverCores * 100).toFixed(0)}% of a core  clients ${(r.clientCores * 100).toFixed(0)}%`,
        );
      }
    }
  }
  return (t, b) => pairRow(results.get(t)?.get(b) ?? []);
}

/** measurePair with the baseline's load generator started first. */
async function swapped(ours: Server, oursLoad: Load, base: Server, baseLoad: Load, durationSec: number): Promise<PairMeasured> {
  const r = await measurePair(base, baseLoad, ours, oursLoad, durationSec);
  return { ours: r.base, base: r.ours, cpuRatio: 1 / r.cpuRatio, serverCores: r.serverCores, clientCores: r.clientCores };
}
