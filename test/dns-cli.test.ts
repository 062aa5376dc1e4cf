// The commands as typed: `mediacdn dns --port 0` answering dig, its errors, and `--export powerdns`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLI, runCli } from './helpers/cli.ts';
import { dig, rdata } from './helpers/dns.ts';
import { tempDirSync } from './helpers/temp.ts';

const ZONE = 'cdn.radio.example';

function project(dns: Record<string, unknown> = {}, fleet?: unknown[]): string {
  const dir = tempDirSync('mediacdn-dns-cli-');
  writeFileSync(
    path.join(dir, 'mediacdn.config.json'),
    JSON.stringify({
      edge: { zones: [{ host: ZONE, origin: 'http://127.0.0.1:9' }] },
      fleet: fleet ?? [
        { name: 'fra', addresses: ['192.0.2.10'], location: { lat: 50.1, lon: 8.7 }, control: 'http://127.0.0.1:9' },
        { name: 'nyc', addresses: ['198.51.100.10'], location: { lat: 40.7, lon: -74.0 }, control: 'http://127.0.0.1:9' },
      ],
      dns: { routes: [{ cidr: '10.1.0.0/16', edges: ['nyc'] }], ...dns },
    }),
  );
  return dir;
}

test('mediacdn dns --port 0 --host 127.0.0.1 answers dig by client subnet and stops on SIGTERM', async () => {
  const cwd = project();
  const child = spawn(process.execPath, [CLI, 'dns', '--port', '0', '--host', '127.0.0.1'], { cwd, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /dns listening on 127\.0\.0\.1:(\d+) \(udp, tcp\)/.exec(out);
        if (m && /edge nyc: health/.test(out)) resolve(Number(m[1]));
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    assert.match(out, /zone cdn\.radio\.example/);
    assert.match(out, /edge fra: health http:\/\/127\.0\.0\.1:9\/_mediacdn\/health/);
    assert.deepEqual(rdata((await dig(port, [ZONE, 'A', '+subnet=81.169.145.0/24'])).answers), ['192.0.2.10'], 'Berlin → fra (geoip-lite)');
    assert.deepEqual(rdata((await dig(port, [ZONE, 'A', '+subnet=8.8.8.0/24'])).answers), ['198.51.100.10'], 'United States → nyc');
    assert.deepEqual(rdata((await dig(port, [ZONE, 'A', '+subnet=10.1.7.0/24'])).answers), ['198.51.100.10'], 'route');
    assert.equal((await dig(port, ['example.com', 'A'])).status, 'REFUSED');
  } finally {
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
});

test('mediacdn dns without edges or zones, or with a bad option, is a usage error naming the problem', async () => {
  const noFleet = await runCli(['dns', '--port', '0'], { cwd: project({}, []).toString() }).catch((e) => e);
  // an empty fleet cannot carry a route to nyc: the config check names the route
  assert.equal(noFleet.code, 2);
  assert.match(noFleet.stderr, /^mediacdn: config dns\.routes\.0\.edges\.0: nyc is not in the fleet/);
  const empty = await runCli(['dns', '--port', '0'], { cwd: project({ routes: [] }, []) });
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /^mediacdn: dns: the fleet has no edges/);
  const badExport = await runCli(['dns', '--export', 'bind'], { cwd: project() });
  assert.equal(badExport.code, 2);
  assert.match(badExport.stderr, /^mediacdn: dns --export: unknown format "bind"/);
});

test('mediacdn dns --export powerdns prints zone files with LUA records; --out writes them', async () => {
  const cwd = project();
  const printed = await runCli(['dns', '--export', 'powerdns'], { cwd });
  assert.equal(printed.code, 0, printed.stderr);
  assert.match(printed.stdout, /;; ---- cdn\.radio\.example\.zone/);
  assert.match(printed.stdout, /@ 30 IN LUA A ";local u='http:\/\/127\.0\.0\.1:9\/_mediacdn\/health' if netmask\(\{'10\.1\.0\.0\/16'\}\) then return ifurlup\(u,\{\{'198\.51\.100\.10'\},\{'192\.0\.2\.10'\}\}/);
  assert.doesNotMatch(printed.stdout, /LUA AAAA/, 'no AAAA record when no edge has IPv6');
  const out = path.join(cwd, 'pdns');
  const written = await runCli(['dns', '--export', 'powerdns', '--out', out], { cwd });
  assert.equal(written.code, 0, written.stderr);
  assert.match(readFileSync(path.join(out, 'named.conf'), 'utf8'), /zone "cdn\.radio\.example" \{ type master; file "cdn\.radio\.example\.zone"; \};/);
});
