// The edge commands as a user runs them: `mediacdn edge` in a child process (URLs printed, graceful
// SIGTERM that saves statistics), `mediacdn purge` and `mediacdn stats` against it,
// --https-port with a certificate from the config file (and a missing one refused).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { CLI, runCli } from './helpers/cli.ts';
import { ADMIN_TOKEN, ZONE } from './helpers/edge-harness.ts';
import { startCountingOrigin } from './helpers/counting-origin.ts';
import type { CountingOrigin } from './helpers/counting-origin.ts';
import { makeCa, makeLeaf, requestH1 } from './helpers/tls.ts';
import { memorySettings, SERVING } from './helpers/proc.ts';

describe('mediacdn edge / purge / stats', () => {
  let origin: CountingOrigin;
  let data: string;
  let env: Record<string, string>;
  let child: ReturnType<typeof spawn>;
  let edgeUrl = '';
  let output = '';

  before(async () => {
    origin = await startCountingOrigin();
    origin.route('/media/a.mp3', { headers: { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg' }, body: 'abc' });
    data = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-edge-cli-'));
    env = { MEDIACDN_DATA: data, MEDIACDN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'warn' };
    child = spawn(process.execPath, [CLI, 'edge', '--port', '0', '--host', '127.0.0.1', '--workers', '1', '--zone', `${ZONE}=${origin.url}`], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    edgeUrl = await new Promise<string>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        output += d;
        const m = /edge listening on (http:\/\/\S+)/.exec(output);
        if (m && output.includes('control:')) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`edge exited with ${code}: ${output}`)));
    });
  });
  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await origin.close();
    await rm(data, { recursive: true, force: true });
  });

  it('runs with a small young generation and malloc returning memory: the same process, re-executed with the flag and variables', async () => {
    // The pid we started serves (process.execve keeps it) and its command line carries the flag.
    assert.deepEqual(memorySettings(child.pid!), SERVING);
    const stats = await request(`${edgeUrl}/_mediacdn/stats`, { headers: { host: ZONE, authorization: `Bearer ${ADMIN_TOKEN}` } });
    const { processes } = (await stats.body.json()) as { processes: Array<{ pid: number }> };
    assert.deepEqual(processes.map((p) => p.pid), [child.pid]);
  });

  it('leaves the young generation and malloc to a user who sizes them in NODE_OPTIONS and the environment', async () => {
    const own = spawn(process.execPath, [CLI, 'edge', '--port', '0', '--host', '127.0.0.1', '--workers', '1', '--zone', `${ZONE}=${origin.url}`], {
      env: { ...process.env, ...env, MEDIACDN_DATA: path.join(data, 'own'), NODE_OPTIONS: '--max-semi-space-size=8', MALLOC_ARENA_MAX: '4', MALLOC_MMAP_THRESHOLD_: '65536' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        own.stdout!.setEncoding('utf8').on('data', (d: string) => ((out += d), out.includes('control:') && resolve()));
        own.once('exit', (code) => reject(new Error(`edge exited with ${code}: ${out}`)));
      });
      assert.deepEqual(memorySettings(own.pid!), { semiSpace: undefined, arenas: '4', threshold: '65536' });
    } finally {
      own.kill('SIGKILL');
    }
  });

  it('prints its URL, zones and control endpoints, and serves the zone', async () => {
    assert.match(output, new RegExp(`zone ${ZONE.replace(/\./g, '\\.')} → ${origin.url}`));
    assert.match(output, /\/_mediacdn\/purge/);
    for (const expected of ['MISS', 'HIT']) {
      const r = await request(`${edgeUrl}/media/a.mp3`, { headers: { host: ZONE } });
      assert.equal(r.headers['x-cache'], expected);
      assert.equal(await r.body.text(), 'abc');
    }
  });

  it('mediacdn purge <url> --edge purges it and reports the count', async () => {
    const r = await runCli(['purge', `http://${ZONE}/media/a.mp3`, '--edge', edgeUrl], { env });
    assert.equal(r.code, 0, r.stderr);
    // The log's numbering is the database's: on a PostgreSQL database other tests share, it need not
    // start at 1, and other entries may come between these two.
    const m = /^purge log: entry (\d+)$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    const entry = Number(m[1]);
    assert.equal(r.stdout.trim(), `${edgeUrl}: done, removed 1\npurge log: entry ${entry}`);
    const zone = await runCli(['purge', '--zone', ZONE, '--edge', edgeUrl], { env });
    const next = /^purge log: entry (\d+)$/m.exec(zone.stdout);
    assert.ok(next && Number(next[1]) > entry, zone.stdout);
    assert.equal(zone.stdout.trim(), `${edgeUrl}: done, removed 0\npurge log: entry ${next[1]}`);
  });

  it('mediacdn purge refuses ambiguous targets and reports a failing edge with exit code 1', async () => {
    const both = await runCli(['purge', `http://${ZONE}/x`, '--zone', ZONE, '--edge', edgeUrl], { env });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /exactly one of/);
    const bad = await runCli(['purge', '--zone', ZONE, '--edge', edgeUrl], { env: { ...env, MEDIACDN_TOKEN: 'wrong-token-wrong-token' } });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /: pending \(HTTP 401/);
    assert.match(bad.stderr, /purge pending on 1 of 1 edge/);
  });

  it('mediacdn stats prints a readable summary of the running edge', async () => {
    const r = await runCli(['stats', '--edge', edgeUrl, '--zone', ZONE], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`zone ${ZONE.replace(/\./g, '\\.')}`));
    assert.match(r.stdout, /requests\s+2\s+2\s+2/);
    assert.match(r.stdout, /cache hit rate\s+50\.0%/);
  });

  it('stops on SIGTERM, saving its statistics to <data>/cache/stats.json', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(existsSync(path.join(data, 'cache', 'stats.json')));
  });

  it('refuses to start without zones', async () => {
    const r = await runCli(['edge', '--port', '0'], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no pull zones/);
  });
});

