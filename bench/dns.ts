// The DNS section of `npm run bench`: `mediacdn dns` against nsd (Debian's, serving the same names
// from a static zone), each pinned to one core (taskset), dnsperf on the other core. Answers per
// second and p99 latency (from dnsperf -v, one line per answer), medians of interleaved rounds, as a
// ratio to nsd. The machine is judged as in the other sections (load average at the start, other
// processes' CPU during the timed runs): numbers taken while it is busy are marked so.
// Writes bench/results/dns.md.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, peakRss, startProcess, type Started } from './lib/proc.ts';
import { BIN } from './lib/library.ts';
import { benchCpuSec, loadAverage1, machineBusySec } from './lib/cpu.ts';
import { machineParagraph } from './lib/http-report.ts';
import { fmtInt, fmtMiB, markdownTable, median } from './lib/report.ts';
import dnsPacket from 'dns-packet';
import { fleetSchema } from '../src/config/fleet-schema.ts';
import { createAuthority } from '../src/dns/authority.ts';
import { createRouter } from '../src/dns/routing.ts';
import { builtinLocator } from '../src/dns/geo.ts';

const run = promisify(execFile);
const ROOT = path.join(import.meta.dirname, '..');
const ZONE = 'cdn.bench.example';

/** Query mixes: name type per line (dnsperf's format) and an optional EDNS option. */
const MIXES = [
  { name: 'A at the apex', lines: [`${ZONE} A`] },
  { name: 'A with ECS /24 (geo)', lines: [`${ZONE} A`], ecs: '81.169.145.0/24' },
  { name: 'mix: A, AAAA, SOA, NXDOMAIN', lines: [`${ZONE} A`, `${ZONE} AAAA`, `${ZONE} SOA`, `nope.${ZONE} A`] },
] as const;

type Result = { qps: number; p99ms: number; lost: number };

/** ECS option for dnsperf -E: code 8, family 1, source prefix, scope 0, address bytes. */
function ecsOption(cidr: string): string {
  const [addr, bits] = cidr.split('/');
  const bytes = addr.split('.').map(Number).slice(0, Math.ceil(Number(bits) / 8));
  return `8:0001${Number(bits).toString(16).padStart(2, '0')}00${bytes.map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

async function dnsperf(port: number, file: string, seconds: number, ecs: string | undefined): Promise<Result> {
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(seconds), '-c', '8', '-q', '64', '-T', '1', '-v'];
  if (ecs) args.push('-E', ecsOption(ecs));
  const { stdout } = await run('taskset', ['-c', '0', 'dnsperf', ...args], { maxBuffer: 1024 * 1024 * 1024 });
  const latencies: number[] = [];
  for (const m of stdout.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)) latencies.push(Number(m[1]));
  latencies.sort((a, b) => a - b);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  return { qps, p99ms: (latencies[Math.floor(latencies.length * 0.99)] ?? 0) * 1000, lost };
}

async function waitForAnswer(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), ZONE, 'A', '+short', '+time=1', '+tries=1']).catch(() => ({ stdout: '' }));
    if (stdout.trim() !== '') return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no answer on port ${port}`);
}

