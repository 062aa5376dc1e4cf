// TLS section of `npm run bench`: cache hits over https with HTTP/1.1 (wrk) and HTTP/2 (h2load) from our
// edge's https listener and from nginx proxy_cache with `ssl http2` (at its bench defaults and with one
// 1 MiB output buffer), on one certificate made at bench time with openssl (a throw-away CA and a leaf
// for "localhost"; nothing is kept). Then what a handshake costs: a new connection per request with a
// full handshake, and with a resumed session, against the keep-alive row. Every server in front of the
// same origin (behind the counting proxy), pinned to the server core, load generators to the other.
// A bare node:http2 secure server answering from memory is the ceiling column. Writes
// bench/results/tls.md.
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeCa, makeLeaf } from '../test/helpers/tls.ts';
import { checkTest } from './lib/check.ts';
import { freePort } from './lib/proc.ts';
import { COMPARISON_LEGEND, comparisonTable, FIGURES_LEGEND, figuresTable, heading, machineParagraph, sideBySide, type Baseline } from './lib/http-report.ts';
import { BENCH_TOKEN, BIN, loadFor, PLAYER_ORIGIN, ROOT, startCeiling, startOriginProcess, startPinned, versions, type HttpTest, type Server } from './lib/library.ts';
import { NGINX_TUNINGS, startNginxProxyCache, type NginxTuning } from './lib/nginx.ts';
import { startProcess } from './lib/proc.ts';
import { fmtInt, markdownTable } from './lib/report.ts';
import { runInterleaved, type Load, type RowMeasured } from './lib/rounds.ts';
import type { HttpSectionOptions } from './origin.ts';

/** The name clients ask for (SNI and Host); it resolves to 127.0.0.1 without any set-up. */
const HOST = 'localhost';
/** h2load: connections and concurrent streams on each (100 requests in flight, as wrk's 50 connections are 50). */
const H2_CONNECTIONS = 10;
const H2_STREAMS = 10;
/** Handshake rows: concurrent loops, each one connection (and one handshake) per request. */
const HANDSHAKE_LOOPS = 50;
/** nginx variants over TLS: sendfile does not apply to TLS, so `buffers` is the one tuning that differs. */
const TLS_TUNINGS: NginxTuning[] = ['default', 'buffers'];

type Protocol = 'http/1.1' | 'h2';

/** A row: a cache hit over one protocol, or new connections per request with full or resumed handshakes. */
export type TlsRow = { name: string; test: HttpTest } & ({ kind: 'hit'; protocol: Protocol } | { kind: 'handshake'; mode: 'full' | 'resumed' });

const HIT_TESTS: HttpTest[] = [
  { name: 'GET 4 KiB', file: '4k' },
  { name: 'GET 64 KiB', file: '64k' },
  { name: 'GET 1 MiB', file: '1m' },
  { name: 'If-None-Match → 304, CORS', file: '4k', revalidate: true },
];

export function tlsRows(): TlsRow[] {
  const hits = (['http/1.1', 'h2'] as Protocol[]).flatMap((protocol) => HIT_TESTS.map((test): TlsRow => ({ name: `${protocol === 'h2' ? 'HTTP/2' : 'HTTP/1.1'} ${test.name}`, test, kind: 'hit', protocol })));
  const handshakes = (['full', 'resumed'] as const).map((mode): TlsRow => ({ name: `new connection per GET 4 KiB, ${mode} handshake`, test: HIT_TESTS[0], kind: 'handshake', mode }));
  return [...hits, ...handshakes];
}

function curlArgs(caFile: string, protocol: Protocol): string[] {
  return ['--cacert', caFile, protocol === 'h2' ? '--http2' : '--http1.1'];
}

function toolVersion(cmd: string, args: string[], pattern: RegExp): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return pattern.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[0] ?? `${cmd} ?`;
}

