// npm run bench: the origin against nginx static and sirv on the same files (BENCH.md method):
// wrk -t1 -c50, every server running at once, rounds interleaved test by test and server by server,
// medians of the rounds, bodies byte-compared with curl first, peak RSS per server.
// Writes bench/results/origin.md. BENCH_DURATION (s), BENCH_ROUNDS and BENCH_WORKERS ("1,2") shorten or change it.
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../src/db/connect.ts';
import { createLocalStorage } from '../src/storage/local-store.ts';
import { createLibrary } from '../src/media/library.ts';
import { ingest } from '../src/media/ingest.ts';
import { wavOfSize } from '../test/helpers/origin.ts';
import { runWrk, type WrkResult } from './lib/wrk.ts';
import { peakRss, startProcess } from './lib/proc.ts';
import { startNginxStatic } from './lib/nginx.ts';
import { expectBody, curl } from './lib/check.ts';
import { fmtInt, fmtMiB, markdownTable, median } from './lib/report.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WORKERS = (process.env.BENCH_WORKERS ?? '1,2').split(',').map(Number);
const ROOT = path.join(import.meta.dirname, '..');

export type Server = { name: string; url: string; pid: number; stop(): Promise<void> };
type FileSpec = { key: string; bytes: number };
type BenchTest = { name: string; file: string; range?: [number, number]; revalidate?: boolean };

const FILES: FileSpec[] = [
  { key: '4k', bytes: 4 * KiB },
  { key: '64k', bytes: 64 * KiB },
  { key: '1m', bytes: 1 * MiB },
  { key: '32m', bytes: 32 * MiB },
];
const TESTS: BenchTest[] = [
  { name: 'GET 4 KiB', file: '4k' },
  { name: 'GET 64 KiB', file: '64k' },
  { name: 'GET 1 MiB', file: '1m' },
  { name: '64 KiB range of 32 MiB', file: '32m', range: [16 * MiB, 16 * MiB + 64 * KiB - 1] },
  { name: 'If-None-Match → 304', file: '4k', revalidate: true },
];

async function prepareLibrary(dataDir: string): Promise<{ names: Map<string, string>; bytes: Map<string, Buffer>; mediaDir: string }> {
  const mediaDir = path.join(dataDir, 'media');
  const db = await openDatabase({ kind: 'sqlite', path: path.join(dataDir, 'mediacdn.db') });
  const lib = createLibrary({ db, storage: createLocalStorage(mediaDir), mediaUrl: '/media/' });
  const names = new Map<string, string>();
  const bytes = new Map<string, Buffer>();
  for (const f of FILES) {
    const data = wavOfSize(f.bytes);
    for (let i = 44; i < data.length; i += 997) data[i] = i & 0xff;
    const item = await ingest(lib, { source: Readable.from([data]), declaredType: 'audio/wav' });
    names.set(f.key, item.fileName);
    bytes.set(f.key, data);
  }
  await db.close();
  return { names, bytes, mediaDir };
}

async function startOriginProcess(dataDir: string, workers: number): Promise<Server> {
  const p = await startProcess({
    cmd: process.execPath,
    args: [path.join(ROOT, 'src/cli/main.ts'), 'origin', '--port', '0', '--workers', String(workers)],
    env: { ...process.env, MEDIACDN_DATA: dataDir, MEDIACDN_TOKEN: 'bench-token-0123456789abcdef', LOG_LEVEL: 'warn', DATABASE_URL: '' },
    ready: /origin listening on (http:\/\/\S+)/,
  });
  return { name: `origin ×${workers}`, url: p.match[1], pid: p.pid, stop: p.stop };
}

async function startSirv(root: string): Promise<Server> {
  const p = await startProcess({ cmd: process.execPath, args: [path.join(ROOT, 'bench/servers/sirv-server.ts'), root], ready: /sirv listening on (http:\/\/\S+)/ });
  return { name: 'sirv', url: p.match[1], pid: p.pid, stop: p.stop };
}

