// The purge log: numbered purges in the library's database (SQLite, or PostgreSQL with DATABASE_URL),
// GET /api/purges on the origin, and edges that catch up on it before they answer from their cache:
// at start (a purge made while the edge was stopped) and after a failed poll (a purge made while it
// was cut off). Hostile `after` values get a 400, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { request } from 'undici';
import { appendPurges, purgesAfter } from '../src/db/purge-log.ts';
import pino from 'pino';
import { originExtras } from '../src/cli/compose.ts';
import { startEdge, type EdgeHandle } from '../src/edge/server.ts';
import { startOrigin } from '../src/origin/server.ts';
import type { PurgeLogSource } from '../src/edge/control/purge-sync.ts';
import { checkAsyncProperty } from './helpers/property.ts';
import { makeTestLibrary } from './helpers/library.ts';
import { startTestOrigin, TEST_TOKEN, waitFor } from './helpers/origin.ts';
import { tempDirSync } from './helpers/temp.ts';

test('purge log: numbers in order, holds back entries not yet due, resets an edge it cannot bring up to date', async (t) => {
  const tl = await makeTestLibrary();
  t.after(() => tl.close());
  const db = tl.db;
  assert.deepEqual(await purgesAfter(db, 0, 1000), { purges: [], last: 0, reset: false, more: false }, 'an empty log');
  assert.deepEqual(await purgesAfter(db, -1, 1000), { purges: [], last: 0, reset: true, more: false }, 'an edge that never caught up drops everything');
  const [a] = await appendPurges(db, [{ url: 'http://cdn.test/media/a.mp3' }], 1000, 1000);
  const [b, c] = await appendPurges(db, [{ prefix: 'http://cdn.test/media/' }, { zone: 'cdn.test' }], 5000, 1000);
  const [d] = await appendPurges(db, [{ url: 'http://cdn.test/media/d.mp3' }], 1000, 1000);
  assert.ok(a < b && b < c && c < d);
  // At 2000 only `a` is due: b waits until 5000, and d (due) waits behind it, so a position is one number.
  assert.deepEqual(await purgesAfter(db, 0, 2000), { purges: [{ seq: a, target: { url: 'http://cdn.test/media/a.mp3' } }], last: a, reset: false, more: false });
  assert.deepEqual(await purgesAfter(db, a, 2000), { purges: [], last: a, reset: false, more: false });
  const later = await purgesAfter(db, a, 5000);
  assert.deepEqual(later.purges.map((p) => p.seq), [b, c, d]);
  assert.deepEqual(later.purges[1].target, { zone: 'cdn.test' });
  assert.equal(later.last, d);
  const paged = await purgesAfter(db, a, 5000, 2);
  assert.deepEqual([paged.purges.map((p) => p.seq), paged.last, paged.more], [[b, c], c, true]);
  assert.equal((await purgesAfter(db, d + 10, 5000)).reset, true, 'a position past the log (another library, a restored database): reset');
  // Entries beyond `keep` are dropped; an edge behind the oldest one left cannot catch up entry by entry.
  await appendPurges(db, [{ zone: 'x.test' }, { zone: 'y.test' }], 0, 1000, 2);
  const behind = await purgesAfter(db, a, 5000);
  assert.equal(behind.reset, true);
  assert.equal(behind.last, d + 2);
});

