// npm run bench: the origin section (our origin against nginx static at its defaults and tuned, sirv
// and a bare node:http ceiling, bench/origin.ts), the edge section (our edge's cache hits against nginx
// proxy_cache at its defaults and tuned, Varnish and the ceiling, then a cold start, bench/edge.ts),
// the tls section (our edge's https listener against nginx proxy_cache with ssl and http2: cache hits
// over HTTP/1.1 and HTTP/2, and what a handshake costs, bench/tls.ts) and the dns section
// (bench/dns.ts). Servers run pinned to core 1, load generators to core 0; every
// row reports req/s with the server's CPU-seconds per 10,000 requests and per GB, and a row whose load
// generator used ≥ 90 % of its core is client-bound. Writes bench/results/{origin,edge,tls,dns}.md, marked
// as measured on a busy machine when the load average at the start or other processes' CPU during
// the runs say so.
//
//   npm run bench                  full: 10 s runs, 3 interleaved rounds, 500 radio listeners (about an hour)
//   npm run bench -- --quick       (or BENCH_QUICK=1) 2 s runs, 1 round, 100 radio listeners (a few minutes)
//   BENCH_ONLY=origin|edge|tls|dns one section only (default all)
//   BENCH_DURATION=10              seconds per run (overrides the mode)
//   BENCH_ROUNDS=3                 interleaved rounds (overrides the mode)
//   BENCH_LISTENERS=500            radio listeners (overrides the mode)
//   BENCH_PROFILE=<dir>            edge section: run our edge with --cpu-prof, profile written to <dir>
//   BENCH_HOLD=0.5                 share of a core each server is held to in the held rows (needs root)
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import { loadAverage1 } from './lib/cpu.ts';
import { requireTools } from './lib/tools.ts';
import { machineVerdict } from './lib/measure.ts';
import path from 'node:path';
import { coldFiles, runEdgeBench } from './edge.ts';
import { BENCH_FILES, httpTests, prepareLibrary } from './lib/library.ts';
import { DEFAULT_HOLD_SHARE } from './lib/http-report.ts';
import { runOriginBench } from './origin.ts';
import { runDnsBench } from './dns.ts';
import { runTlsBench } from './tls.ts';

const SECTIONS = ['origin', 'edge', 'tls', 'dns'] as const;
type Section = (typeof SECTIONS)[number];

function sections(): Section[] {
  const only = process.env.BENCH_ONLY;
  if (only === undefined || only === '') return [...SECTIONS];
  if (!(SECTIONS as readonly string[]).includes(only)) throw new Error(`BENCH_ONLY must be one of ${SECTIONS.join(', ')}, got ${JSON.stringify(only)}`);
  return [only as Section];
}

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

/** What each section needs installed. */
const TOOLS: Record<Section, string[]> = {
  origin: ['taskset', 'curl', 'nginx', 'wrk'],
  edge: ['taskset', 'curl', 'nginx', 'varnishd', 'wrk'],
  tls: ['taskset', 'curl', 'nginx', 'wrk', 'h2load', 'openssl'],
  dns: ['taskset', 'nsd', 'dnsperf', 'dig'],
};

async function main(): Promise<void> {
  const which = sections();
  requireTools(Object.fromEntries(which.map((s) => [s, TOOLS[s]])));
  const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
  const durationSec = positive('BENCH_DURATION', quick ? 2 : 10);
  const rounds = Math.round(positive('BENCH_ROUNDS', quick ? 1 : 3));
  const listeners = Math.round(positive('BENCH_LISTENERS', quick ? 100 : 500));
  const holdShare = positive('BENCH_HOLD', DEFAULT_HOLD_SHARE);
  if (holdShare > 1) throw new Error(`BENCH_HOLD is a share of one core, at most 1, got ${holdShare}`);
  const profileDir = process.env.BENCH_PROFILE ? path.resolve(process.env.BENCH_PROFILE) : undefined;
  // The machine before the bench starts anything: its load average is not ours.
  const machine = { cores: os.cpus().length, load1AtStart: loadAverage1() };
  const mode = `${quick ? 'Quick run (--quick)' : 'Full run'}: ${durationSec} s per run, ${rounds} round(s), ${listeners} radio listeners`;
  const busy = machineVerdict({ ...machine, otherCores: [] });
  console.log(`${mode}; load average ${machine.load1AtStart.toFixed(2)} at the start on ${machine.cores} cores`);
  if (busy.busy) console.log(`the machine is busy (${busy.reasons.join('; ')}): the results will be marked as recorded, not claimed`);
  const tests = httpTests({ radioListeners: listeners });
  const work = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-bench-'));
  const t0 = Date.now();
  try {
    const dataDir = path.join(work, 'data');
    await mkdir(dataDir);
    if (which.includes('origin') || which.includes('edge') || which.includes('tls')) {
      const lib = await prepareLibrary(dataDir, which.includes('edge') ? [...BENCH_FILES, ...coldFiles()] : BENCH_FILES);
      const common = { lib, workDir: work, durationSec, rounds, tests, machine, mode, holdShare };
      if (which.includes('origin')) await runOriginBench(common);
      if (which.includes('edge')) await runEdgeBench({ ...common, profileDir });
      if (which.includes('tls')) await runTlsBench(common);
    }
    if (which.includes('dns')) await runDnsBench({ workDir: work, durationSec, rounds, machine });
    console.log(`\nbench done in ${((Date.now() - t0) / 60_000).toFixed(1)} min`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
