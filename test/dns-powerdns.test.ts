// `mediacdn dns --export powerdns` loaded by a real PowerDNS (Debian's pdns-server with the bind
// backend) on a random port: the CIDR table as netmask() rules and the health part (ifurlup on the
// edges' health URL) answer like `mediacdn dns` does. PowerDNS checks on its own clock, so this test
// polls it (bounded) instead of injecting time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import dgram from 'node:dgram';
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from './helpers/cli.ts';
import { dig, rdata } from './helpers/dns.ts';
import { tempDirSync } from './helpers/temp.ts';

const ZONE = 'cdn.radio.example';

/** A port free for both UDP and TCP on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  for (;;) {
    const server = net.createServer();
    const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));
    const udp = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((r) => {
      udp.once('error', () => r(false));
      udp.bind(port, '127.0.0.1', () => r(true));
    });
    udp.close();
    await new Promise((r) => server.close(r));
    if (ok) return port;
  }
}

/** The health endpoint of an edge's control listener on its own loopback address. */
function healthServer(host: string, port: number) {
  let server: http.Server | undefined;
  return {
    async start() {
      server = http.createServer((req, res) => res.writeHead(req.url === '/_mediacdn/health' ? 200 : 404).end('ok\n'));
      await new Promise<void>((r) => server!.listen(port, host, () => r()));
    },
    async stop() {
      if (!server) return;
      server.closeAllConnections();
      await new Promise((r) => server!.close(r));
      server = undefined;
    },
  };
}

/** Asks until the answer is what we expect (PowerDNS checks health in the background); bounded. */
async function eventually(port: number, args: string[], expected: string[], what: string): Promise<void> {
  let last: string[] = [];
  for (let i = 0; i < 60; i++) {
    last = rdata((await dig(port, [ZONE, 'A', ...args])).answers);
    if (JSON.stringify(last) === JSON.stringify(expected)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.deepEqual(last, expected, what);
}

test('PowerDNS serves the exported routing: CIDR rules, default set, failover on health, all down → all', async () => {
  const dir = tempDirSync('mediacdn-pdns-');
  const healthPort = await freePort();
  const fra = healthServer('127.0.0.2', healthPort);
  const nyc = healthServer('127.0.0.3', healthPort);
  await fra.start();
  await nyc.start();
  writeFileSync(
    path.join(dir, 'mediacdn.config.json'),
    JSON.stringify({
      edge: { zones: [{ host: ZONE, origin: 'http://127.0.0.1:9' }] },
      fleet: [
        { name: 'fra', addresses: ['127.0.0.2'], location: { lat: 50.1, lon: 8.7 }, control: `http://127.0.0.2:${healthPort}` },
        { name: 'nyc', addresses: ['127.0.0.3'], location: { lat: 40.7, lon: -74.0 }, control: `http://127.0.0.3:${healthPort}` },
      ],
      dns: {
        routes: [{ cidr: '10.1.0.0/16', edges: ['nyc'] }, { cidr: '10.1.2.0/24', edges: ['fra'] }],
        default: ['fra'],
        nameservers: [{ name: `ns1.${ZONE}`, addresses: ['192.0.2.53'] }],
      },
    }),
  );
  const exported = await runCli(['dns', '--export', 'powerdns', '--out', 'pdns'], { cwd: dir });
  assert.equal(exported.code, 0, exported.stderr);
  writeFileSync(path.join(dir, 'pdns.conf'), '');
  const port = await freePort();
  let pdns: ChildProcess | undefined;
  let log = '';
  try {
    pdns = spawn(
      'pdns_server',
      [
        `--config-dir=${dir}`,
        `--socket-dir=${dir}`,
        '--local-address=127.0.0.1',
        `--local-port=${port}`,
        '--launch=bind',
        `--bind-config=${path.join(dir, 'pdns', 'named.conf')}`,
        '--enable-lua-records=yes',
        '--lua-health-checks-interval=1',
        '--edns-subnet-processing=yes',
        '--cache-ttl=0',
        '--query-cache-ttl=0',
        '--negquery-cache-ttl=0',
        '--security-poll-suffix=',
        '--guardian=no',
        '--daemon=no',
        '--disable-syslog',
        '--write-pid=no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    pdns.stdout!.on('data', (d) => (log += d));
    pdns.stderr!.on('data', (d) => (log += d));
    await eventually(port, ['+subnet=10.1.7.0/24'], ['127.0.0.3'], 'route 10.1.0.0/16 → nyc');
    await eventually(port, ['+subnet=10.1.2.0/24'], ['127.0.0.2'], 'the more specific 10.1.2.0/24 → fra');
    await eventually(port, ['+subnet=81.169.145.0/24'], ['127.0.0.2'], 'everyone else → the default set (fra)');
    const soa = await dig(port, [ZONE, 'SOA']);
    assert.match(soa.answers[0] ?? '', new RegExp(`^${ZONE}\\. 3600 IN SOA ns1\\.${ZONE}\\. hostmaster\\.${ZONE}\\. `), 'SOA loads');

    await fra.stop();
    await eventually(port, ['+subnet=81.169.145.0/24'], ['127.0.0.3'], 'fra down → the default set falls back to nyc');
    await eventually(port, ['+subnet=10.1.2.0/24'], ['127.0.0.3'], 'fra down → its route falls back to nyc');
    await nyc.stop();
    await eventually(port, ['+subnet=10.1.7.0/24'], ['127.0.0.2', '127.0.0.3'], 'all down → all of them');
    await fra.start();
    await nyc.start();
    await eventually(port, ['+subnet=10.1.7.0/24'], ['127.0.0.3'], 'back up → the route again');
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- pdns log ---\n${log.slice(-3000)}\n--- zone ---\n${readFileSync(path.join(dir, 'pdns', `${ZONE}.zone`), 'utf8')}`, { cause: err });
  } finally {
    const exited = pdns && pdns.exitCode === null ? new Promise((r) => pdns!.once('exit', r)) : Promise.resolve();
    pdns?.kill('SIGTERM');
    await exited;
    await fra.stop();
    await nyc.stop();
  }
});
