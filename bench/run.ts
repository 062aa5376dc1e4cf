// npm run bench: the origin section (our origin against nginx static and sirv, bench/origin.ts) and the
// edge section (our edge's cache hits against nginx proxy_cache and a cold start, bench/edge.ts), by the
// BENCH.md method: wrk -t1 -c50, every server of a section running at once, rounds interleaved test by
// test and server by server, medians, bodies byte-compared first, peak RSS per server.
// The dns section (bench/dns.ts) sets `mediacdn dns` against nsd with dnsperf, each on one core.
// Writes bench/results/origin.md, bench/results/edge.md and bench/results/dns.md.
//
//   BENCH_ONLY=origin|edge|dns   one section only (default all)
//   BENCH_DURATION=10        seconds per wrk run
//   BENCH_ROUNDS=3           interleaved rounds
//   BENCH_WORKERS=1,2        origin processes compared in the origin section
//   BENCH_PROFILE=<dir>      edge section: run our edge with --cpu-prof, profile written to <dir>
//   BENCH_EDGE_REFERENCE=1   edge section: add a naive Node cache (bench/servers/naive-cache.ts) as a reference
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { coldFiles, runEdgeBench } from './edge.ts';
import { BENCH_FILES, prepareLibrary } from './lib/library.ts';
import { runOriginBench } from './origin.ts';
import { runDnsBench } from './dns.ts';

const SECTIONS = ['origin', 'edge', 'dns'] as const;
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

async function main(): Promise<void> {
  const which = sections();
  const durationSec = positive('BENCH_DURATION', 10);
  const rounds = Math.round(positive('BENCH_ROUNDS', 3));
  const workers = (process.env.BENCH_WORKERS || '1,2').split(',').map(Number);
  const profileDir = process.env.BENCH_PROFILE ? path.resolve(process.env.BENCH_PROFILE) : undefined;
  const work = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-bench-'));
  const t0 = Date.now();
  try {
    const dataDir = path.join(work, 'data');
    await mkdir(dataDir);
    if (which.includes('origin') || which.includes('edge')) {
      const lib = await prepareLibrary(dataDir, which.includes('edge') ? [...BENCH_FILES, ...coldFiles()] : BENCH_FILES);
      if (which.includes('origin')) await runOriginBench({ lib, workDir: work, durationSec, rounds, workers });
      if (which.includes('edge')) await runEdgeBench({ lib, workDir: work, durationSec, rounds, profileDir, reference: process.env.BENCH_EDGE_REFERENCE === '1' });
    }
    if (which.includes('dns')) await runDnsBench({ workDir: work, durationSec, rounds });
    console.log(`\nbench done in ${((Date.now() - t0) / 60_000).toFixed(1)} min`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
