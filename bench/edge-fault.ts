// Fault run: an edge under steady load while its origin process is killed (SIGKILL) for
// BENCH_FAULT_SECONDS (default 30) and then started again on the same port. Reports, per phase,
// requests served, errors, stale answers and the hit rate, plus the edge's own counters.
//
//   npx node bench/edge-fault.ts            (BENCH_FAULT_SECONDS=5 for a short run)
//
// The load is an in-process bounded loop (CONCURRENCY clients with keep-alive) rather than wrk, so that
// every answer can be classified by its X-Cache header. Objects live 2 s at the edge (max-age=2), so
// during the outage every request finds a stale copy and must be answered by stale-if-error.
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { startEdge } from '../src/edge/server.ts';
import type { FiguresView } from '../src/edge/stats/figures.ts';
import { freePort, startProcess } from './lib/proc.ts';
import type { Started } from './lib/proc.ts';
import { fmtInt, markdownTable } from './lib/report.ts';

const ZONE = 'cdn.bench';
const OBJECTS = 200;
const SIZE = 16 * 1024;
const CONCURRENCY = 32;

if (process.argv[2] === '--origin') {
  // The origin child: 200 objects with ETags, answering If-None-Match with 304.
  const port = Number(process.argv[3]);
  const body = Buffer.alloc(SIZE, 7);
  createServer((req, res) => {
    const m = /^\/obj\/(\d+)$/.exec(req.url ?? '');
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const etag = `"o${m[1]}"`;
    const headers = { 'cache-control': 'max-age=2', etag, 'content-type': 'application/octet-stream' };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': String(SIZE) }).end(body);
  }).listen(port, '127.0.0.1', () => console.log(`origin ready on ${port}`));
} else {
  await main();
}

type Phase = { name: string; seconds: number; requests: number; ok: number; errors: number; stale: number; fromCache: number; stats?: FiguresView };

async function main(): Promise<void> {
  const faultSeconds = Number(process.env.BENCH_FAULT_SECONDS ?? 30);
  const calmSeconds = Math.max(5, Math.min(15, faultSeconds / 2));
  const port = await freePort();
  const startOrigin = (): Promise<Started> =>
    startProcess({ cmd: process.execPath, args: [import.meta.filename, '--origin', String(port)], ready: /origin ready/ });
  let origin = await startOrigin();
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-edge-fault-'));
  const edge = await startEdge({
    host: '127.0.0.1',
    port: 0,
    cacheDir,
    statsFile: false,
    connectTimeoutMs: 1_000,
    headersTimeoutMs: 5_000,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 100,
    zones: [{ host: ZONE, origin: `http://127.0.0.1:${port}` }],
  });
  const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 30_000 });
  const url = (i: number) => `${edge.url}/obj/${i}`;
  // Warm every object once.
  for (let i = 0; i < OBJECTS; i++) await (await request(url(i), { headers: { host: ZONE }, dispatcher: agent })).body.arrayBuffer();

  let current: Phase | undefined;
  let running = true;
  const client = async () => {
    while (running) {
      const phase = current!;
      phase.requests++;
      try {
        const r = await request(url(Math.floor(Math.random() * OBJECTS)), { headers: { host: ZONE }, dispatcher: agent });
        const b = await r.body.arrayBuffer();
        const x = String(r.headers['x-cache']);
        if (r.statusCode === 200 && b.byteLength === SIZE) phase.ok++;
        else phase.errors++;
        if (x === 'STALE') phase.stale++;
        if (x === 'HIT' || x === 'STALE' || x === 'REVALIDATED') phase.fromCache++;
      } catch {
        phase.errors++;
      }
    }
  };
  const snapshot = () => structuredClone(edge.stats.snapshot().zones[ZONE]?.totals);
  const phases: Phase[] = [];
  let clients: Promise<void>[] = [];
  const run = async (name: string, seconds: number, during?: () => Promise<void>) => {
    const before = snapshot();
    current = { name, seconds, requests: 0, ok: 0, errors: 0, stale: 0, fromCache: 0 };
    phases.push(current);
    if (clients.length === 0) clients = Array.from({ length: CONCURRENCY }, client);
    if (during) await during();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const after = snapshot();
    current.stats = diff(after, before);
  };
  await run('before', calmSeconds);
  await run(`origin down (${faultSeconds} s)`, faultSeconds, async () => {
    origin.child.kill('SIGKILL');
  });
  await run('after', calmSeconds, async () => {
    origin = await startOrigin();
  });
  running = false;
  await Promise.all(clients);

  const pct = (a: number, b: number) => (b === 0 ? '-' : `${((a / b) * 100).toFixed(1)}%`);
  console.log(`\nEdge fault run: ${OBJECTS} objects of ${SIZE / 1024} KiB, max-age=2, ${CONCURRENCY} clients, origin SIGKILLed for ${faultSeconds} s\n`);
  console.log(
    markdownTable(
      ['phase', 's', 'requests', 'req/s', '200 OK', 'errors', 'STALE', 'hit rate', 'origin responses', 'origin errors', 'retries', 'stale-if-error'],
      phases.map((p) => [
        p.name,
        String(p.seconds),
        fmtInt(p.requests),
        fmtInt(p.requests / p.seconds),
        fmtInt(p.ok),
        fmtInt(p.errors),
        fmtInt(p.stale),
        pct(p.fromCache, p.requests),
        fmtInt(p.stats?.originResponses ?? 0),
        fmtInt(p.stats?.originErrors ?? 0),
        fmtInt(p.stats?.originRetries ?? 0),
        fmtInt(p.stats?.staleIfErrorServed ?? 0),
      ]),
    ),
  );
  await agent.close();
  await edge.close();
  await origin.stop();
  await rm(cacheDir, { recursive: true, force: true });
}

function diff(a: FiguresView | undefined, b: FiguresView | undefined): FiguresView | undefined {
  if (!a) return undefined;
  if (!b) return a;
  return {
    ...a,
    originResponses: a.originResponses - b.originResponses,
    originErrors: a.originErrors - b.originErrors,
    originRetries: a.originRetries - b.originRetries,
    staleIfErrorServed: a.staleIfErrorServed - b.staleIfErrorServed,
  };
}
