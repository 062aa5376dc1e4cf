// Edge section of `npm run bench`: our edge's cache hits against nginx proxy_cache (warm, one worker,
// proxy_cache_lock on), both in front of the same origin (ours, behind a counting proxy), then a cold
// start of many clients through each edge, counting the requests that reach the origin per object.
// Writes bench/results/edge.md. BENCH_PROFILE=<dir> runs our edge with --cpu-prof into <dir>.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { curl } from './lib/check.ts';
import { runColdStart, type ColdOrder, type ColdStartResult } from './lib/cold-start.ts';
import { KiB, MiB, RANGE_OF_32M, ROOT, startOriginProcess, versions, type BenchLibrary, type FileSpec, type Server } from './lib/library.ts';
import { startNginxProxyCache } from './lib/nginx.ts';
import { peakRss, startProcess } from './lib/proc.ts';
import { fmtInt, fmtMiB, markdownTable } from './lib/report.ts';
import { rateCell, runInterleaved } from './lib/rounds.ts';

type EdgeTest = { name: string; file: string; range?: [number, number] };

const TESTS: EdgeTest[] = [
  { name: 'GET 4 KiB', file: '4k' },
  { name: 'GET 64 KiB', file: '64k' },
  { name: 'GET 1 MiB', file: '1m' },
  { name: '64 KiB range of 32 MiB', file: '32m', range: RANGE_OF_32M },
];

/** Target from BENCH.md: cache hits at 0.8× nginx proxy_cache or better on every row. */
const TARGET_RATIO = 0.8;

const COLD_OBJECTS = 50;
const COLD_CLIENTS = 100;
/** Cold runs: the order clients ask in, and how long the origin takes before it answers. */
const COLD_RUNS: { order: ColdOrder; originDelayMs: number }[] = [
  { order: 'same', originDelayMs: 0 },
  { order: 'shuffled', originDelayMs: 0 },
  { order: 'same', originDelayMs: 20 },
  { order: 'shuffled', originDelayMs: 20 },
];

/** The cold-start objects: mostly 16–128 KiB, every 16th one 4 MiB (a body that streams for a while). */
export function coldFiles(): FileSpec[] {
  return Array.from({ length: COLD_OBJECTS }, (_, i) => ({ key: `cold${i}`, bytes: i % 16 === 15 ? 4 * MiB : 16 * KiB * (1 + (i % 8)), seed: 1000 + i }));
}

type Edge = Server & { prefix: string };

async function startOurEdge(dataDir: string, upstream: string, profileDir: string | undefined): Promise<Server> {
  const prof = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const p = await startProcess({
    cmd: process.execPath,
    args: [...prof, path.join(ROOT, 'src/cli/main.ts'), 'edge', '--workers', '1', '--host', '127.0.0.1', '--port', '0', '--zone', `127.0.0.1=${upstream}`],
    env: { ...process.env, MEDIACDN_DATA: dataDir, MEDIACDN_TOKEN: 'bench-token-0123456789abcdef', LOG_LEVEL: 'warn', DATABASE_URL: '' },
    ready: /edge listening on (http:\/\/\S+)/,
  });
  return { name: 'edge', url: p.match[1], pid: p.pid, stop: p.stop };
}

async function proxyCounts(proxy: string): Promise<Map<string, number>> {
  const r = await fetch(`${proxy}/_bench/counts`);
  return new Map(Object.entries((await r.json()) as Record<string, number>));
}

async function proxyPost(proxy: string, what: string): Promise<void> {
  const r = await fetch(`${proxy}/_bench/${what}`, { method: 'POST' });
  if (r.status !== 204) throw new Error(`counting proxy: ${what} answered ${r.status}`);
}

