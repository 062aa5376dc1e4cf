// Runs wrk (one thread, keep-alive connections) with bench/lib/wrk-report.lua and parses its result line.
import { execFile } from 'node:child_process';
import path from 'node:path';

export type WrkResult = {
  requests: number;
  bytes: number;
  seconds: number;
  rps: number;
  mbps: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
};

export type WrkOptions = {
  url: string;
  durationSec: number;
  connections?: number;
  threads?: number;
  range?: string;
  ifNoneMatch?: string;
};

const SCRIPT = path.join(import.meta.dirname, 'wrk-report.lua');

export function runWrk(o: WrkOptions): Promise<WrkResult> {
  const args = [`-t${o.threads ?? 1}`, `-c${o.connections ?? 50}`, `-d${o.durationSec}s`, '--latency', '-s', SCRIPT, o.url];
  const env = { ...process.env, BENCH_RANGE: o.range ?? '', BENCH_INM: o.ifNoneMatch ?? '' };
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { env, maxBuffer: 1 << 20, timeout: (o.durationSec + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stderr}`));
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (!line) return reject(new Error(`wrk printed no result line:\n${stdout}\n${stderr}`));
      const r = JSON.parse(line.slice('BENCH_RESULT '.length));
      const seconds = r.duration_us / 1e6;
      resolve({
        requests: r.requests,
        bytes: r.bytes,
        seconds,
        rps: r.requests / seconds,
        mbps: r.bytes / seconds / 1e6,
        errors: r.connect_errors + r.read_errors + r.write_errors + r.status_errors + r.timeouts,
        p50Ms: r.p50_us / 1000,
        p99Ms: r.p99_us / 1000,
      });
    });
  });
}
