// Edge scenarios for purge: POST /_mediacdn/purge by URL, prefix and zone, from memory and disk, with
// the admin token; the purge client; media deletion through the real origin purging the edge.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { startEdge } from '../src/edge/server.ts';
import { purgeFleet } from '../src/edge/control/purge-client.ts';
import { recordAndPurge } from '../src/cli/purge-fleet.ts';
import { ADMIN_TOKEN, ZONE, bytes, startHarness } from './helpers/edge-harness.ts';
import type { Harness } from './helpers/edge-harness.ts';
import { startTestOrigin } from './helpers/origin.ts';

async function filesUnder(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name !== 'stats.json') n++;
  return n;
}

describe('edge: purge endpoint', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ memoryObjectMaxBytes: 8_000 });
  });
  after(() => h.close());

  /** Fetches each path once (paths ending in .mp3 are 9000 bytes, over the memory tier's object limit). */
  async function warm(paths: string[]): Promise<void> {
    for (const p of paths) {
      if (h.origin.count(p) === 0) h.origin.route(p, { headers: { 'cache-control': 'max-age=600' }, body: bytes(p.endsWith('.mp3') ? 9000 : 1000, p.length) });
      await h.get(p);
    }
    // Disk writes finish after the response.
    await h.edge.idle();
  }

  it('purges one URL from memory and disk and says how many entries went', async () => {
    await warm(['/m/a.ogg', '/m/b.mp3']);
    const usage = h.edge.usage();
    assert.equal(usage.disk?.entries, 2);
    assert.equal(usage.memory?.entries, 1); // /m/b.mp3 is over memoryObjectMaxBytes: disk only
    const r = await h.control('POST', '/_mediacdn/purge', { url: `http://${ZONE}/m/a.ogg` });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body.toString()), { removed: 1 });
    assert.equal(h.edge.usage().disk?.entries, 1);
    assert.equal(h.edge.usage().memory?.entries, 0);
    assert.equal(await filesUnder(path.join(h.cacheDir, ZONE)), 2); // one entry: body + metadata
    assert.equal((await h.get('/m/a.ogg')).headers['x-cache'], 'MISS');
    assert.equal((await h.get('/m/b.mp3')).headers['x-cache'], 'HIT');
    await h.control('POST', '/_mediacdn/purge', { url: `http://${ZONE}/m/b.mp3` });
    assert.equal((await h.get('/m/b.mp3')).headers['x-cache'], 'MISS');
  });

  it('purges by URL prefix, on disk too', async () => {
    await h.control('POST', '/_mediacdn/purge', { zone: ZONE });
    await warm(['/p/one.mp3', '/p/two.ogg', '/q/three.mp3']);
    const r = await h.control('POST', '/_mediacdn/purge', { prefix: `http://${ZONE}/p/` });
    assert.deepEqual(JSON.parse(r.body.toString()), { removed: 2 });
    assert.equal(h.edge.usage().disk?.entries, 1);
    assert.equal((await h.get('/q/three.mp3')).headers['x-cache'], 'HIT');
    assert.equal((await h.get('/p/one.mp3')).headers['x-cache'], 'MISS');
  });

  it('purges a whole zone, every variant counted, and the disk folder is empty', async () => {
    await h.control('POST', '/_mediacdn/purge', { zone: ZONE });
    h.origin.route('/v', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'accept-language' });
      res.end(String(req.headers['accept-language']));
    });
    await h.get('/v', { 'accept-language': 'en' });
    await h.get('/v', { 'accept-language': 'fr' });
    await warm(['/z1', '/z2']);
    const r = await h.control('POST', '/_mediacdn/purge', { zone: ZONE.toUpperCase() });
    assert.deepEqual(JSON.parse(r.body.toString()), { removed: 4 });
    assert.equal(await filesUnder(path.join(h.cacheDir, ZONE)), 0, (await readdir(h.cacheDir, { recursive: true })).join(' '));
    assert.deepEqual(h.edge.usage(), { memory: { bytes: 0, entries: 0 }, disk: { bytes: 0, entries: 0 } });
  });

  it('answers on any Host, and never forwards /_mediacdn/ to the origin', async () => {
    const r = await request(`${h.edge.url}/_mediacdn/purge`, {
      method: 'POST',
      headers: { host: 'whatever.invalid', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ zone: ZONE }),
    });
    assert.equal(r.statusCode, 200);
    await r.body.text();
    assert.equal((await h.get('/_mediacdn/nothing')).status, 404);
    assert.equal(h.origin.requests.filter((x) => x.url.startsWith('/_mediacdn')).length, 0);
  });

  const refusals: [name: string, token: string | undefined, body: unknown, status: number][] = [
    ['no token', undefined, { zone: ZONE }, 401],
    ['a wrong token', 'not-the-token', { zone: ZONE }, 401],
    ['a body that is none of url / prefix / zone', ADMIN_TOKEN, { path: '/x' }, 400],
    ['a relative URL', ADMIN_TOKEN, { url: '/m/a.mp3' }, 400],
    ['an unknown zone', ADMIN_TOKEN, { url: 'http://other.example/x' }, 404],
  ];
  for (const [name, token, body, status] of refusals) {
    it(`refuses ${name} with ${status}`, async () => {
      const headers: Record<string, string> = { host: ZONE };
      if (token) headers['authorization'] = `Bearer ${token}`;
      const r = await request(`${h.edge.url}/_mediacdn/purge`, { method: 'POST', headers, body: JSON.stringify(body) });
      assert.equal(r.statusCode, status);
      if (status === 401) assert.equal(r.headers['www-authenticate'], 'Bearer realm="mediacdn"');
      await r.body.text();
    });
  }

  it('refuses GET on the purge endpoint with 405', async () => {
    const r = await h.control('GET', '/_mediacdn/purge');
    assert.equal(r.status, 405);
    assert.equal(r.headers['allow'], 'POST');
  });

  it('purges through the purge client, reporting each edge done or pending after bounded retries', async () => {
    await warm(['/c/x.mp3']);
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    const dests = [{ name: 'here', url: h.edge.url }, { name: 'nowhere', url: 'http://127.0.0.1:9' }];
    const results = await purgeFleet([dests], { url: `http://${ZONE}/c/x.mp3` }, { token: ADMIN_TOKEN, timeoutMs: 2000, attempts: 3, backoffMs: 100, sleep });
    assert.deepEqual(results[0], { edge: 'here', url: h.edge.url, state: 'done', removed: 1, attempts: 1 });
    assert.equal(results[1].state, 'pending');
    assert.equal(results[1].attempts, 3);
    assert.match(results[1].state === 'pending' ? results[1].reason : '', /^unreachable: .*\(after 3 attempts\)$/);
    assert.deepEqual(waits, [100, 200], 'backoff doubles between attempts');
    // A refusal is not retried.
    const denied = await purgeFleet([[dests[0]]], { zone: ZONE }, { token: 'wrong-token-wrong-token', sleep });
    assert.deepEqual([denied[0].state, denied[0].attempts, denied[0].state === 'pending' && denied[0].status], ['pending', 1, 401]);
    // An edge that does not serve the zone holds nothing of it: done.
    const other = await purgeFleet([[dests[0]]], { zone: 'other.example' }, { token: ADMIN_TOKEN, sleep });
    assert.deepEqual([other[0].state, other[0].state === 'done' && other[0].note], ['done', 'zone not served here']);
  });
});

