// Edge section of `npm run bench`: cache hits of our edge against nginx proxy_cache (at its bench
// defaults and tuned two ways, one worker, proxy_cache_lock on), Varnish (-s malloc) and a bare
// node:http server answering from memory (the ceiling), all in front of the same origin (ours, behind
// a counting proxy), every server pinned to the server core and the load generator to the other; then
// a cold start of many clients through nginx, Varnish and our edge, counting the requests that reach
// the origin per object. Writes bench/results/edge.md. BENCH_PROFILE=<dir> runs our edge with
// --cpu-prof into <dir>.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isProcessSample, type ProcessSample } from '../src/edge/stats/process.ts';
import { checkTest } from './lib/check.ts';
import { ALL_CORES, CLIENT_CORE } from './lib/cpu.ts';
import { runColdStart, type ColdOrder, type ColdStartResult } from './lib/cold-start.ts';
import { COMPARISON_LEGEND, comparisonTable, FIGURES_LEGEND, figuresTable, heading, heldSection, machineParagraph, methodParagraph, sideBySide, type Baseline } from './lib/http-report.ts';
import { BENCH_TOKEN, BIN, KiB, loadFor, MiB, ROOT, startCeiling, startOriginProcess, startPinned, versions, type FileSpec, type Server } from './lib/library.ts';
import { NGINX_TUNINGS, startNginxProxyCache, type NginxTuning } from './lib/nginx.ts';
import { peakRss, residentNow, startProcess, type Resident } from './lib/proc.ts';
import { fmtInt, fmtMiB, markdownTable } from './lib/report.ts';
import { runInterleaved } from './lib/rounds.ts';
import { startVarnish } from './lib/varnish.ts';
import { nginxVariantsText, type HttpSectionOptions } from './origin.ts';

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

/** Our edge with one worker on the server core, or with `workers` workers on every core. */
function startOurEdge(dataDir: string, upstream: string, profileDir: string | undefined, workers = 1): Promise<Server> {
  const prof = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  return startPinned(workers === 1 ? 'our edge' : `our edge, ${workers} workers`, {
    cores: workers === 1 ? undefined : ALL_CORES,
    cmd: process.execPath,
    args: [...prof, BIN, 'edge', '--workers', String(workers), '--host', '127.0.0.1', '--port', '0', '--zone', `127.0.0.1=${upstream}`],
    env: { ...process.env, MEDIACDN_DATA: dataDir, MEDIACDN_TOKEN: BENCH_TOKEN, LOG_LEVEL: 'warn', DATABASE_URL: '' },
    ready: /edge listening on (http:\/\/\S+)/,
  });
}

async function proxyCounts(proxy: string): Promise<Map<string, number>> {
  const r = await fetch(`${proxy}/_bench/counts`);
  return new Map(Object.entries((await r.json()) as Record<string, number>));
}

type ProxyFailure = { path: string; error: string; reusedSocket: boolean };

async function proxyFailures(proxy: string): Promise<ProxyFailure[]> {
  const r = await fetch(`${proxy}/_bench/failures`);
  return (await r.json()) as ProxyFailure[];
}

/** Our edge's own totals of origin answers and retries (every zone), from /_mediacdn/stats. */
async function originFigures(url: string): Promise<{ originResponses: number; originRetries: number }> {
  const { zones } = (await edgeStats(url)) as { zones: Record<string, { totals: { originResponses: number; originRetries: number } }> };
  const out = { originResponses: 0, originRetries: 0 };
  for (const z of Object.values(zones)) {
    out.originResponses += z.totals.originResponses;
    out.originRetries += z.totals.originRetries;
  }
  return out;
}

/** Our edge's /_mediacdn/stats document. */
async function edgeStats(url: string): Promise<unknown> {
  const r = await fetch(`${url}/_mediacdn/stats`, { headers: { authorization: `Bearer ${BENCH_TOKEN}` } });
  if (r.status !== 200) throw new Error(`our edge: /_mediacdn/stats answered ${r.status}`);
  return r.json();
}

async function proxyPost(proxy: string, what: string): Promise<void> {
  const r = await fetch(`${proxy}/_bench/${what}`, { method: 'POST' });
  if (r.status !== 204) throw new Error(`counting proxy: ${what} answered ${r.status}`);
}

