// Edge scenarios: the disk tier — survives a restart, drops corrupt entries and refetches them,
// holds its byte limit under a workload three times its size, passes large objects through, cleans up
// after writes that fail (full disk).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { CLI } from './helpers/cli.ts';
import { startCountingOrigin } from './helpers/counting-origin.ts';
import { ADMIN_TOKEN, ZONE, bytes, startHarness } from './helpers/edge-harness.ts';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  }
  return out;
}

async function bytesUnder(dir: string): Promise<number> {
  let n = 0;
  for (const f of await filesUnder(dir)) n += (await stat(f)).size;
  return n;
}

describe('edge: disk tier', () => {
  it('keeps the disk tier across a restart, under <cacheDir>/<zone>/', async () => {
    const h = await startHarness();
    try {
      const body = bytes(50_000, 1);
      h.origin.route('/keep.mp3', { headers: { 'cache-control': 'max-age=600' }, body });
      assert.equal((await h.get('/keep.mp3')).headers['x-cache'], 'MISS');
      await h.restart();
      const files = (await filesUnder(h.cacheDir)).filter((f) => f !== path.join(h.cacheDir, 'stats.json'));
      assert.ok(files.length === 2 && files.every((f) => f.startsWith(path.join(h.cacheDir, ZONE) + path.sep)));
      const r = await h.get('/keep.mp3');
      assert.equal(r.headers['x-cache'], 'HIT');
      assert.ok(r.body.equals(body));
      assert.equal(h.origin.count('/keep.mp3'), 1);
    } finally {
      await h.close();
    }
  });

  for (const damage of ['bytes changed', 'truncated'] as const) {
    it(`drops a corrupted disk entry (${damage}) and refetches it`, async () => {
      const h = await startHarness();
      try {
        const body = bytes(80_000, 2);
        h.origin.route('/c.mp3', { headers: { 'cache-control': 'max-age=600' }, body });
        await h.get('/c.mp3');
        await h.restart();
        const bodyFile = (await filesUnder(h.cacheDir)).find((f) => f.endsWith('.body'))!;
        if (damage === 'truncated') await truncate(bodyFile, 1000);
        else await writeFile(bodyFile, bytes(80_000, 99));
        await h.restart();
        const r = await h.get('/c.mp3');
        assert.equal(r.headers['x-cache'], 'MISS');
        assert.ok(r.body.equals(body), 'never the corrupt bytes');
        assert.equal(h.origin.count('/c.mp3'), 2);
        assert.equal((await h.get('/c.mp3')).headers['x-cache'], 'HIT');
      } finally {
        await h.close();
      }
    });
  }

  it('holds the disk limit under a workload three times its size', async () => {
    const limit = 1024 * 1024;
    const h = await startHarness({ diskCacheBytes: limit, memoryCacheBytes: 0 });
    try {
      const objects = 30;
      const size = 100 * 1024; // 30 × 100 KiB ≈ 3 × the limit
      for (let i = 0; i < objects; i++) {
        h.origin.route(`/w${i}`, { headers: { 'cache-control': 'max-age=600' }, body: bytes(size, i) });
      }
      for (let i = 0; i < objects; i++) {
        const r = await h.get(`/w${i}`);
        assert.ok(r.body.equals(bytes(size, i)));
        assert.ok((h.edge.usage().disk?.bytes ?? 0) <= limit);
      }
      await h.restart({ diskCacheBytes: limit, memoryCacheBytes: 0 });
      const onDisk = await bytesUnder(h.cacheDir);
      assert.ok(onDisk <= limit, `${onDisk} bytes on disk, limit ${limit}`);
      const kept = h.edge.usage().disk?.entries ?? 0;
      assert.ok(kept >= 8 && kept <= 10, `kept ${kept}`);
      // Least recently used went first: the last object is still there, the first is not.
      assert.equal((await h.get(`/w${objects - 1}`)).headers['x-cache'], 'HIT');
      assert.equal((await h.get('/w0')).headers['x-cache'], 'MISS');
    } finally {
      await h.close();
    }
  });

  it('passes objects over maxObjectBytes through uncached', async () => {
    const h = await startHarness({ maxObjectBytes: 10_000 });
    try {
      h.origin.route('/huge', { headers: { 'cache-control': 'max-age=600' }, body: bytes(20_000, 3) });
      const first = await h.get('/huge');
      assert.equal(first.headers['x-cache'], 'BYPASS');
      assert.ok(first.body.equals(bytes(20_000, 3)));
      const range = await h.get('/huge', { range: 'bytes=0-99' });
      assert.ok(range.body.equals(bytes(20_000, 3).subarray(0, range.status === 206 ? 100 : 20_000)));
      assert.equal(h.origin.count('/huge'), 2);
      assert.equal(h.edge.usage().disk?.entries, 0);
    } finally {
      await h.close();
    }
  });
});

describe('edge: a cache disk that refuses writes', () => {
  it('cleans up after every failed write: no temp files left, answers unaffected (mediacdn edge under ulimit -f)', async () => {
    // A file size limit (RLIMIT_FSIZE, 8 KiB) makes writes fail part-way with EFBIG, as a full disk does
    // with ENOSPC, without privileges: records and bodies over 8 KiB cannot be written.
    const origin = await startCountingOrigin();
    const data = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-edge-full-'));
    const big = 'b'.repeat(12 * 1024);
    origin.route('/small', { headers: { 'cache-control': 'max-age=600' }, body: 'small' });
    origin.route('/big-record', { headers: { 'cache-control': 'max-age=600', 'x-big': big }, body: 'record too large' });
    origin.route('/big-body', { headers: { 'cache-control': 'max-age=600' }, body: bytes(20_000, 2) });
    origin.route('/update', { headers: { 'cache-control': 'max-age=600', etag: '"u"' }, body: 'update', validate: true, notModifiedHeaders: { 'x-big': big } });
    const child = spawn('bash', ['-c', 'ulimit -f 8 && exec "$0" "$@"', process.execPath, CLI, 'edge', '--port', '0', '--host', '127.0.0.1', '--workers', '1', '--zone', `${ZONE}=${origin.url}`], {
      env: { ...process.env, MEDIACDN_DATA: data, MEDIACDN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          output += d;
          const m = /edge listening on (http:\/\/\S+)/.exec(output);
          if (m) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`edge exited with ${code}: ${output}`)));
      });
      const get = async (target: string, headers: Record<string, string> = {}) => {
        const r = await request(`${url}${target}`, { headers: { host: ZONE, ...headers } });
        return { status: r.statusCode, body: Buffer.from(await r.body.arrayBuffer()) };
      };
      for (let round = 0; round < 3; round++) {
        assert.equal((await get('/small')).body.toString(), 'small');
        assert.equal((await get('/big-record')).body.toString(), 'record too large');
        assert.ok((await get('/big-body')).body.equals(bytes(20_000, 2)));
        assert.equal((await get('/update', { 'cache-control': 'no-cache' })).body.toString(), 'update');
      }
      // The failed writes were reported, so the test knows the limit bit.
      assert.match(output, /EFBIG|too large/i);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      const left = (await filesUnder(path.join(data, 'cache'))).filter((f) => f.endsWith('.tmp'));
      assert.deepEqual(left, []);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await origin.close();
      await rm(data, { recursive: true, force: true });
    }
  });
});