describe('edge: purge applies the zone query string handling', () => {
  it('with queryString ignore, purging a URL with a query purges the path', async () => {
    const h = await startHarness({}, { queryString: 'ignore' });
    try {
      h.origin.route('/i', { headers: { 'cache-control': 'max-age=600' }, body: 'i' });
      await h.get('/i?utm=1');
      const r = await h.control('POST', '/_mediacdn/purge', { url: `http://${ZONE}/i?other=2` });
      assert.deepEqual(JSON.parse(r.body.toString()), { removed: 1 });
    } finally {
      await h.close();
    }
  });
});

describe('edge: control endpoints without a token', () => {
  it('are refused with 403 when the edge has no admin token', async () => {
    const h = await startHarness({ adminToken: undefined });
    try {
      const r = await h.control('POST', '/_mediacdn/purge', { zone: ZONE });
      assert.equal(r.status, 403);
      assert.equal((await h.get('/_mediacdn/health')).status, 200);
    } finally {
      await h.close();
    }
  });
});

describe('edge: media deletion through the origin purges the edge', () => {
  it('DELETE /api/media/<id> on the origin removes the media URL from the edge', async () => {
    const pending: Promise<{ results: unknown[] }>[] = [];
    let edgeUrl = '';
    const o = await startTestOrigin({
      onMediaDeleted: (item) => {
        pending.push(recordAndPurge({ db: undefined, targets: [{ url: item.url }], waves: [[{ name: 'e', url: edgeUrl }]], client: { token: ADMIN_TOKEN } }));
      },
    });
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-edge-purge-'));
    const zone = new URL(o.tl.lib.mediaUrl).hostname;
    const edge = await startEdge({ host: '127.0.0.1', port: 0, cacheDir, adminToken: ADMIN_TOKEN, zones: [{ host: zone, origin: o.url }] });
    edgeUrl = edge.url;
    try {
      const item = await o.add('tone-3s.mp3');
      const mediaPath = new URL(item.url).pathname;
      const get = async () => {
        const r = await request(`${edge.url}${mediaPath}`, { headers: { host: zone } });
        await r.body.arrayBuffer();
        return r;
      };
      assert.equal((await get()).statusCode, 200);
      const hit = await get();
      assert.equal(hit.headers['x-cache'], 'HIT');
      const del = await request(`${o.url}/api/media/${item.id}`, { method: 'DELETE', headers: o.auth });
      assert.equal(del.statusCode < 300, true, `delete answered ${del.statusCode}`);
      await del.body.text();
      const results = (await Promise.all(pending)).flatMap((r) => r.results) as Array<{ state: string; removed?: number }>;
      assert.deepEqual(results.map((r) => [r.state, r.removed]), [['done', 1]], JSON.stringify(results));
      const gone = await get();
      assert.notEqual(gone.headers['x-cache'], 'HIT');
      assert.equal(gone.statusCode, 404);
    } finally {
      await edge.close();
      await o.close();
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});

describe('edge: a purge during a fill', () => {
  /** An origin route answering `old` (head and half the body, the rest on release) until switched to `fresh`. */
  function versionedRoute(h: Harness, target: string, old: Buffer, fresh: Buffer) {
    let current: 'old' | 'fresh' = 'old';
    let releaseOld: () => void = () => {};
    const oldReleased = new Promise<void>((r) => (releaseOld = r));
    h.origin.route(target, (_req, res) => {
      const body = current === 'old' ? old : fresh;
      res.writeHead(200, { 'content-length': String(body.length), 'cache-control': 'max-age=600' });
      if (current === 'fresh') return res.end(body);
      res.write(body.subarray(0, body.length / 2));
      void oldReleased.then(() => res.end(body.subarray(body.length / 2)));
    });
    return { switchToFresh: () => (current = 'fresh'), releaseOld };
  }

  it('does not store the old copy when the purge arrives while the body is still coming', async () => {
    const h = await startHarness();
    try {
      const old = bytes(64 * 1024, 1);
      const fresh = bytes(64 * 1024, 2);
      const route = versionedRoute(h, '/f/x.mp3', old, fresh);
      const first = request(`${h.edge.url}/f/x.mp3`, { headers: { host: ZONE } });
      const firstRes = await first; // head arrived: the fill is in flight
      route.switchToFresh();
      const purged = await h.control('POST', '/_mediacdn/purge', { url: `http://${ZONE}/f/x.mp3` });
      assert.equal(purged.status, 200);
      // A request after the purge must not join the fill of the old copy.
      const during = await h.get('/f/x.mp3');
      assert.ok(during.body.equals(fresh), 'a request after the purge got the old bytes');
      route.releaseOld();
      assert.ok(Buffer.from(await firstRes.body.arrayBuffer()).equals(old)); // the client that came first gets what it asked for
      await h.edge.idle();
      const later = await h.get('/f/x.mp3');
      assert.ok(later.body.equals(fresh), `after the old fill ended the edge answered the old copy (${later.headers['x-cache']})`);
    } finally {
      await h.close();
    }
  });

  it('does not store the old copy when a whole-zone purge arrives mid-fill, across a restart', async () => {
    const h = await startHarness();
    try {
      const old = bytes(32 * 1024, 3);
      const fresh = bytes(32 * 1024, 4);
      const route = versionedRoute(h, '/f/y.mp3', old, fresh);
      const firstRes = await request(`${h.edge.url}/f/y.mp3`, { headers: { host: ZONE } });
      route.switchToFresh();
      await h.control('POST', '/_mediacdn/purge', { zone: ZONE });
      route.releaseOld();
      await firstRes.body.arrayBuffer();
      await h.edge.idle();
      await h.restart();
      const next = await h.get('/f/y.mp3');
      assert.ok(next.body.equals(fresh), `served ${next.headers['x-cache']} with the old bytes`);
      assert.equal(next.headers['x-cache'], 'MISS');
    } finally {
      await h.close();
    }
  });

  it('still stores a fill when an unrelated URL is purged meanwhile', async () => {
    const h = await startHarness();
    try {
      const body = bytes(16 * 1024, 5);
      const route = versionedRoute(h, '/f/z.mp3', body, body);
      const res = await request(`${h.edge.url}/f/z.mp3`, { headers: { host: ZONE } });
      await h.control('POST', '/_mediacdn/purge', { url: `http://${ZONE}/f/other.mp3` });
      route.releaseOld();
      await res.body.arrayBuffer();
      await h.edge.idle();
      assert.equal((await h.get('/f/z.mp3')).headers['x-cache'], 'HIT');
      assert.equal(h.origin.count('/f/z.mp3'), 1);
    } finally {
      await h.close();
    }
  });
});