async function setUp(work: string, controlUrl: string): Promise<{ servers: { name: string; port: number; proc: Started }[] }> {
  const ours = await freePort();
  const nsdPort = await freePort();
  await writeFile(
    path.join(work, 'mediacdn.config.json'),
    JSON.stringify({
      dataDir: path.join(work, 'data'),
      edge: { zones: [{ host: ZONE, origin: 'http://127.0.0.1:9' }] },
      // both edges healthy (a health endpoint in this process), so answers go through the geo path
      fleet: [
        { name: 'fra', addresses: ['192.0.2.10', '2001:db8::10'], location: { lat: 50.1, lon: 8.7 }, control: controlUrl },
        { name: 'nyc', addresses: ['198.51.100.10', '2001:db8:1::10'], location: { lat: 40.7, lon: -74.0 }, control: controlUrl },
      ],
      dns: { host: '127.0.0.1', default: ['fra'], rateLimit: { responsesPerSecond: 0 }, nameservers: [{ name: `ns1.${ZONE}`, addresses: ['192.0.2.53'] }] },
    }),
  );
  await writeFile(
    path.join(work, 'zone'),
    [
      `$ORIGIN ${ZONE}.`,
      `@ 3600 IN SOA ns1.${ZONE}. hostmaster.${ZONE}. 1 3600 600 604800 30`,
      `@ 3600 IN NS ns1.${ZONE}.`,
      `ns1 3600 IN A 192.0.2.53`,
      `@ 30 IN A 192.0.2.10`,
      `@ 30 IN AAAA 2001:db8::10`,
      '',
    ].join('\n'),
  );
  await writeFile(
    path.join(work, 'nsd.conf'),
    [
      'server:',
      `  ip-address: 127.0.0.1@${nsdPort}`,
      '  server-count: 1',
      '  username: ""',
      `  zonesdir: "${work}"`,
      `  database: ""`,
      `  zonelistfile: "${work}/zone.list"`,
      `  xfrdfile: "${work}/xfrd.state"`,
      `  pidfile: "${work}/nsd.pid"`,
      '  rrl-ratelimit: 0',
      '  verbosity: 1',
      'remote-control:',
      '  control-enable: no',
      'zone:',
      `  name: ${ZONE}`,
      '  zonefile: zone',
      '',
    ].join('\n'),
  );
  const node = path.join(ROOT, 'node_modules', '.bin', 'node');
  const mediacdn = await startProcess({ cmd: 'taskset', args: ['-c', '1', node, BIN, 'dns', '--port', String(ours)], cwd: work, ready: /dns listening on/, timeoutMs: 60_000 });
  const nsd = await startProcess({ cmd: 'taskset', args: ['-c', '1', 'nsd', '-d', '-c', path.join(work, 'nsd.conf')], cwd: work, ready: /nsd started/, timeoutMs: 30_000 });
  await waitForAnswer(ours);
  await waitForAnswer(nsdPort);
  return { servers: [{ name: 'nsd', port: nsdPort, proc: nsd }, { name: 'mediacdn dns', port: ours, proc: mediacdn }] };
}

/**
 * Time the authority takes per answer in process (no sockets): 1000 client /24 blocks with ECS, the
 * first pass locating each block (GeoIP + nearest edge), later passes from the per-block cache.
 */
function handlerMicros(): { firstUs: number; cachedUs: number } {
  const edges = fleetSchema.parse([
    { name: 'fra', addresses: ['192.0.2.10'], location: { lat: 50.1, lon: 8.7 }, control: 'http://127.0.0.1:9' },
    { name: 'nyc', addresses: ['198.51.100.10'], location: { lat: 40.7, lon: -74.0 }, control: 'http://127.0.0.1:9' },
  ]);
  const authority = createAuthority({
    zones: [ZONE], nameservers: [], soaEmail: undefined, ttl: 30, nsTtl: 3600, serial: 1, udpMaxPayload: 1232,
    router: createRouter({ edges, routes: [], defaultEdges: undefined, edgesPerAnswer: 1, locate: builtinLocator(), health: { isUp: () => true, generation: () => 0 } }),
  });
  const queries = Array.from({ length: 1000 }, (_, i) =>
    dnsPacket.encode({
      type: 'query',
      id: i,
      questions: [{ type: 'A', name: ZONE }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, options: [{ code: 'CLIENT_SUBNET', family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: `${20 + (i % 200)}.${(i * 7) % 250}.${i % 13}.0` }] } as unknown as dnsPacket.Answer],
    }),
  );
  const pass = () => {
    const t = performance.now();
    for (const q of queries) authority.answer(q, '127.0.0.1', 'udp');
    return ((performance.now() - t) * 1000) / queries.length;
  };
  const firstUs = pass();
  const cached: number[] = [];
  for (let i = 0; i < 50; i++) cached.push(pass());
  return { firstUs, cachedUs: median(cached) };
}