function startOurTlsEdge(workDir: string, upstream: string, cert: string, key: string): Promise<Server> {
  const configFile = path.join(workDir, 'edge-tls.json');
  const config = { edge: { zones: [{ host: HOST, origin: upstream, tls: { cert, key } }] } };
  return writeFile(configFile, JSON.stringify(config)).then(async () => {
    const s = await startPinned('our edge', {
      cmd: process.execPath,
      args: [BIN, '--config', configFile, 'edge', '--workers', '1', '--host', '127.0.0.1', '--port', '0', '--https-port', '0'],
      env: { ...process.env, MEDIACDN_DATA: path.join(workDir, 'edge-tls-data'), MEDIACDN_TOKEN: BENCH_TOKEN, LOG_LEVEL: 'warn', DATABASE_URL: '' },
      ready: /edge listening on http:\/\/\S+ and (https:\/\/\S+)/,
    });
    return { ...s, url: s.url.replace('127.0.0.1', HOST) };
  });
}

/** CPU milliseconds per request of a row (server CPU-seconds per 10k requests ÷ 10). */
const cpuMsPerRequest = (r: RowMeasured) => r.cpuPer10k / 10;

/** What a handshake costs each server: per new connection minus per keep-alive request, for full and resumed handshakes. */
function handshakeTable(servers: Server[], row: (name: string, s: Server) => RowMeasured | undefined, keepAlive: string, full: string, resumed: string): string {
  const rows: string[][] = [];
  for (const s of servers) {
    const ka = row(keepAlive, s);
    if (!ka) continue;
    rows.push([s.name, 'keep-alive (HTTP/1.1, wrk)', fmtInt(ka.rps), '–', `${(ka.serverShare * 100).toFixed(0)} %`, ka.clientBound ? '**client**' : `${(ka.clientShare * 100).toFixed(0)} %`, cpuMsPerRequest(ka).toFixed(3), '–']);
    for (const [label, name] of [['new connection, full handshake', full], ['new connection, resumed', resumed]] as const) {
      const r = row(name, s);
      if (!r) continue;
      rows.push([
        s.name,
        label,
        fmtInt(r.rps),
        `${fmtInt(r.resumed ?? 0)} of ${fmtInt(r.requests)}`,
        `${(r.serverShare * 100).toFixed(0)} %`,
        r.clientBound ? `**client** (${(r.clientShare * 100).toFixed(0)} %)` : `${(r.clientShare * 100).toFixed(0)} %`,
        cpuMsPerRequest(r).toFixed(3),
        (cpuMsPerRequest(r) - cpuMsPerRequest(ka)).toFixed(3),
      ]);
    }
  }
  return markdownTable(['server', 'connections', 'requests/s (= handshakes/s)', 'resumed', 'server CPU', 'client CPU', 'server CPU ms / request', 'server CPU ms / handshake'], rows);
}