/** GETs until the edge says HIT (a range miss may still be filling), then byte-compares that answer. */
async function expectHit(what: string, url: string, headers: Record<string, string>, status: number, body: Buffer): Promise<void> {
  let last = '';
  for (let attempt = 0; attempt < 100; attempt++) {
    const r = await curl(url, headers);
    if (r.status !== status) throw new Error(`${what}: status ${r.status}, expected ${status}`);
    if (!r.body.equals(body)) throw new Error(`${what}: body differs (${r.body.length} bytes, expected ${body.length})`);
    last = r.headers['x-cache'] ?? '(none)';
    if (last === 'HIT') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: still X-Cache ${last} after warming`);
}

function describeCounts(counts: number[]): { perObject: string; off: number; total: number } {
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  return { perObject: min === max ? String(min) : `${min}–${max}`, off: counts.filter((c) => c !== 1).length, total: counts.reduce((a, b) => a + b, 0) };
}

export async function runEdgeBench(o: { lib: BenchLibrary; workDir: string; durationSec: number; rounds: number; profileDir?: string; reference?: boolean }): Promise<string> {
  const { lib } = o;
  const started: Server[] = [];
  try {
    const origin = await startOriginProcess(lib.dataDir, 1);
    started.push(origin);
    const pp = await startProcess({ cmd: process.execPath, args: [path.join(ROOT, 'bench/servers/counting-proxy.ts'), origin.url], ready: /counting proxy listening on (http:\/\/\S+)/ });
    const proxy = pp.match[1];
    started.push({ name: 'counting proxy', url: proxy, pid: pp.pid, stop: pp.stop });
    if (o.profileDir) await mkdir(o.profileDir, { recursive: true });
    const nginx = await startNginxProxyCache(path.join(o.workDir, 'nginx-proxy-cache'), `${proxy}/nginx`);
    const ngx: Edge = { name: 'nginx proxy_cache', url: nginx.url, pid: nginx.pid, stop: nginx.stop, prefix: '/nginx' };
    started.push(ngx);
    const ours: Edge = { ...(await startOurEdge(path.join(o.workDir, 'edge-data'), `${proxy}/ours`, o.profileDir)), prefix: '/ours' };
    started.push(ours);
    const edges: Edge[] = [ngx, ours];
    if (o.reference) {
      const np = await startProcess({ cmd: process.execPath, args: [path.join(ROOT, 'bench/servers/naive-cache.ts'), `${proxy}/naive`], ready: /naive cache listening on (http:\/\/\S+)/ });
      const naive: Edge = { name: 'naive Node cache', url: np.match[1], pid: np.pid, stop: np.stop, prefix: '/naive' };
      started.push(naive);
      edges.push(naive);
    }

    // Warm both caches with the very requests that will be timed, and check each answer byte for byte.
    for (const e of edges) {
      for (const t of TESTS) {
        const url = `${e.url}/media/${lib.names.get(t.file)}`;
        const data = lib.bytes.get(t.file) as Buffer;
        const headers: Record<string, string> = t.range ? { range: `bytes=${t.range[0]}-${t.range[1]}` } : {};
        const body = t.range ? data.subarray(t.range[0], t.range[1] + 1) : data;
        await expectHit(`${e.name} ${t.name}`, url, headers, t.range ? 206 : 200, body);
      }
    }
    const warmCounts = await proxyCounts(proxy);
    await proxyPost(proxy, 'reset');
    console.log(`edge: both edges answer every test from cache (X-Cache: HIT) with the expected status and bytes`);
    console.log(`  origin requests while warming: ${[...warmCounts].map(([p, n]) => `${p.replace(/\/media\/.*\./, '/media/….')} ×${n}`).join(', ')}`);
    console.log(`${versions()}\nwrk -t1 -c50 -d${o.durationSec}s, ${o.rounds} round(s), servers: ${edges.map((s) => s.name).join(', ')}\n`);

    const res = await runInterleaved({
      tests: TESTS,
      servers: edges,
      rounds: o.rounds,
      durationSec: o.durationSec,
      target: (t, s) => ({ url: `${s.url}/media/${lib.names.get(t.file)}`, range: t.range ? `bytes=${t.range[0]}-${t.range[1]}` : undefined }),
    });
    const duringRounds = [...(await proxyCounts(proxy)).values()].reduce((a, b) => a + b, 0);
    const rssAfterHits = new Map(edges.map((e) => [e, peakRss(e.pid)]));

    const hitRows = TESTS.map((t) => {
      const base = res.medians(t, ngx).rps;
      const ratio = res.medians(t, ours).rps / base;
      return [t.name, ...edges.map((e) => rateCell(res.medians(t, e), e === ngx ? undefined : base)), ratio >= TARGET_RATIO ? 'yes' : '**no**'];
    });
    hitRows.push(['peak RSS (VmHWM, all processes)', ...edges.map((e) => fmtMiB(rssAfterHits.get(e)!)), '']);
    const hitTable = markdownTable(['test (cache hit)', ...edges.map((e) => (e === ours ? 'our edge' : e.name)), `edge ≥ ${TARGET_RATIO}×`], hitRows);
    console.log(`\n${hitTable}\n\norigin requests during the timed rounds: ${duringRounds}\n`);

    // Cold start: a fresh path prefix per run makes every object uncached at both edges.
    const cold = coldFiles();
    const coldRows: string[][] = [];
    const coldResults: { run: number; edge: Edge; r: ColdStartResult; counts: ReturnType<typeof describeCounts> }[] = [];
    for (const [i, run] of COLD_RUNS.entries()) {
      await proxyPost(proxy, `delay?ms=${run.originDelayMs}`);
      for (const e of [ngx, ours]) {
        const prefix = `/cold${i + 1}`;
        const objects = cold.map((f) => ({ path: `${prefix}/media/${lib.names.get(f.key)}`, body: lib.bytes.get(f.key) as Buffer }));
        const r = await runColdStart({ baseUrl: e.url, objects, clients: COLD_CLIENTS, order: run.order, seed: i + 1 });
        const counts = await proxyCounts(proxy);
        const perObject = describeCounts(objects.map((obj) => counts.get(`${e.prefix}${obj.path}`) ?? 0));
        coldResults.push({ run: i + 1, edge: e, r, counts: perObject });
        const xc = Object.entries(r.xCache).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${fmtInt(n)}`).join(', ');
        console.log(
          `cold ${i + 1} (${run.order} order, origin +${run.originDelayMs} ms) ${e.name.padEnd(18)} origin requests per object ${perObject.perObject} (total ${perObject.total}), ` +
            `${r.failures} failures${r.firstFailure ? ` (${r.firstFailure})` : ''}, ${r.wallMs.toFixed(0)} ms, p99 ${r.p99Ms.toFixed(0)} ms; X-Cache: ${xc}`,
        );
        coldRows.push([
          `${run.order} order, origin +${run.originDelayMs} ms`,
          e.name,
          `${perObject.perObject}${perObject.off > 0 ? ` (**${perObject.off} objects ≠ 1**)` : ''}`,
          String(perObject.total),
          `${r.failures}`,
          `${fmtInt(r.wallMs)} ms`,
          `${r.p50Ms.toFixed(1)} / ${r.p99Ms.toFixed(0)} ms`,
          xc,
        ]);
      }
    }
    const coldTable = markdownTable(['run', 'edge', 'origin requests per object', 'origin requests', 'failed answers', 'wall time', 'p50 / p99 latency', 'X-Cache'], coldRows);
    const ourColdOk = coldResults.filter((c) => c.edge === ours).every((c) => c.counts.off === 0 && c.r.failures === 0);
    console.log(`\n${coldTable}\n`);
    const rssAfterCold = `${fmtMiB(peakRss(ngx.pid))} nginx, ${fmtMiB(peakRss(ours.pid))} our edge`;

    const sizes = cold.map((f) => f.bytes);
    const doc = `# Edge bench

${new Date().toISOString().slice(0, 10)} · ${versions()}

Both edges sit in front of the same origin (\`mediacdn origin --workers 1\`, behind a small proxy that counts
the requests the origin gets, bench/servers/counting-proxy.ts). Our edge is \`mediacdn edge --workers 1\`
(default cache sizes) as its own process; nginx is one worker with \`proxy_cache\` on disk,
\`proxy_cache_lock on\`, keep-alive upstream, \`tcp_nopush off\`, \`access_log off\`.${
      o.reference
        ? `\n"naive Node cache" (bench/servers/naive-cache.ts) is a reference, not a contender: a Map of whole bodies
