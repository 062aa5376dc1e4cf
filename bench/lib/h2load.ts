// Runs h2load (nghttp2's HTTP/2 load generator, one thread) pinned to the client core for a fixed time,
// and parses its summary. h2load reports no latency percentiles: its mean and max per request are kept
// instead (p50 / p99 are NaN).
import { CLIENT_CORE, runPinned } from './cpu.ts';
import type { LoadResult } from './wrk.ts';

/** A load result with h2load's mean and max time per request (ms), and what TLS it negotiated. */
export type H2loadResult = Omit<LoadResult, 'clientCpuSec'> & { meanMs: number; maxMs: number; negotiated?: string };

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1000 };

/** "250us", "70.36ms", "2.01s" → milliseconds. */
function durationMs(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s)$/.exec(text);
  if (!m) throw new Error(`h2load: ${what} is not a duration: ${JSON.stringify(text)}`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

function lineOf(stdout: string, prefix: string): string {
  const line = stdout.split('\n').find((l) => l.startsWith(prefix));
  if (line === undefined) throw new Error(`h2load printed no "${prefix}" line:\n${stdout.slice(-2000)}`);
  return line;
}

/** The named counts of a line such as "requests: 40 total, 40 started, 40 done, …". */
function counts(line: string, names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) {
    const m = new RegExp(`(?:^|[:,]) *(\\d+) ${name}(?:,|$)`).exec(line);
    if (!m) throw new Error(`h2load: no "${name}" count in ${JSON.stringify(line)}`);
    out[name] = Number(m[1]);
  }
  return out;
}

/**
 * Parses h2load's summary: the run's time ("finished in"), requests done and failed ("requests:"; a
 * failed request is one with a 4xx or 5xx status or a broken stream or connection: "errored" and
 * "timeout" are subsets of "failed", h2load's manual says), bytes
 * received including headers and framing ("traffic:", the exact figure in parentheses), and the mean
 * and max "time for request"; and what the connection negotiated (TLS version, cipher, key exchange,
 * ALPN) when h2load printed all four. Throws on anything else.
 */
export function parseH2loadOutput(stdout: string): H2loadResult {
  const finished = /^finished in (\S+?), /.exec(lineOf(stdout, 'finished in '));
  if (!finished) throw new Error(`h2load: unreadable "finished in" line`);
  const seconds = durationMs(finished[1], 'the run time') / 1000;
  if (!(seconds > 0)) throw new Error(`h2load: the run took ${seconds} s`);
  const req = counts(lineOf(stdout, 'requests: '), ['total', 'started', 'done', 'succeeded', 'failed', 'errored', 'timeout']);
  const traffic = /^traffic: \S+ \((\d+)\) total,/.exec(lineOf(stdout, 'traffic: '));
  if (!traffic) throw new Error(`h2load: unreadable "traffic" line`);
  const times = lineOf(stdout, 'time for request:').slice('time for request:'.length).trim().split(/\s+/);
  if (times.length !== 5) throw new Error(`h2load: unreadable "time for request" line`);
  const bytes = Number(traffic[1]);
  const requests = req.done;
  // "TLS Protocol: TLSv1.3", "Cipher: …", "Server Temp Key: X25519 253 bits", "Application protocol: h2".
  const said = (name: string) => stdout.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2).trim();
  const tls = ['TLS Protocol', 'Cipher', 'Server Temp Key', 'Application protocol'].map(said);
  return {
    requests,
    bytes,
    seconds,
    rps: requests / seconds,
    mbps: bytes / seconds / 1e6,
    errors: req.failed,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    meanMs: durationMs(times[2], 'the mean time for request'),
    maxMs: durationMs(times[1], 'the max time for request'),
    ...(tls.every((x) => x !== undefined && x !== '') ? { negotiated: tls.join(', ') } : {}),
  };
}

export type H2loadOptions = {
  url: string;
  durationSec: number;
  /** Connections (h2load -c) and concurrent streams on each (-m). */
  connections: number;
  streams: number;
  headers?: Record<string, string>;
};

export async function runH2load(o: H2loadOptions): Promise<LoadResult> {
  const headers = Object.entries(o.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const args = ['-t1', `-c${o.connections}`, `-m${o.streams}`, '-D', String(o.durationSec), ...headers, o.url];
  const r = await runPinned({ cmd: 'h2load', args, core: CLIENT_CORE, timeoutMs: (o.durationSec + 30) * 1000 });
  return { ...parseH2loadOutput(r.stdout), clientCpuSec: r.cpuSec };
}