export async function runTlsBench(o: Omit<HttpSectionOptions, 'tests'>): Promise<void> {
  const { lib } = o;
  const started: Server[] = [];
  try {
    const tlsDir = path.join(o.workDir, 'tls');
    await mkdir(tlsDir, { recursive: true });
    const ca = await makeCa('mediacdn bench CA', tlsDir);
    const leaf = await makeLeaf(ca, [HOST], path.join(tlsDir, HOST));
    const origin = await startOriginProcess(lib.dataDir);
    started.push(origin);
    const pp = await startProcess({ cmd: process.execPath, args: [path.join(ROOT, 'bench/servers/counting-proxy.ts'), origin.url], ready: /counting proxy listening on (http:\/\/\S+)/ });
    const proxy = pp.match[1];
    started.push({ name: 'counting proxy', url: proxy, pid: pp.pid, stop: pp.stop });
    const nginx: Server[] = [];
    for (const tuning of TLS_TUNINGS) {
      const port = await freePort();
      const n = await startNginxProxyCache(path.join(o.workDir, `nginx-tls-${tuning}`), `${proxy}/nginx-tls-${tuning}`, tuning, { port, cert: leaf.certFile, key: leaf.keyFile });
      nginx.push({ name: `nginx proxy_cache ssl http2 (${tuning})`, url: `https://${HOST}:${port}`, pid: n.pid, stop: n.stop });
    }
    started.push(...nginx);
    const c = await startCeiling(lib.mediaDir, { cert: leaf.certFile, key: leaf.keyFile });
    const ceiling: Server = { ...c, url: c.url.replace('127.0.0.1', HOST) };
    started.push(ceiling);
    const ours = await startOurTlsEdge(o.workDir, `${proxy}/ours-tls`, leaf.certFile, leaf.keyFile);
    started.push(ours);
    const servers = [...nginx, ceiling, ours];

    // Warm every cache over both protocols with the timed requests, byte for byte, each answer a HIT over the protocol asked for.
    const etags = new Map<Server, string>();
    for (const s of servers) {
      for (const protocol of ['http/1.1', 'h2'] as Protocol[]) {
        for (const t of HIT_TESTS) {
          const etag = await checkTest(s, t, lib, { hit: s !== ceiling, curlArgs: curlArgs(ca.certFile, protocol), httpVersion: protocol === 'h2' ? '2' : '1.1' });
          if (etag) etags.set(s, etag);
        }
      }
    }
    const tools = `${toolVersion('h2load', ['--version'], /nghttp2\/[\d.]+/)} (h2load), ${toolVersion('openssl', ['version'], /OpenSSL [\d.]+\w*/)}, Node's OpenSSL ${process.versions.openssl}`;
    console.log(`tls: every server answers every row from cache (X-Cache: HIT) over HTTP/1.1 and HTTP/2 with the expected status and bytes`);
    console.log(`${versions()}, ${tools}\n${o.mode}, servers: ${servers.map((s) => s.name).join(', ')}\n`);

    const rows = tlsRows();
    const load = (t: TlsRow, s: Server): Load => {
      const url = `${s.url}/media/${lib.names.get(t.test.file)}`;
      if (t.kind === 'handshake') return { kind: 'handshake', url, caFile: ca.certFile, loops: HANDSHAKE_LOOPS, mode: t.mode };
      if (t.protocol === 'http/1.1') return loadFor(t.test, lib, s.url, etags.get(s));
      const etag = etags.get(s);
      const headers = t.test.revalidate && etag ? { 'if-none-match': etag, origin: PLAYER_ORIGIN } : undefined;
      return { kind: 'h2load', url, connections: H2_CONNECTIONS, streams: H2_STREAMS, headers };
    };
    const res = await runInterleaved({ tests: rows, servers, rounds: o.rounds, durationSec: o.durationSec, load });
    const baselines: Baseline[] = [
      { label: 'nginx (default)', servers: [nginx[0]] },
      { label: 'nginx tuned (buffers)', servers: [nginx[1]] },
      { label: 'node:https ceiling', servers: [ceiling] },
    ];
    const comparison = comparisonTable(rows, ours, baselines, res);
    const figures = figuresTable(rows, servers, res);
    // Side by side (keep-alive rows; the handshake rows are client-bound): nginx at its defaults and the ceiling.
    const pairedHits = await sideBySide({
      tests: rows.filter((t) => t.kind !== 'handshake'),
      ours,
      baselines: [
        { label: 'nginx (default)', server: nginx[0] },
        { label: 'node:https ceiling', server: ceiling },
      ],
      rounds: o.rounds,
      durationSec: o.durationSec,
      load,
    });
    const byName = (name: string, s: Server) => {
      const r = rows.find((x) => x.name === name);
      return r ? res.row(r, s) : undefined;
    };
    const [keepAlive, full, resumed] = [rows[0].name, rows[rows.length - 2].name, rows[rows.length - 1].name];
    const handshakes = handshakeTable(servers, byName, keepAlive, full, resumed);
    console.log(`\n${comparison}\n\n${figures}\n\n${pairedHits}\n\n${handshakes}\n`);

    const machine = { ...o.machine, otherCores: res.otherCores() };
    const negotiated = servers
      .map((s) => `${s.name}: ${rows.flatMap((t) => (t.kind === 'hit' && t.protocol === 'h2' ? res.runs(t, s) : [])).find((r) => r.negotiated)?.negotiated ?? 'not reported'}`)
      .join('; ');
    const doc = `# TLS bench

${new Date().toISOString().slice(0, 10)} · ${versions()}, ${tools}

${machineParagraph(machine)}

Both caches sit in front of the same origin (\`mediacdn origin --workers 1\`, behind the counting proxy,
bench/servers/counting-proxy.ts) and serve https with one certificate made when the bench starts
(openssl: a throw-away CA and an EC P-256 leaf for \`${HOST}\`, full chain; nothing is kept).
\`our edge\` is \`mediacdn edge --workers 1 --https-port 0\` with one zone \`${HOST}\` carrying that
certificate (TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 by ALPN, session tickets). ${TLS_TUNINGS.map((t) => `\`nginx proxy_cache ssl http2 (${t})\`: ${NGINX_TUNINGS[t].label}`).join('; ')}
(sendfile does not apply to TLS); each one worker, \`listen … ssl http2\`, \`ssl_protocols TLSv1.2 TLSv1.3\`,
\`ssl_session_cache shared:SSL:10m\`, session tickets, \`proxy_cache\` on disk, \`proxy_cache_lock on\`,
no access log. \`node:https ceiling\` (bench/servers/memory-ceiling.ts with the certificate) is no
cache: node:http2's secure server (HTTP/2 on the core stream API and HTTP/1.1 by node:http, as bare as Node allows)
answering from memory with prebuilt headers, what Node itself allows over TLS. Clients ask for \`https://${HOST}:<port>/\` (SNI and Host \`${HOST}\`) and verify the chain
against the CA (the handshake client) or do not check it (wrk, h2load). What h2load negotiated:
${negotiated}.

${heading('Cache hits over TLS, and handshakes', machine)}

${o.mode}. Every server runs at once, pinned to core 1 (\`taskset\`); the load generator runs on core 0.
HTTP/1.1 rows: \`wrk -t1 -c50\` over https (keep-alive). HTTP/2 rows: \`h2load -t1 -c${H2_CONNECTIONS} -m${H2_STREAMS}\`
(${H2_CONNECTIONS} connections with ${H2_STREAMS} concurrent streams each; its default 1 GiB windows). Handshake rows:
bench/lib/handshake-client.ts, ${HANDSHAKE_LOOPS} loops each opening a new TLS connection per request
(\`Connection: close\`, ALPN http/1.1, GET of the 4 KiB file), with a full handshake every time or
offering the session ticket its previous connection received ("resumed" counts the handshakes the
server did resume). Rounds are interleaved row by row and server by server; each row is the round with
the median req/s. Every cache was warmed with the timed requests over both protocols; every answer was
byte-compared and had \`X-Cache: HIT\` over the protocol asked for before timing.

${COMPARISON_LEGEND}

${comparison}

${FIGURES_LEGEND} h2load reports no percentiles: HTTP/2 rows give its mean and max per request.
Bytes of HTTP/2 rows include framing.

${figures}

${pairedHits}

### What a handshake costs

Server CPU per request on a new connection, minus the same server's CPU per request on a keep-alive
connection (the HTTP/1.1 GET 4 KiB row), is what the connection and its handshake cost the server:
accept, the TLS handshake (for a full one an X25519 key exchange and an ECDSA P-256 signature), the
session ticket, and closing. The handshake client (Node, verifying the chain of every full handshake)
pays about what a server pays per handshake: where it is client-bound, handshakes/s measure the
client and only the CPU columns speak for the servers.

${handshakes}
`;
    await mkdir(path.join(ROOT, 'bench/results'), { recursive: true });
    await writeFile(path.join(ROOT, 'bench/results/tls.md'), doc);
    console.log('written to bench/results/tls.md');
  } finally {
    for (const s of started.reverse()) await s.stop().catch(() => {});
  }
}
