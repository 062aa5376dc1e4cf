// Origin section of `npm run bench`: our origin (1 and 2 workers) against nginx static and sirv on the
// same files. Every body is byte-compared with curl first; writes bench/results/origin.md.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expectBody, curl } from './lib/check.ts';
import { RANGE_OF_32M, ROOT, startOriginProcess, versions, type BenchLibrary, type Server } from './lib/library.ts';
import { startNginxStatic } from './lib/nginx.ts';
import { peakRss, startProcess } from './lib/proc.ts';
import { fmtMiB, markdownTable } from './lib/report.ts';
import { rateCell, runInterleaved } from './lib/rounds.ts';

type OriginTest = { name: string; file: string; range?: [number, number]; revalidate?: boolean };

const TESTS: OriginTest[] = [
  { name: 'GET 4 KiB', file: '4k' },
  { name: 'GET 64 KiB', file: '64k' },
  { name: 'GET 1 MiB', file: '1m' },
  { name: '64 KiB range of 32 MiB', file: '32m', range: RANGE_OF_32M },
  { name: 'If-None-Match → 304', file: '4k', revalidate: true },
];

async function startSirv(root: string, rfc304 = false): Promise<Server> {
  const args = [path.join(ROOT, 'bench/servers/sirv-server.ts'), root, ...(rfc304 ? ['--rfc-304'] : [])];
  const p = await startProcess({ cmd: process.execPath, args, ready: /sirv listening on (http:\/\/\S+)/ });
  return { name: rfc304 ? 'sirv, RFC 304' : 'sirv', url: p.match[1], pid: p.pid, stop: p.stop };
}

export async function runOriginBench(o: { lib: BenchLibrary; workDir: string; durationSec: number; rounds: number; workers: number[] }): Promise<string> {
  const { lib } = o;
  const servers: Server[] = [];
  try {
    const nginx = await startNginxStatic(path.join(o.workDir, 'nginx-static'), lib.mediaDir);
    servers.push({ name: 'nginx', url: nginx.url, pid: nginx.pid, stop: nginx.stop });
    servers.push(await startSirv(lib.mediaDir));
    servers.push(await startSirv(lib.mediaDir, true));
    for (const w of o.workers) servers.push(await startOriginProcess(lib.dataDir, w));

    // Each server's own ETag for the revalidation row, and a byte-for-byte check of every answer.
    const etags = new Map<Server, string>();
    for (const s of servers) {
      for (const t of TESTS) {
        const url = `${s.url}/media/${lib.names.get(t.file)}`;
        const data = lib.bytes.get(t.file) as Buffer;
        if (t.revalidate) {
          const etag = (await curl(url)).headers['etag'];
          if (!etag) throw new Error(`${s.name} sends no ETag`);
          etags.set(s, etag);
          await expectBody(`${s.name} ${t.name}`, url, { 'if-none-match': etag }, 304, Buffer.alloc(0));
        } else if (t.range) {
          await expectBody(`${s.name} ${t.name}`, url, { range: `bytes=${t.range[0]}-${t.range[1]}` }, 206, data.subarray(t.range[0], t.range[1] + 1));
        } else {
          await expectBody(`${s.name} ${t.name}`, url, {}, 200, data);
        }
      }
    }
    console.log(`origin: every server answers every test with the expected status and bytes`);
    console.log(`${versions()}\nwrk -t1 -c50 -d${o.durationSec}s, ${o.rounds} round(s), servers: ${servers.map((s) => s.name).join(', ')}\n`);

    const res = await runInterleaved({
      tests: TESTS,
      servers,
      rounds: o.rounds,
      durationSec: o.durationSec,
      target: (t, s) => ({
        url: `${s.url}/media/${lib.names.get(t.file)}`,
        range: t.range ? `bytes=${t.range[0]}-${t.range[1]}` : undefined,
        ifNoneMatch: t.revalidate ? etags.get(s) : undefined,
      }),
    });
    const rows = TESTS.map((t) => {
      const base = res.medians(t, servers[0]).rps;
      return [t.name, ...servers.map((s) => rateCell(res.medians(t, s), s === servers[0] ? undefined : base))];
    });
    rows.push(['peak RSS (VmHWM, all processes)', ...servers.map((s) => fmtMiB(peakRss(s.pid)))]);
    const table = markdownTable(['test', ...servers.map((s) => s.name)], rows);
    const doc = `# Origin bench

${new Date().toISOString().slice(0, 10)} · ${versions()}

\`wrk -t1 -c50 -d${o.durationSec}s\` on 127.0.0.1, every server running at once, ${o.rounds} interleaved round(s), medians.
Ratios are to nginx static (one worker, sendfile on, tcp_nopush off, open_file_cache). \`origin ×N\` is
\`mediacdn origin --workers N\`; sirv runs in one process. Bodies were byte-compared with curl first.
Plain sirv answers a revalidation with a bare 304 (no ETag, Cache-Control or CORS headers), which RFC
9110 §15.4.5 does not allow; \`sirv, RFC 304\` is the same sirv adding what our origin sends on every
304 (ETag, Cache-Control, Last-Modified, CORS), so that row compares the same answer.

${table}
`;
    console.log(`\n${table}`);
    await mkdir(path.join(ROOT, 'bench/results'), { recursive: true });
    await writeFile(path.join(ROOT, 'bench/results/origin.md'), doc);
    console.log('\nwritten to bench/results/origin.md');
    return table;
  } finally {
    for (const s of servers) await s.stop().catch(() => {});
  }
}