export async function runDnsBench(o: { workDir: string; durationSec: number; rounds: number; machine?: { cores: number; load1AtStart: number } }): Promise<void> {
  const work = path.join(o.workDir, 'dns');
  await mkdir(work, { recursive: true });
  // The machine before the whole bench started (in a full run the other sections have just loaded it).
  const machine = o.machine ?? { cores: os.cpus().length, load1AtStart: loadAverage1() };
  // Other processes' CPU (cores) during each timed run: the machine's busy time less this bench's own.
  const otherCores: number[] = [];
  const health = http.createServer((_req, res) => res.end('ok\n'));
  await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
  const { servers } = await setUp(work, `http://127.0.0.1:${(health.address() as AddressInfo).port}`);
  const results = new Map<string, Result[]>();
  try {
    for (const mix of MIXES) {
      const file = path.join(work, `queries-${MIXES.indexOf(mix)}.txt`);
      await writeFile(file, `${mix.lines.join('\n')}\n`);
      for (let round = 0; round < o.rounds; round++) {
        for (const s of round % 2 === 0 ? servers : [...servers].reverse()) {
          const [m0, b0, t0] = [machineBusySec(), benchCpuSec(), performance.now()];
          const r = await dnsperf(s.port, file, o.durationSec, 'ecs' in mix ? mix.ecs : undefined);
          otherCores.push(Math.max(0, machineBusySec() - m0 - (benchCpuSec() - b0)) / ((performance.now() - t0) / 1000));
          const key = `${mix.name}|${s.name}`;
          results.set(key, [...(results.get(key) ?? []), r]);
          console.log(`dns ${mix.name} · ${s.name}: ${fmtInt(r.qps)} answers/s, p99 ${r.p99ms.toFixed(2)} ms, lost ${r.lost}`);
        }
      }
    }
    const micros = handlerMicros();
    const rss = Object.fromEntries(servers.map((s) => [s.name, peakRss(s.proc.pid)]));
    const versions = await Promise.all([
      run('nsd', ['-v']).then((r) => `${r.stdout}${r.stderr}`.split('\n')[0].trim(), () => 'nsd'),
      run('dnsperf', ['-h']).then((r) => `${r.stdout}${r.stderr}`, (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`).then((t) => /Version ([\d.]+)/.exec(t)?.[1] ?? '?'),
    ]);
    const rows = MIXES.map((mix) => {
      const nsd = results.get(`${mix.name}|nsd`)!;
      const ours = results.get(`${mix.name}|mediacdn dns`)!;
      const nq = median(nsd.map((r) => r.qps));
      const oq = median(ours.map((r) => r.qps));
      return [
        mix.name,
        `${fmtInt(nq)}/s, p99 ${median(nsd.map((r) => r.p99ms)).toFixed(2)} ms`,
        `${fmtInt(oq)}/s, p99 ${median(ours.map((r) => r.p99ms)).toFixed(2)} ms`,
        `${(oq / nq).toFixed(2)}×`,
      ];
    });
    const text = [
      '# DNS bench',
      '',
      `${new Date().toISOString().slice(0, 10)} · Node ${process.version}, ${versions[0]}, dnsperf ${versions[1]}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}`,
      '',
      machineParagraph({ ...machine, otherCores }),
      '',
      `Each server pinned to core 1 (\`taskset -c 1\`), dnsperf on core 0: \`dnsperf -c 8 -q 64 -T 1 -l ${o.durationSec} -v\`, ${o.rounds} interleaved round(s), medians.`,
      'nsd serves the same names from a static zone (A, AAAA, SOA, NS; RRL off); `mediacdn dns` routes every',
      'A / AAAA query (two edges, default set, CIDR table empty, RRL off) from memory. p99 from dnsperf\'s per-answer latencies.',
      '',
      markdownTable(['queries', 'nsd', 'mediacdn dns', 'ratio'], rows),
      '',
      `Peak RSS: nsd ${fmtMiB(rss.nsd)}, mediacdn dns ${fmtMiB(rss['mediacdn dns'])} (geoip-lite's database is most of it).`,
      '',
      `In process, without sockets (bench/dns.ts handlerMicros): ${micros.firstUs.toFixed(1)} µs per answer for a client block seen the first time`,
      `(GeoIP lookup and nearest edge, then cached), ${micros.cachedUs.toFixed(2)} µs per answer from the per-block cache (median of 50 passes over 1000 blocks).`,
      '',
    ].join('\n');
    await writeFile(path.join(ROOT, 'bench', 'results', 'dns.md'), text);
    console.log(`\n${text}`);
  } finally {
    for (const s of servers) await s.proc.stop();
    health.close();
  }
}

// `node bench/dns.ts` runs this section alone.
if (import.meta.main) {
  const work = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-bench-dns-'));
  try {
    await runDnsBench({ workDir: work, durationSec: Number(process.env.BENCH_DURATION ?? 10), rounds: Number(process.env.BENCH_ROUNDS ?? 3) });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