test('GET /api/purges: admin token, a strict "after", the page as JSON; hostile values are a 400', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  await appendPurges(o.tl.lib.db, [{ url: 'http://cdn.test/media/a.mp3' }], 0);
  const get = async (query: string, headers: Record<string, string> = o.auth) => {
    const r = await request(`${o.url}/api/purges${query}`, { headers });
    return { status: r.statusCode, body: (await r.body.json()) as Record<string, unknown> };
  };
  assert.equal((await get('?after=0', {})).status, 401);
  const page = await get('?after=0');
  assert.equal(page.status, 200);
  assert.deepEqual(page.body, { purges: [{ seq: 1, target: { url: 'http://cdn.test/media/a.mp3' } }], last: 1, reset: false, more: false });
  for (const bad of ['', '?after=', '?after=abc', '?after=-2', '?after=1.5', '?after=01', '?after=1&after=2', '?after=0&x=1', '?after=9999999999999999']) {
    const r = await get(bad);
    assert.equal(r.status, 400, bad);
    assert.equal(typeof r.body.code, 'string', bad);
  }
  const post = await request(`${o.url}/api/purges?after=0`, { method: 'POST', headers: o.auth });
  assert.equal(post.statusCode, 405);
  await post.body.dump();
  await checkAsyncProperty(
    fc.asyncProperty(fc.string({ maxLength: 40 }), async (value) => {
      const r = await request(`${o.url}/api/purges?after=${encodeURIComponent(value)}`, { headers: o.auth });
      await r.body.dump();
      const valid = /^(-1|0|[1-9][0-9]{0,14})$/.test(value);
      assert.equal(r.statusCode, valid ? 200 : 400, JSON.stringify(value));
    }),
    { numRuns: 60, timeLimitMs: 10_000 },
  );
  assert.equal((await request(`${o.url}/healthz`)).statusCode, 200, 'still serving');
});

/** A real origin with one file, and an edge in front of it that catches up on the origin's purge log. */
async function setup(t: import('node:test').TestContext) {
  const o = await startTestOrigin({ recordTtlMs: 0 });
  const cacheDir = tempDirSync('mediacdn-purge-log-');
  t.after(async () => {
    await o.close();
    await rm(cacheDir, { recursive: true, force: true });
  });
  const item = await o.add('tone-3s.mp3');
  const zone = new URL(o.tl.lib.mediaUrl).hostname;
  const mediaPath = new URL(item.url).pathname;
  const get = async (edge: EdgeHandle) => {
    const r = await request(`${edge.url}${mediaPath}`, { headers: { host: zone } });
    await r.body.arrayBuffer();
    return `${r.statusCode} ${String(r.headers['x-cache'])}`;
  };
  return { o, cacheDir, item, zone, mediaPath, get };
}

test('an edge that was stopped during a purge applies it when it starts, before it answers from its disk tier', async (t) => {
  const { o, cacheDir, zone, mediaPath, get } = await setup(t);
  const start = () =>
    startEdge({ host: '127.0.0.1', port: 0, cacheDir, adminToken: TEST_TOKEN, zones: [{ host: zone, origin: o.url }], purgeLogUrl: `${o.url}/api/purges`, purgeLogIntervalMs: 3_600_000 });
  let edge = await start();
  assert.equal(await get(edge), '200 MISS');
  assert.equal(await get(edge), '200 HIT');
  await edge.idle();
  await edge.close();
  // While the edge is down: a purge it never hears of, only the log has it.
  const [seq] = await appendPurges(o.tl.lib.db, [{ url: `http://${zone}${mediaPath}` }], Date.now());
  edge = await start();
  t.after(() => edge.close());
  assert.equal(await get(edge), '200 MISS', 'the stored copy was purged before the first answer');
  assert.equal(edge.purgeLog()?.seq, seq);
  assert.deepEqual(JSON.parse(await readFile(path.join(cacheDir, 'purge-log.json'), 'utf8')), { version: 1, seq }, 'the position is kept beside the disk tier');
  assert.equal(await get(edge), '200 HIT', 'and it caches again');
});

test('an edge cut off from the purge log catches up when it can reach it again, before it serves a cached copy', async (t) => {
  const { o, cacheDir, zone, mediaPath, get } = await setup(t);
  // The log as `mediacdn up` hands it to its edge (straight from the database), with a switch that
  // makes it unreachable the way a cut link does.
  let cut = false;
  const source: PurgeLogSource = async (after) => {
    if (cut) throw new Error('connect EHOSTUNREACH');
    return purgesAfter(o.tl.lib.db, after, Date.now());
  };
  const warnings: string[] = [];
  const edge = await startEdge({ host: '127.0.0.1', port: 0, cacheDir, adminToken: TEST_TOKEN, zones: [{ host: zone, origin: o.url }], purgeLog: source, purgeLogIntervalMs: 20, onWarning: (m) => warnings.push(m) });
  t.after(() => edge.close());
  assert.equal(await get(edge), '200 MISS');
  assert.equal(await get(edge), '200 HIT');
  await waitFor(() => (edge.purgeLog()?.inStep ? true : undefined));
  cut = true;
  await waitFor(() => (edge.purgeLog()?.inStep === false ? true : undefined));
  assert.match(warnings.join('\n'), /cannot catch up on the purge log: connect EHOSTUNREACH/);
  const [seq] = await appendPurges(o.tl.lib.db, [{ url: `http://${zone}${mediaPath}` }], Date.now());
  // While the log is out of reach the edge keeps answering (as it does when its origin is down)…
  assert.equal(await get(edge), '200 HIT');
  // …and the first request once it is back waits for the catch-up.
  cut = false;
  assert.equal(await get(edge), '200 MISS', 'the purge made while it was cut off is applied before it answers');
  assert.equal(edge.purgeLog()?.seq, seq);
});