answered with node:http and no caching rules at all, showing how far node:http itself goes.`
        : ''
    }

## Cache hits

\`wrk -t1 -c50 -d${o.durationSec}s\` on 127.0.0.1, both edges running at once, ${o.rounds} interleaved round(s), medians;
ratios are to nginx \`proxy_cache\`. Both caches were warmed with the timed requests; every answer was
byte-compared and had \`X-Cache: HIT\` before timing. Origin requests during the timed rounds: ${duringRounds}.
Target: our edge at ${TARGET_RATIO}× nginx \`proxy_cache\` or better on every row.

${hitTable}

## Cold start

${COLD_CLIENTS} clients at once, each on its own keep-alive connection, each asking once for each of ${COLD_OBJECTS}
uncached objects (${fmtMiB(sizes.reduce((a, b) => a + b, 0))} in all, ${sizes.filter((s) => s === 4 * MiB).length} of 4 MiB, the others 16–128 KiB):
in the same order (${COLD_CLIENTS} concurrent misses per object) or each client in its own shuffled order.
"origin +N ms" holds every origin request back N ms (an origin farther away). Every body was
compared with the stored bytes. Origin requests per object must be exactly 1: ${ourColdOk ? 'our edge met it in every run' : '**our edge did not meet it**'}.
X-Cache counts differ in meaning: our edge says MISS to every request that joined a fill in progress
(it streams that fill), nginx says HIT to the requests that waited on \`proxy_cache_lock\` and then read
the finished entry. Peak RSS after the cold start: ${rssAfterCold}.

${coldTable}
`;
    await mkdir(path.join(ROOT, 'bench/results'), { recursive: true });
    await writeFile(path.join(ROOT, 'bench/results/edge.md'), doc);
    console.log('written to bench/results/edge.md');
    return `${hitTable}\n\n${coldTable}`;
  } finally {
    for (const s of started.reverse()) await s.stop().catch(() => {});
  }
}
