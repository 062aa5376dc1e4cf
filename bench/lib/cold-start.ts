// A cold start: many clients at once, each on its own keep-alive connection, each asking for every
// object once (all in the same order, or each in its own shuffled order). Every body is compared with
// the expected bytes; X-Cache answers are tallied.
import { Client } from 'undici';
import { median } from './report.ts';

export type ColdOrder = 'same' | 'shuffled';

export type ColdStartResult = {
  requests: number;
  wallMs: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers by X-Cache value ("(none)" when absent). */
  xCache: Record<string, number>;
  /** Requests that failed, answered another status, or whose body differed. */
  failures: number;
  firstFailure?: string;
};

/** Deterministic shuffles (mulberry32), so a run can be repeated. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(xs: T[], random: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export async function runColdStart(o: { baseUrl: string; objects: { path: string; body: Buffer }[]; clients: number; order: ColdOrder; seed?: number }): Promise<ColdStartResult> {
  const random = prng(o.seed ?? 1);
  const xCache: Record<string, number> = {};
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  const fail = (what: string) => {
    failures++;
    firstFailure ??= what;
  };
  const clients = Array.from({ length: o.clients }, () => new Client(o.baseUrl, { pipelining: 1, keepAliveTimeout: 30_000 }));
  const started = performance.now();
  try {
    await Promise.all(
      clients.map(async (client) => {
        const objects = o.order === 'same' ? o.objects : shuffled(o.objects, random);
        for (const obj of objects) {
          const t0 = performance.now();
          try {
            const res = await client.request({ method: 'GET', path: obj.path });
            const body = Buffer.from(await res.body.arrayBuffer());
            latencies.push(performance.now() - t0);
            const x = res.headers['x-cache'];
            const label = typeof x === 'string' && x !== '' ? x : '(none)';
            xCache[label] = (xCache[label] ?? 0) + 1;
            if (res.statusCode !== 200) fail(`${obj.path}: status ${res.statusCode}`);
            else if (!body.equals(obj.body)) fail(`${obj.path}: body differs (${body.length} bytes, expected ${obj.body.length})`);
          } catch (err) {
            fail(`${obj.path}: ${(err as Error).message}`);
          }
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    requests: o.clients * o.objects.length,
    wallMs: performance.now() - started,
    p50Ms: median(sorted),
    p99Ms: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0,
    xCache,
    failures,
    firstFailure,
  };
}
