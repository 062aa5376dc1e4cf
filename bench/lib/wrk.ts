// Runs wrk (one thread, keep-alive connections) pinned to the client core with bench/lib/wrk-report.lua,
// parses its result line, and says how much CPU wrk itself used (bench/lib/cpu.ts runPinned).
import path from 'node:path';
import { CLIENT_CORE, runPinned } from './cpu.ts';

/** What one load generator run measured: totals, rates, latency per request and its own CPU time. */
export type LoadResult = {
  requests: number;
  bytes: number;
  seconds: number;
  rps: number;
  mbps: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU-seconds the load generator used (user + system). */
  clientCpuSec: number;
  /** h2load gives no percentiles (p50Ms, p99Ms NaN) but mean and max per request. */
  meanMs?: number;
  maxMs?: number;
  /** h2load over TLS: the version, cipher, key exchange and ALPN protocol it negotiated. */
  negotiated?: string;
  /** Handshake rows: how many of the connections resumed a TLS session. */
  resumed?: number;
};

export type WrkOptions = {
  url: string;
  durationSec: number;
  connections?: number;
  range?: string;
  ifNoneMatch?: string;
  origin?: string;
};

const SCRIPT = path.join(import.meta.dirname, 'wrk-report.lua');

/** Parses the BENCH_RESULT line that wrk-report.lua prints from done(). */
export function parseWrkReport(stdout: string): Omit<LoadResult, 'clientCpuSec'> {
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (!line) throw new Error(`wrk printed no result line:\n${stdout}`);
  const r = JSON.parse(line.slice('BENCH_RESULT '.length));
  const seconds = r.duration_us / 1e6;
  return {
    requests: r.requests,
    bytes: r.bytes,
    seconds,
    rps: r.requests / seconds,
    mbps: r.bytes / seconds / 1e6,
    errors: r.connect_errors + r.read_errors + r.write_errors + r.status_errors + r.timeouts,
    p50Ms: r.p50_us / 1000,
    p99Ms: r.p99_us / 1000,
  };
}

export async function runWrk(o: WrkOptions): Promise<LoadResult> {
  const args = ['-t1', `-c${o.connections ?? 50}`, `-d${o.durationSec}s`, '--latency', '-s', SCRIPT, o.url];
  const env = { ...process.env, BENCH_RANGE: o.range ?? '', BENCH_INM: o.ifNoneMatch ?? '', BENCH_ORIGIN: o.origin ?? '' };
  const r = await runPinned({ cmd: 'wrk', args, core: CLIENT_CORE, env, timeoutMs: (o.durationSec + 30) * 1000 });
  return { ...parseWrkReport(r.stdout), clientCpuSec: r.cpuSec };
}
