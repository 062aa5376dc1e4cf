// What the purge machinery reads from outside is checked, never trusted: a damaged or foreign
// running.json is ignored, a damaged purge-log.json makes the edge start from a clean cache, and a purge
// log that answers garbage (generated, seeded) neither crashes the edge nor stops it answering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { request } from 'undici';
import { processIdentity, readRunning, runningFile, writeRunning } from '../src/cli/running.ts';
import { startEdge } from '../src/edge/server.ts';
import { checkAsyncProperty, checkProperty } from './helpers/property.ts';
import { startCountingOrigin } from './helpers/counting-origin.ts';
import { tempDirSync } from './helpers/temp.ts';

const TOKEN = 'purge-hostile-admin-token-0123456789';
const ZONE = 'cdn.hostile.test';

test('running.json: anything but a well-formed record of a live process is ignored', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-running-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const valid = { version: 1, pid: process.pid, startedAt: 'now', originUrl: 'http://localhost:4000', edgeUrl: 'http://localhost:8080', controlUrl: 'http://127.0.0.1:8080', mediaUrl: 'http://localhost:8080/media/', zones: ['localhost'] };
  await writeFile(runningFile({ dataDir }), JSON.stringify(valid));
  assert.equal(readRunning({ dataDir })?.controlUrl, valid.controlUrl);
  for (const bad of ['', '{', 'null', '[]', JSON.stringify({ ...valid, version: 2 }), JSON.stringify({ ...valid, pid: -1 }), JSON.stringify({ ...valid, extra: 1 }), JSON.stringify({ ...valid, controlUrl: 'not a url' }), '\u0000'.repeat(100)]) {
    await writeFile(runningFile({ dataDir }), bad);
    assert.equal(readRunning({ dataDir }), undefined, bad.slice(0, 60));
  }
  const files: string[] = [];
  checkProperty(
    fc.property(fc.jsonValue(), (value) => {
      files.push(JSON.stringify(value));
    }),
    { numRuns: 50 },
  );
  for (const text of files) {
    await writeFile(runningFile({ dataDir }), text);
    assert.equal(readRunning({ dataDir }), undefined, text.slice(0, 60));
  }
});

test('running.json: a record whose process id now belongs to another process (started at another time) is ignored', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-running-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const record = { pid: process.pid, startedAt: 'now', originUrl: 'http://localhost:4000', edgeUrl: 'http://localhost:8080', controlUrl: 'http://127.0.0.1:8080', mediaUrl: 'http://localhost:8080/media/', zones: ['localhost'] };
  await writeRunning({ dataDir }, record);
  const written = JSON.parse(await readFile(runningFile({ dataDir }), 'utf8')) as { process?: string };
  const me = processIdentity(process.pid);
  assert.ok(me !== undefined && /^[0-9a-f-]+:\d+$/.test(me), String(me));
  assert.equal(written.process, me, 'up records which process it is');
  assert.equal(readRunning({ dataDir })?.pid, process.pid);
  // The same id, but a process that started at another moment (or in another boot): not ours.
  const [boot, started] = me.split(':');
  for (const other of [`${boot}:${Number(started) + 1}`, `00000000-0000-0000-0000-000000000000:${started}`]) {
    await writeFile(runningFile({ dataDir }), JSON.stringify({ version: 1, ...record, process: other }));
    assert.equal(readRunning({ dataDir }), undefined, other);
  }
  // Where /proc says nothing, the process id alone decides (as for a record written without it).
  await writeFile(runningFile({ dataDir }), JSON.stringify({ version: 1, ...record, process: `${boot}:${Number(started) + 1}` }));
  assert.equal(readRunning({ dataDir }, path.join(dataDir, 'no-proc-here'))?.pid, process.pid);
  await writeFile(runningFile({ dataDir }), JSON.stringify({ version: 1, ...record }));
  assert.equal(readRunning({ dataDir })?.pid, process.pid);
});

test('a damaged position file or a purge log answering garbage: the edge serves, warns, and keeps its position', async (t) => {
  const origin = await startCountingOrigin();
  origin.route('/a', { headers: { 'cache-control': 'max-age=600' }, body: 'a' });
  let answer: { status: number; body: string } = { status: 200, body: '{"purges":[],"last":0,"reset":false,"more":false}' };
  const log = http.createServer((req, res) => {
    req.resume();
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => log.listen(0, '127.0.0.1', resolve));
  const logUrl = `http://127.0.0.1:${(log.address() as AddressInfo).port}/api/purges`;
  const cacheDir = tempDirSync('mediacdn-purge-hostile-');
  t.after(async () => {
    await origin.close();
    await new Promise<void>((resolve) => log.close(() => resolve()));
    await rm(cacheDir, { recursive: true, force: true });
  });
  await writeFile(path.join(cacheDir, 'purge-log.json'), '{"version": 9, "seq": "x"}');
  const warnings: string[] = [];
  const edge = await startEdge({
    host: '127.0.0.1', port: 0, cacheDir, adminToken: TOKEN, zones: [{ host: ZONE, origin: origin.url }],
    purgeLogUrl: logUrl, purgeLogIntervalMs: 3_600_000, onWarning: (m) => warnings.push(m),
  });
  t.after(() => edge.close());
  const get = async () => {
    const r = await request(`${edge.url}/a`, { headers: { host: ZONE } });
    await r.body.text();
    return `${r.statusCode} ${String(r.headers['x-cache'])}`;
  };
  assert.equal(await get(), '200 MISS');
  assert.match(warnings.join('\n'), /purge-log\.json is not a purge log position this version knows/);
  assert.equal(edge.purgeLog()?.seq, 0, 'caught up from scratch');
  assert.deepEqual(JSON.parse(await readFile(path.join(cacheDir, 'purge-log.json'), 'utf8')), { version: 1, seq: 0 });

  const bodies = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.record({ purges: fc.array(fc.record({ seq: fc.integer(), target: fc.jsonValue() }), { maxLength: 3 }), last: fc.oneof(fc.integer(), fc.string()), reset: fc.jsonValue(), more: fc.boolean() }).map((v) => JSON.stringify(v)),
  );
  await checkAsyncProperty(
    fc.asyncProperty(fc.constantFrom(200, 200, 404, 500), bodies, async (status, body) => {
      answer = { status, body };
      // Each poll that fails leaves the edge out of step; the next request tries again and is served.
      const ok = await edge.purgeLogCatchUp();
      const r = await get();
      assert.match(r, /^200 (HIT|MISS)$/);
      if (!ok) assert.equal(edge.purgeLog()?.inStep, false);
    }),
    { numRuns: 40, timeLimitMs: 15_000 },
  );
  answer = { status: 200, body: '{"purges":[],"last":0,"reset":false,"more":false}' };
  assert.equal(await edge.purgeLogCatchUp(), true);
  assert.equal(edge.purgeLog()?.inStep, true);
  assert.equal(await get(), '200 HIT', 'still serving');
});