function versions(): string {
  // nginx -v prints to stderr, wrk -v exits 1: take whatever either stream says.
  const v = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  };
  return `Node ${process.version}, ${v('nginx', ['-v']).replace('nginx version: ', '')}, ${v('wrk', ['-v']).split('\n')[0].split(' [')[0]}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`;
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-bench-'));
  const servers: Server[] = [];
  try {
    const dataDir = path.join(work, 'data');
    await mkdir(dataDir);
    const { names, bytes, mediaDir } = await prepareLibrary(dataDir);
    const nginx = await startNginxStatic(path.join(work, 'nginx'), mediaDir);
    servers.push({ name: 'nginx', url: nginx.url, pid: nginx.pid, stop: nginx.stop });
    servers.push(await startSirv(mediaDir));
    for (const w of WORKERS) servers.push(await startOriginProcess(dataDir, w));

    // Each server's own ETag for the revalidation row, and a byte-for-byte check of every answer.
    const etags = new Map<string, string>();
    for (const s of servers) {
      for (const t of TESTS) {
        const url = `${s.url}/media/${names.get(t.file)}`;
        const data = bytes.get(t.file) as Buffer;
        if (t.revalidate) {
          const full = await curl(url);
          const etag = full.headers['etag'];
          if (!etag) throw new Error(`${s.name} sends no ETag`);
          etags.set(s.name, etag);
          await expectBody(`${s.name} ${t.name}`, url, { 'if-none-match': etag }, 304, Buffer.alloc(0));
        } else if (t.range) {
          await expectBody(`${s.name} ${t.name}`, url, { range: `bytes=${t.range[0]}-${t.range[1]}` }, 206, data.subarray(t.range[0], t.range[1] + 1));
        } else {
          await expectBody(`${s.name} ${t.name}`, url, {}, 200, data);
        }
      }
    }
    console.log(`checked: every server answers every test with the expected status and bytes`);
    console.log(`${versions()}\nwrk -t1 -c50 -d${DURATION}s, ${ROUNDS} round(s), servers: ${servers.map((s) => s.name).join(', ')}\n`);

    const results = new Map<string, WrkResult[]>();
    const key = (t: BenchTest, s: Server) => `${t.name}\u0000${s.name}`;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of TESTS) {
        for (const s of servers) {
          const r = await runWrk({
            url: `${s.url}/media/${names.get(t.file)}`,
            durationSec: DURATION,
            range: t.range ? `bytes=${t.range[0]}-${t.range[1]}` : undefined,
            ifNoneMatch: t.revalidate ? etags.get(s.name) : undefined,
          });
          if (r.errors > 0) console.warn(`  ${s.name} ${t.name}: ${r.errors} errors`);
          const list = results.get(key(t, s)) ?? [];
          list.push(r);
          results.set(key(t, s), list);
          console.log(`round ${round}  ${t.name.padEnd(24)} ${s.name.padEnd(10)} ${fmtInt(r.rps).padStart(8)} req/s ${r.mbps.toFixed(0).padStart(6)} MB/s`);
        }
      }
    }

    const rows = TESTS.map((t) => {
      const nginxRps = median((results.get(key(t, servers[0])) ?? []).map((r) => r.rps));
      return [
        t.name,
        ...servers.map((s) => {
          const rs = results.get(key(t, s)) ?? [];
          const rps = median(rs.map((r) => r.rps));
          const mbps = median(rs.map((r) => r.mbps));
          return `${fmtInt(rps)} req/s, ${mbps.toFixed(0)} MB/s${s === servers[0] ? '' : ` (${(rps / nginxRps).toFixed(2)}×)`}`;
        }),
      ];
    });
    rows.push(['peak RSS (VmHWM, all processes)', ...servers.map((s) => fmtMiB(peakRss(s.pid)))]);
    const table = markdownTable(['test', ...servers.map((s) => s.name)], rows);
    const doc = `# Origin bench

${new Date().toISOString().slice(0, 10)} · ${versions()}

\`wrk -t1 -c50 -d${DURATION}s\` on 127.0.0.1, every server running at once, ${ROUNDS} interleaved round(s), medians.
Ratios are to nginx static (one worker, sendfile on, tcp_nopush off, open_file_cache). \`origin ×N\` is
\`mediacdn origin --workers N\`; sirv ${JSON.parse(await readFile(path.join(ROOT, 'node_modules/sirv/package.json'), 'utf8')).version} runs in one process. Bodies were byte-compared with curl first.

${table}
`;
    console.log(`\n${table}`);
    await mkdir(path.join(ROOT, 'bench/results'), { recursive: true });
    await writeFile(path.join(ROOT, 'bench/results/origin.md'), doc);
    console.log('\nwritten to bench/results/origin.md');
  } finally {
    for (const s of servers) await s.stop().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}

await main();