describe('mediacdn edge --https-port', () => {
  it('serves https beside http with the zones\' certificates, and refuses a missing certificate file in one line (exit 2)', async () => {
    const ca = await makeCa();
    const data = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-edge-cli-tls-'));
    const cert = await makeLeaf(ca, [ZONE], path.join(data, 'cdn'));
    const env = { MEDIACDN_DATA: data, MEDIACDN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'warn' };
    const origin = await startCountingOrigin();
    origin.route('/a.txt', { headers: { 'cache-control': 'max-age=60' }, body: 'over tls' });
    const configFile = path.join(data, 'mediacdn.config.json');
    try {
      await writeFile(configFile, JSON.stringify({ edge: { zones: [{ host: ZONE, origin: origin.url, tls: { cert: path.join(data, 'missing.pem'), key: cert.keyFile } }] } }));
      const refused = await runCli(['--config', configFile, 'edge', '--port', '0', '--https-port', '0', '--host', '127.0.0.1'], { env });
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /^mediacdn: config edge\.zones\[0\]\.tls: cannot read \S+missing\.pem: no such file\n$/);

      await writeFile(configFile, JSON.stringify({ edge: { zones: [{ host: ZONE, origin: origin.url, tls: { cert: cert.certFile, key: cert.keyFile }, hsts: 600 }] } }));
      const child = spawn(process.execPath, [CLI, '--config', configFile, 'edge', '--port', '0', '--https-port', '0', '--host', '127.0.0.1', '--workers', '1'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        let output = '';
        child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
        const port = await new Promise<number>((resolve, reject) => {
          child.stdout!.setEncoding('utf8').on('data', (d: string) => {
            output += d;
            const m = /and https:\/\/127\.0\.0\.1:(\d+) \(HTTP\/2, HTTP\/1\.1\)/.exec(output);
            if (m && output.includes('control:')) resolve(Number(m[1]));
          });
          child.once('exit', (code) => reject(new Error(`edge exited with ${code}: ${output}`)));
        });
        assert.match(output, /\(https: \S+cdn\.pem, hsts 600 s\)/);
        const r = await requestH1(port, ZONE, ca.pem, '/a.txt');
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), 'over tls');
        assert.equal(r.headers['strict-transport-security'], 'max-age=600');
      } finally {
        // The edge saves its statistics into the data folder as it stops: wait before removing it.
        const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    } finally {
      await origin.close();
      await rm(data, { recursive: true, force: true });
    }
  });
});