test('a request that finds a catch-up under way from before the link came back waits for a fresh one', async (t) => {
  const { o, cacheDir, zone, mediaPath, get } = await setup(t);
  let mode: 'ok' | 'fail' | 'hang' = 'ok';
  let failHanging: (err: Error) => void = () => {};
  const source: PurgeLogSource = (after) => {
    if (mode === 'fail') return Promise.reject(new Error('connect EHOSTUNREACH'));
    if (mode === 'hang') return new Promise((_, reject) => (failHanging = reject));
    return purgesAfter(o.tl.lib.db, after, Date.now());
  };
  const edge = await startEdge({ host: '127.0.0.1', port: 0, cacheDir, adminToken: TEST_TOKEN, zones: [{ host: zone, origin: o.url }], purgeLog: source, purgeLogIntervalMs: 3_600_000, onWarning: () => {} });
  t.after(() => edge.close());
  assert.equal(await get(edge), '200 MISS');
  assert.equal(await get(edge), '200 HIT');
  mode = 'fail';
  assert.equal(await edge.purgeLogCatchUp(), false, 'cut off');
  mode = 'hang';
  const underWay = edge.purgeLogCatchUp();
  await appendPurges(o.tl.lib.db, [{ url: `http://${zone}${mediaPath}` }], Date.now());
  const answer = get(edge);
  await waitFor(() => (edge.purgeLog()?.waiting === 1 ? true : undefined));
  // The link comes back; the attempt that started while it was down fails late.
  mode = 'ok';
  failHanging(new Error('connect ETIMEDOUT'));
  assert.equal(await underWay, false);
  assert.equal(await answer, '200 MISS', 'the request waited for a catch-up begun after it arrived');
});

test('a purge sent to the edge takes in the log\'s copy of it: what clients refill afterwards is not dropped by the next poll', async (t) => {
  const { o, cacheDir, zone, mediaPath, get } = await setup(t);
  // The log straight from the database, as `mediacdn up` reads it; `stale` answers one read with a
  // page taken before the purge was written (a poll that was under way when the purge came).
  let stale: { page: Awaited<ReturnType<PurgeLogSource>>; release: Promise<void> } | undefined;
  const source: PurgeLogSource = async (after) => {
    if (stale) {
      const s = stale;
      stale = undefined;
      await s.release;
      return s.page;
    }
    return purgesAfter(o.tl.lib.db, after, Date.now());
  };
  // No poll of its own in this test: each catch-up is one the test starts, or one the purge starts.
  const edge = await startEdge({ host: '127.0.0.1', port: 0, cacheDir, adminToken: TEST_TOKEN, zones: [{ host: zone, origin: o.url }], purgeLog: source, purgeLogIntervalMs: 3_600_000 });
  t.after(() => edge.close());
  const directPurge = async () => {
    const r = await request(`${edge.url}/_mediacdn/purge`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ url: `http://${zone}${mediaPath}` }) });
    return { status: r.statusCode, body: (await r.body.json()) as unknown };
  };
  // As `mediacdn purge` does it: the log entry first, then the purge sent to the edge.
  assert.equal(await edge.purgeLogCatchUp(), true);
  assert.equal(await get(edge), '200 MISS');
  assert.equal(await get(edge), '200 HIT');
  const [first] = await appendPurges(o.tl.lib.db, [{ url: `http://${zone}${mediaPath}` }], Date.now());
  assert.deepEqual(await directPurge(), { status: 200, body: { removed: 1 } });
  assert.equal(edge.purgeLog()?.seq, first, 'the purge answer came after the log entry was applied');
  assert.equal(await get(edge), '200 MISS');
  assert.equal(await get(edge), '200 HIT');
  assert.equal(await edge.purgeLogCatchUp(), true);
  assert.equal(await get(edge), '200 HIT', 'the next poll leaves the refilled copy alone');

  // A poll under way since before the second entry was written does not count as the catch-up.
  let release: () => void = () => {};
  stale = { page: await purgesAfter(o.tl.lib.db, first, Date.now()), release: new Promise<void>((r) => (release = r)) };
  const underWay = edge.purgeLogCatchUp();
  const [second] = await appendPurges(o.tl.lib.db, [{ url: `http://${zone}${mediaPath}` }], Date.now());
  const purged = directPurge();
  // Released once the edge has applied the purge and is waiting for a catch-up.
  await waitFor(() => (edge.usage().memory?.entries === 0 && edge.usage().disk?.entries === 0 ? true : undefined));
  release();
  assert.equal(await underWay, true);
  assert.deepEqual(await purged, { status: 200, body: { removed: 1 } });
  assert.equal(edge.purgeLog()?.seq, second, 'a fresh catch-up took in the second entry');
  assert.equal(await get(edge), '200 MISS');
  assert.equal(await get(edge), '200 HIT');
  assert.equal(await edge.purgeLogCatchUp(), true);
  assert.equal(await get(edge), '200 HIT');
});

