// Edge scenarios for two-layer caching: two edges behind one shield edge make one origin request per
// object between them; purges sent to an edge reach the shield first.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { startEdge } from '../src/edge/server.ts';
import type { EdgeHandle } from '../src/edge/server.ts';
import { ADMIN_TOKEN, ZONE, bytes } from './helpers/edge-harness.ts';
import { startCountingOrigin } from './helpers/counting-origin.ts';
import type { CountingOrigin } from './helpers/counting-origin.ts';
import { tempDirSync } from './helpers/temp.ts';

describe('edge: shield', () => {
  let origin: CountingOrigin;
  let shield: EdgeHandle;
  let edges: EdgeHandle[];
  const dirs: string[] = [];
  const agent = new Agent({ connections: 200 });

  async function edge(zone: Record<string, unknown>): Promise<EdgeHandle> {
    const cacheDir = tempDirSync('mediacdn-shield-');
    dirs.push(cacheDir);
    return startEdge({ host: '127.0.0.1', port: 0, cacheDir, adminToken: ADMIN_TOKEN, retryBaseDelayMs: 1, zones: [{ host: ZONE, ...zone }] });
  }

  before(async () => {
    origin = await startCountingOrigin();
    shield = await edge({ origin: origin.url });
    edges = [await edge({ shield: shield.url }), await edge({ shield: shield.url })];
  });
  after(async () => {
    await agent.close();
    for (const e of [...edges, shield]) await e.close();
    await origin.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function get(e: EdgeHandle, target: string): Promise<{ status: number; xCache: string; body: Buffer }> {
    const r = await request(`${e.url}${target}`, { headers: { host: ZONE }, dispatcher: agent });
    return { status: r.statusCode, xCache: String(r.headers['x-cache']), body: Buffer.from(await r.body.arrayBuffer()) };
  }

  it('makes one origin request per object for 2 edges × 50 concurrent clients × 5 objects', async () => {
    const objects = Array.from({ length: 5 }, (_, i) => `/shared/${i}.mp3`);
    objects.forEach((p, i) => origin.route(p, { headers: { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg' }, body: bytes(200_000, i + 1) }));
    const jobs: Promise<{ status: number; xCache: string; body: Buffer }>[] = [];
    for (let c = 0; c < 50; c++) for (const [i, p] of objects.entries()) jobs.push(get(edges[(c + i) % 2], p));
    const replies = await Promise.all(jobs);
    for (const [k, r] of replies.entries()) {
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(bytes(200_000, (k % 5) + 1)));
    }
    for (const p of objects) assert.equal(origin.count(p), 1, p);
    // Each edge asked the shield once per object; the shield asked the origin once.
    const shieldTotals = shield.stats.snapshot().zones[ZONE].totals;
    assert.equal(shieldTotals.outcomes.miss, 5);
    assert.equal(shieldTotals.requests, 10);
    assert.equal(shieldTotals.bytesFromOrigin, 5 * 200_000);
  });

  it('asks the shield for the zone by Host and marks the forwarded request with Via', async () => {
    origin.route('/via', { headers: { 'cache-control': 'max-age=600' }, body: 'v' });
    await get(edges[0], '/via');
    const seen = origin.requests.find((r) => r.url === '/via')!;
    assert.equal(seen.headers['via'], '1.1 mediacdn, 1.1 mediacdn');
    assert.equal(seen.headers['x-forwarded-host'], ZONE);
  });

  it('a purge sent to an edge reaches the shield first, then the edge', async () => {
    origin.route('/p.mp3', { headers: { 'cache-control': 'max-age=600' }, body: 'old' });
    await get(edges[0], '/p.mp3');
    await get(edges[1], '/p.mp3');
    assert.equal(origin.count('/p.mp3'), 1);
    origin.route('/p.mp3', { headers: { 'cache-control': 'max-age=600' }, body: 'new' });
    const r = await request(`${edges[0].url}/_mediacdn/purge`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ url: `http://${ZONE}/p.mp3` }),
    });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(await r.body.json(), { removed: 1, shield: { url: shield.url, removed: 1 } });
    // edge 0 refetches through the shield, which refetches from the origin: the new body.
    const again = await get(edges[0], '/p.mp3');
    assert.equal(again.body.toString(), 'new');
    assert.equal(origin.count('/p.mp3'), 2);
    // edge 1 was not purged: it still has the old copy (purge every edge, e.g. mediacdn purge).
    assert.equal((await get(edges[1], '/p.mp3')).body.toString(), 'old');
  });

  it('keeps its copy and answers 502 when the shield cannot confirm the purge', async () => {
    origin.route('/keep.mp3', { headers: { 'cache-control': 'max-age=600' }, body: 'k' });
    const orphanDir = tempDirSync('mediacdn-shield-');
    dirs.push(orphanDir);
    const lonely = await startEdge({ host: '127.0.0.1', port: 0, cacheDir: orphanDir, adminToken: ADMIN_TOKEN, zones: [{ host: ZONE, shield: shield.url, shieldAdmin: 'http://127.0.0.1:9' }] });
    try {
      await get(lonely, '/keep.mp3');
      const r = await request(`${lonely.url}/_mediacdn/purge`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ zone: ZONE }) });
      assert.equal(r.statusCode, 502);
      assert.match(await r.body.text(), /shield/);
      assert.equal((await get(lonely, '/keep.mp3')).xCache, 'HIT');
    } finally {
      await lonely.close();
    }
  });
});