function describeCounts(counts: number[]): { perObject: string; off: number; total: number } {
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  return { perObject: min === max ? String(min) : `${min}–${max}`, off: counts.filter((c) => c !== 1).length, total: counts.reduce((a, b) => a + b, 0) };
}

export async function runEdgeBench(o: HttpSectionOptions & { profileDir?: string }): Promise<void> {
  const { lib, tests } = o;
  const started: Server[] = [];
  try {
    const origin = await startOriginProcess(lib.dataDir);
    started.push(origin);
    const pp = await startProcess({ cmd: process.execPath, args: [path.join(ROOT, 'bench/servers/counting-proxy.ts'), origin.url], ready: /counting proxy listening on (http:\/\/\S+)/ });
    const proxy = pp.match[1];
    started.push({ name: 'counting proxy', url: proxy, pid: pp.pid, stop: pp.stop });
    if (o.profileDir) await mkdir(o.profileDir, { recursive: true });
    const nginx: Edge[] = [];
    for (const tuning of Object.keys(NGINX_TUNINGS) as NginxTuning[]) {
      const prefix = `/nginx-${tuning}`;
      const n = await startNginxProxyCache(path.join(o.workDir, `nginx-proxy-cache-${tuning}`), `${proxy}${prefix}`, tuning);
      nginx.push({ name: `nginx proxy_cache (${tuning})`, url: n.url, pid: n.pid, stop: n.stop, prefix });
    }
    started.push(...nginx);
    const v = await startVarnish(path.join(o.workDir, 'varnish'), `${proxy}/varnish`);
    const varnish: Edge = { name: 'Varnish', url: v.url, pid: v.pid, stop: v.stop, prefix: '/varnish' };
    started.push(varnish);
    const ceiling = await startCeiling(lib.mediaDir);
    started.push(ceiling);
    // After its first start an edge starts from Node's compile cache (bin/mediacdn.js), without the type
    // stripper: start one first, so that the edge measured starts as a user's does every later time.
    await (await startOurEdge(path.join(o.workDir, 'edge-data-first'), `${proxy}/ours`, undefined)).stop();
    const ours: Edge = { ...(await startOurEdge(path.join(o.workDir, 'edge-data'), `${proxy}/ours`, o.profileDir)), prefix: '/ours' };
    started.push(ours);
    const oursAtStart = { resident: residentNow(ours.pid), sample: await processSample(ours.url) };
    const edges: Server[] = [...nginx, varnish, ceiling, ours];
    // Every core: our edge with a worker per core, and nginx (tuned: sendfile off, 1 MiB buffers) with
    // as many worker processes, both on every core.
    const cores = ALL_CORES.split('-').map(Number);
    const coreCount = cores[cores.length - 1] - cores[0] + 1;
    const n2 = await startNginxProxyCache(path.join(o.workDir, 'nginx-proxy-cache-many'), `${proxy}/nginx-many`, 'buffers', undefined, { workers: coreCount, cores: ALL_CORES });
    const nginxMany: Edge = { name: `nginx proxy_cache (buffers), ${coreCount} workers`, url: n2.url, pid: n2.pid, stop: n2.stop, prefix: '/nginx-many' };
    started.push(nginxMany);
    const oursMany: Edge = { ...(await startOurEdge(path.join(o.workDir, 'edge-data-many'), `${proxy}/ours-many`, undefined, coreCount)), prefix: '/ours-many' };
    started.push(oursMany);
    const everyCore: Server[] = [ours, oursMany, nginxMany];

    // Warm every cache with the very requests that will be timed, and check each answer byte for byte.
    const etags = new Map<Server, string>();
    for (const e of [...edges, oursMany, nginxMany]) {
      for (const t of tests) {
        const etag = await checkTest(e, t, lib, { hit: e !== ceiling });
        if (etag) etags.set(e, etag);
      }
    }
    const oursWarm = { resident: residentNow(ours.pid), sample: await processSample(ours.url) };
    const warmCounts = await proxyCounts(proxy);
    await proxyPost(proxy, 'reset');
    console.log(`edge: every cache answers every test from cache (X-Cache: HIT) with the expected status and bytes (and CORS fields on its 304)`);
    console.log(`  origin requests while warming: ${[...warmCounts].map(([p, n]) => `${p.replace(/\/media\/.*\./, '/media/….')} ×${n}`).join(', ')}`);
    console.log(`${versions()}\n${o.mode}, servers: ${edges.map((s) => s.name).join(', ')}\n`);

    const res = await runInterleaved({ tests, servers: edges, rounds: o.rounds, durationSec: o.durationSec, load: (t, s) => loadFor(t, lib, s.url, etags.get(s)) });
    const duringRounds = [...(await proxyCounts(proxy)).values()].reduce((a, b) => a + b, 0);
    const oursAfter = { resident: residentNow(ours.pid), sample: await processSample(ours.url) };
    const baselines: Baseline[] = [
      { label: 'nginx proxy_cache (default)', servers: [nginx[0]] },
      { label: 'nginx proxy_cache tuned (faster of buffers / aio)', servers: nginx.slice(1) },
      { label: 'Varnish', servers: [varnish] },
      { label: 'node:http ceiling', servers: [ceiling] },
    ];
    const hitComparison = comparisonTable(tests, ours, baselines, res);
    const hitFigures = figuresTable(tests, edges, res);
    console.log(`\n${hitComparison}\n\n${hitFigures}\n\norigin requests during the timed rounds: ${duringRounds}\n`);
    // Side by side with the baselines of the targets: tuned nginx (buffers), Varnish, the ceiling.
    const hitPaired = await sideBySide({
      tests,
      ours,
      baselines: [
        { label: 'nginx proxy_cache (buffers)', server: nginx[1] },
        { label: 'Varnish', server: varnish },
        { label: 'node:http ceiling', server: ceiling },
      ],
      rounds: o.rounds,
      durationSec: o.durationSec,
      load: (t, s) => loadFor(t, lib, s.url, etags.get(s)),
    });
    console.log(`\n${hitPaired}\n`);
    // Held to a share of a core: every cache the limit of its run, the rows the client bounds above too.
    const held = await heldSection(o, ours, [nginx[0], nginx[1], varnish, ceiling], (t, s) => loadFor(t, lib, s.url, etags.get(s)));

    // Every core: the same hits, our edge with 1 and with a worker per core, nginx with as many workers.
    const many = await runInterleaved({ tests, servers: everyCore, rounds: o.rounds, durationSec: o.durationSec, load: (t, s) => loadFor(t, lib, s.url, etags.get(s)) });
    const manyComparison = comparisonTable(tests, oursMany, [
      { label: `nginx proxy_cache (buffers), ${coreCount} workers`, servers: [nginxMany] },
      { label: 'our edge, 1 worker', servers: [ours] },
    ], many);
    const manyFigures = figuresTable(tests, everyCore, many);
    console.log(`\n${manyComparison}\n\n${manyFigures}\n`);

    // Cold start: a fresh path prefix per run makes every object uncached at every edge.
    const cold = coldFiles();
    const coldRows: string[][] = [];
    const coldNotes: string[] = [];
    const coldResults: { run: number; edge: Edge; r: ColdStartResult; counts: ReturnType<typeof describeCounts> }[] = [];
    for (const [i, run] of COLD_RUNS.entries()) {
      await proxyPost(proxy, `delay?ms=${run.originDelayMs}`);
      for (const e of [nginx[0], varnish, ours]) {
        const prefix = `/cold${i + 1}`;
        const objects = cold.map((f) => ({ path: `${prefix}/media/${lib.names.get(f.key)}`, body: lib.bytes.get(f.key) as Buffer }));
        const label = `${run.order} order, origin +${run.originDelayMs} ms`;
        const before = e === ours ? await originFigures(ours.url) : undefined;
        const r = await runColdStart({ baseUrl: e.url, objects, clients: COLD_CLIENTS, order: run.order, seed: i + 1 });
        const counts = await proxyCounts(proxy);
        const perObject = describeCounts(objects.map((obj) => counts.get(`${e.prefix}${obj.path}`) ?? 0));
        coldResults.push({ run: i + 1, edge: e, r, counts: perObject });
        // Why an object was asked for more than once: a forward the proxy could not complete (a cache
        // asks again), and for our edge its own count of origin answers and retries in this run.
        const broken = (await proxyFailures(proxy)).filter((f) => f.path.startsWith(`${e.prefix}${prefix}/`));
        if (broken.length > 0) {
          const reused = broken.filter((f) => f.reusedSocket).length;
          coldNotes.push(`${label}, ${e.name}: the proxy failed ${broken.length} forward(s) (${[...new Set(broken.map((f) => f.error))].join(', ')}; ${reused} on a reused keep-alive connection to the origin)`);
        }
        if (before) {
          const after = await originFigures(ours.url);
          const answers = after.originResponses - before.originResponses;
          const retries = after.originRetries - before.originRetries;
          if (perObject.off > 0 || retries > 0) coldNotes.push(`${label}, our edge: its statistics count ${answers} origin answers and ${retries} retries in the run`);
        }
        const xc = Object.entries(r.xCache).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${fmtInt(n)}`).join(', ');
        console.log(
          `cold ${i + 1} (${label}) ${e.name.padEnd(18)} origin requests per object ${perObject.perObject} (total ${perObject.total}), ` +
            `${r.failures} failures${r.firstFailure ? ` (${r.firstFailure})` : ''}, ${r.wallMs.toFixed(0)} ms, p99 ${r.p99Ms.toFixed(0)} ms; X-Cache: ${xc}`,
        );
        coldRows.push([
          label,
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
    console.log(`\n${coldTable}\n${coldNotes.join('\n')}\n`);
    const rssAfterCold = [nginx[0], varnish, ours].map((e) => `${fmtMiB(peakRss(e.pid))} ${e.name}`).join(', ');

    const sizes = cold.map((f) => f.bytes);
    const machine = { ...o.machine, otherCores: [...res.otherCores(), ...(held.result?.otherCores() ?? [])] };
    const doc = `# Edge bench

${new Date().toISOString().slice(0, 10)} · ${versions()}

${machineParagraph(machine)}

Every cache sits in front of the same origin (\`mediacdn origin --workers 1\`, behind a small proxy that
counts the requests the origin gets, bench/servers/counting-proxy.ts). \`our edge\` is \`mediacdn edge
--workers 1\` with default cache sizes. ${nginxVariantsText('nginx proxy_cache')}; each one worker,
\`proxy_cache\` on disk, \`proxy_cache_lock on\`, keep-alive upstream, \`tcp_nopush off\`, no access log.
\`Varnish\` is \`varnishd -s malloc,1024m\` with default parameters. \`node:http ceiling\`
(bench/servers/memory-ceiling.ts) is no cache: a bare node:http server answering from memory with
prebuilt headers, what node:http itself allows.

${heading('Cache hits', machine)}

${methodParagraph(o.mode)}
Every cache was warmed with the timed requests; every answer was byte-compared and had \`X-Cache: HIT\`
before timing, and every 304 carries \`Access-Control-Allow-Origin\`. Origin requests during the timed
rounds: ${duringRounds}.

${COMPARISON_LEGEND}

${hitComparison}

${FIGURES_LEGEND}

${hitFigures}

${hitPaired}

${heading(`Cache hits held to ${(o.holdShare * 100).toFixed(0)} % of a core`, machine)}

${held.markdown}

${memoryParagraph(oursAtStart, oursWarm, oursAfter, new Map(tests.map((t) => [t.file, lib.bytes.get(t.file) as Buffer])), tests.flatMap((t) => res.runs(t, ours).map((r) => ({ test: t.name, peakRss: r.peakRss }))))}

${heading('Every core', machine)}

\`our edge, ${coreCount} workers\` is \`mediacdn edge --workers ${coreCount}\` (one disk tier, each worker's memory tier
\`memoryCacheBytes / ${coreCount}\`), \`nginx proxy_cache (buffers), ${coreCount} workers\` the tuned nginx above with
\`worker_processes ${coreCount}\`; both are pinned to every core (\`taskset -c ${ALL_CORES}\`), **which the load generator
(on core ${CLIENT_CORE}) shares**: these rows measure the machine, not a core, and the server's share of a
core can pass 100 %. \`our edge\` (1 worker, core 1 only) is the row of the table above, run again
beside them. A client-bound row is marked as above and its ratio is no win.

${manyComparison}

${manyFigures}

${heading('Cold start', machine)}

${COLD_CLIENTS} clients at once, each on its own keep-alive connection, each asking once for each of ${COLD_OBJECTS}
uncached objects (${fmtMiB(sizes.reduce((a, b) => a + b, 0))} in all, ${sizes.filter((s) => s === 4 * MiB).length} of 4 MiB, the others 16–128 KiB):
in the same order (${COLD_CLIENTS} concurrent misses per object) or each client in its own shuffled order.
"origin +N ms" holds every origin request back N ms (an origin farther away). Every body was
compared with the stored bytes. Origin requests per object must be exactly 1: ${ourColdOk ? 'our edge met it in every run' : '**our edge did not meet it** (below the table: the proxy\'s failed forwards and our edge\'s origin answers and retries in those runs)'}.
X-Cache counts differ in meaning: our edge says MISS to every request that joined a fill in progress
(it streams that fill), nginx and Varnish say HIT to the requests that waited (\`proxy_cache_lock\`,
Varnish's waiting list) and then read the finished entry. The clients run in the bench's own process,
unpinned, and the origin shares core 1 with the caches: wall times compare the caches of this run only.
Peak RSS from the last timed run through the cold start: ${rssAfterCold}.

${coldTable}
${coldNotes.length > 0 ? `\n${coldNotes.map((n) => `- ${n}`).join('\n')}\n` : ''}`;
    await mkdir(path.join(ROOT, 'bench/results'), { recursive: true });
    await writeFile(path.join(ROOT, 'bench/results/edge.md'), doc);
    console.log('written to bench/results/edge.md');
  } finally {
    for (const s of started.reverse()) await s.stop().catch(() => {});
  }
}

/** Our (single-process) edge's own account of its memory, from /_mediacdn/stats. */
async function processSample(url: string): Promise<ProcessSample> {
  const sample = ((await edgeStats(url)) as { processes?: unknown[] }).processes?.[0];
  if (!isProcessSample(sample)) throw new Error('our edge: /_mediacdn/stats gave no process sample');
  return sample;
}

type Memory = { resident: Resident; sample: ProcessSample };

/** One moment's memory split: file pages, V8 heap (used of committed), Buffers (the memory tier's part), and the rest. */
function memorySplit(m: Memory): string {
  const { resident: r, sample: s } = m;
  const rest = Math.max(0, r.anon - s.heapCommittedBytes - s.externalBytes);
  return `${fmtMiB(r.rss)} resident = ${fmtMiB(r.file)} file pages + ${fmtMiB(r.anon)} anonymous: V8 heap ${fmtMiB(s.heapUsedBytes)} used of ${fmtMiB(s.heapCommittedBytes)} committed, ` +
    `Buffers ${fmtMiB(s.externalBytes)} (memory tier ${fmtMiB(s.memoryTierBytes)} in ${s.memoryTierEntries} objects), ${fmtMiB(rest)} other`;
}

/**
 * What our edge's memory is made of: what it holds before any object (the runtime), what the warmed
 * objects add (the memory tier holds every bench object: each is at most memoryObjectMaxBytes), after
 * the timed rows, and the peak of the timed rows. The split comes from the edge's /_mediacdn/stats
 * (process.memoryUsage() and the tier's accounting) beside /proc's resident set.
 */
function memoryParagraph(start: Memory, warm: Memory, after: Memory, objects: ReadonlyMap<string, Buffer>, rows: readonly { test: string; peakRss: number }[]): string {
  const stored = [...objects.values()].reduce((a, b) => a + b.length, 0);
  const peak = rows.reduce((a, r) => (r.peakRss > a.peakRss ? r : a), rows[0]);
  const notCache = (m: Memory) => m.resident.rss - m.resident.file - m.sample.memoryTierBytes;
  return `Memory of \`our edge\` (one process at its defaults: memory tier budget 256 MiB, objects up to 32 MiB in it),
as /proc and the edge's own \`/_mediacdn/stats\` (\`processes\`) give it. File pages are the node binary and
libraries, shared with every other Node process; "other" is native memory outside V8's heap and the
Buffers (Node, OpenSSL, V8's code and metadata, malloc). It started from Node's compile cache, so
without the TypeScript stripper, which a first start loads.

- right after its start, before any object: ${memorySplit(start)};
- warmed with the bench objects (${fmtMiB(stored)} of bodies): ${memorySplit(warm)};
- after the timed rows: ${memorySplit(after)}.

What is not cache (resident less file pages less the memory tier): ${fmtMiB(notCache(start))} at the start, ${fmtMiB(notCache(warm))} warmed,
${fmtMiB(notCache(after))} after the rows. Peak of the timed rows: ${peak ? `${fmtMiB(peak.peakRss)} (${peak.test})` : 'not measured'};
above the figures here is what the connections and the garbage between collections take.`;
}