test('a delete through one origin purges the edges only once every origin has stopped serving the file', async (t) => {
  // Two origin processes on one library (workers, or hosts on one database): the delete goes through A,
  // the edge fills from B, which trusts its record of the file for recordTtlMs.
  const RECORD_TTL_MS = 1500;
  let extras: ReturnType<typeof originExtras> | undefined;
  const a = await startTestOrigin({ onMediaDeleted: (item) => extras?.onMediaDeleted?.(item) });
  const b = await startOrigin({ config: a.config, library: a.tl.lib, logger: pino({ level: 'silent' }), recordTtlMs: RECORD_TTL_MS, port: 0 });
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-purge-order-'));
  const zone = new URL(a.tl.lib.mediaUrl).hostname;
  const edge = await startEdge({ host: '127.0.0.1', port: 0, cacheDir, adminToken: TEST_TOKEN, zones: [{ host: zone, origin: b.url }] });
  t.after(async () => {
    await edge.close();
    await b.close();
    await a.close();
    await rm(cacheDir, { recursive: true, force: true });
  });
  extras = originExtras({
    config: a.config,
    library: a.tl.lib,
    token: TEST_TOKEN,
    logger: pino({ level: 'silent' }),
    waves: [[{ name: 'edge', url: edge.url }]],
    zoneHosts: [zone],
    purgeAfterMs: RECORD_TTL_MS,
  });
  const item = await a.add('tone-3s.mp3');
  const get = async () => {
    const r = await request(`${edge.url}${new URL(item.url).pathname}`, { headers: { host: zone } });
    await r.body.arrayBuffer();
    return `${r.statusCode} ${String(r.headers['x-cache'])}`;
  };
  assert.equal(await get(), '200 MISS');
  assert.equal(await get(), '200 HIT');
  const deletedAt = Date.now();
  const del = await request(`${a.url}/api/media/${item.id}`, { method: 'DELETE', headers: a.auth });
  assert.equal(del.statusCode, 200);
  await del.body.dump();
  // The hook logs the purge just after the delete is answered.
  const entry = await waitFor(() => a.tl.lib.db.kysely.selectFrom('purge_log').selectAll().executeTakeFirst());
  assert.ok(Number(entry.not_before) >= deletedAt + RECORD_TTL_MS, 'the log entry is due only once no origin may serve the file');
  // Until the purge the edge answers from its copy; the first answer after it is B's 404, not a refill.
  const first = await waitFor(async () => {
    const r = await get();
    return r === '200 HIT' ? undefined : r;
  }, 30_000, 50);
  assert.equal(first, '404 MISS');
});
