// Edge scenarios: one client's request can change what other clients get only by legitimately
// refreshing the object. Padded headers, Authorization, request no-store and error answers from the
// origin neither evict a stored response nor switch caching off for the key.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness } from './helpers/edge-harness.ts';
import type { Harness, Reply } from './helpers/edge-harness.ts';

/** Node's (and so the origin's) default limit on a request head. */
const NODE_HEADER_LIMIT = 16 * 1024;

/** An X-Pad value that brings the request head to `total` bytes as the edge receives it. */
function pad(total: number, target: string, extra: Record<string, string> = {}): Record<string, string> {
  // Request line + Host + the headers undici adds are close to 100 bytes; the edge must not care.
  const base = `GET ${target} HTTP/1.1\r\nhost: cdn.example.com\r\nconnection: keep-alive\r\n` +
    Object.entries(extra).map(([k, v]) => `${k}: ${v}\r\n`).join('') + 'x-pad: \r\n\r\n';
  return { ...extra, 'x-pad': 'p'.repeat(Math.max(0, total - base.length)) };
}

/** 200, or 431 from the edge itself (its listener, or its check before forwarding); never the origin's refusal. */
function assertNotRefusedByOrigin(r: Reply, total: number): void {
  if (r.status === 200) return;
  assert.equal(r.status, 431, `padded to ${total}`);
  const fromListener = r.headers['via'] === undefined;
  const fromForwardCheck = r.body.toString().includes('too large to forward');
  assert.ok(fromListener || fromForwardCheck, `padded to ${total}: a 431 relayed from the origin`);
}

describe('edge: a padded request cannot evict or uncache an object', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('a cached object stays a HIT for others after no-cache requests padded to every size near the limit', async () => {
    h.origin.route('/song.mp3', { headers: { 'cache-control': 'max-age=31536000', etag: '"s1"' }, body: 'song bytes', validate: true });
    assert.equal((await h.get('/song.mp3')).headers['x-cache'], 'MISS');
    for (let total = NODE_HEADER_LIMIT - 400; total <= NODE_HEADER_LIMIT + 100; total += 25) {
      const r = await h.get('/song.mp3', pad(total, '/song.mp3', { 'cache-control': 'no-cache' }));
      // Whatever the padded client gets (REVALIDATED, or 431 from the edge), it is never the origin's
      // refusal of what the edge added, and everyone else still gets the stored copy.
      assertNotRefusedByOrigin(r, total);
      const other = await h.get('/song.mp3');
      assert.equal(other.headers['x-cache'], 'HIT', `after a request padded to ${total}`);
      assert.equal(other.body.toString(), 'song bytes');
    }
    // The origin only ever saw requests it could parse.
    assert.equal(h.origin.requests.filter((r) => r.url === '/song.mp3').every((r) => r.method === 'GET'), true);
  });

  it('a cold object padded near the limit does not make others BYPASS', async () => {
    for (let total = NODE_HEADER_LIMIT - 300; total <= NODE_HEADER_LIMIT + 100; total += 25) {
      const path = `/cold-${total}.mp3`;
      h.origin.route(path, { headers: { 'cache-control': 'max-age=31536000' }, body: 'cold' });
      const r = await h.get(path, pad(total, path));
      assertNotRefusedByOrigin(r, total);
      const first = await h.get(path);
      assert.equal(first.status, 200);
      assert.notEqual(first.headers['x-cache'], 'BYPASS', `after a request padded to ${total}`);
      const second = await h.get(path);
      assert.equal(second.headers['x-cache'], 'HIT', `after a request padded to ${total}`);
    }
  });

  it('answers 431 itself rather than forward a head the origin would refuse', async () => {
    h.origin.route('/big.mp3', { headers: { 'cache-control': 'max-age=600' }, body: 'big' });
    const before = h.origin.count('/big.mp3');
    const r = await h.get('/big.mp3', pad(NODE_HEADER_LIMIT - 60, '/big.mp3'));
    assert.equal(r.status, 431);
    assert.equal(h.origin.count('/big.mp3'), before);
  });
});

describe('edge: originMaxHeaderBytes', () => {
  it('refuses to forward a head over the origin limit, and still serves it from the cache', async () => {
    const h = await startHarness({}, { originMaxHeaderBytes: 4096 });
    try {
      h.origin.route('/small-limit', { headers: { 'cache-control': 'max-age=600' }, body: 'x' });
      const refused = await h.get('/small-limit', pad(5000, '/small-limit'));
      assert.equal(refused.status, 431);
      assert.equal(refused.headers['cache-control'], 'no-store');
      assert.equal(h.origin.count('/small-limit'), 0);
      assert.equal((await h.get('/small-limit')).headers['x-cache'], 'MISS');
      // A hit forwards nothing: the same padded request is answered from the cache.
      const hit = await h.get('/small-limit', pad(5000, '/small-limit'));
      assert.equal(hit.status, 200);
      assert.equal(hit.headers['x-cache'], 'HIT');
      assert.equal(h.origin.count('/small-limit'), 1);
    } finally {
      await h.close();
    }
  });
});

describe('edge: error answers to one client stay with that client', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  /** An origin that refuses requests carrying X-Evil with `status` (and serves everyone else). */
  function picky(path: string, status: number, errorHeaders: Record<string, string> = {}): void {
    h.origin.route(path, (req, res) => {
      if (req.headers['x-evil'] !== undefined) {
        res.writeHead(status, { 'content-type': 'text/plain', ...errorHeaders });
        res.end('refused');
        return;
      }
      res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"p"' });
      res.end('good');
    });
  }

  for (const status of [400, 403, 404, 413, 431, 500, 503]) {
    it(`a ${status} to a no-cache revalidation keeps the stored copy for everyone`, async () => {
      const path = `/reval-${status}`;
      picky(path, status);
      await h.get(path);
      const bad = await h.get(path, { 'x-evil': '1', 'cache-control': 'no-cache' });
      assert.equal(bad.status, status >= 500 ? 200 : status);
      const other = await h.get(path);
      assert.equal(other.headers['x-cache'], 'HIT');
      assert.equal(other.body.toString(), 'good');
      assert.equal(h.origin.requests.filter((x) => x.url === path && x.headers['x-evil'] === undefined).length, 1);
    });

    it(`a ${status} to a fill does not switch caching off for the key`, async () => {
      const path = `/fill-${status}`;
      picky(path, status);
      assert.equal((await h.get(path, { 'x-evil': '1' })).status, status);
      assert.equal((await h.get(path)).headers['x-cache'], 'MISS');
      assert.equal((await h.get(path)).headers['x-cache'], 'HIT');
    });
  }

  it('a storable error answer to one client does not replace the stored 200', async () => {
    picky('/stored-err', 400, { 'cache-control': 'max-age=600' });
    await h.get('/stored-err');
    const bad = await h.get('/stored-err', { 'x-evil': '1', 'cache-control': 'no-cache' });
    assert.equal(bad.status, 400);
    const other = await h.get('/stored-err');
    assert.equal(other.status, 200);
    assert.equal(other.headers['x-cache'], 'HIT');
  });

  it('a request with Authorization or no-store neither evicts the object nor makes others BYPASS', async () => {
    h.origin.route('/auth', { headers: { 'cache-control': 'max-age=600', etag: '"a"' }, body: 'shared', validate: true });
    // Cold: the key stays cacheable after a request the edge may not store for.
    assert.equal((await h.get('/auth', { authorization: 'Bearer x' })).status, 200);
    assert.equal((await h.get('/auth', { 'cache-control': 'no-store' })).status, 200);
    assert.equal((await h.get('/auth')).headers['x-cache'], 'MISS');
    // Warm: a no-store, no-cache request is answered by the origin and leaves the copy in place.
    assert.equal((await h.get('/auth', { 'cache-control': 'no-cache, no-store' })).status, 200);
    assert.equal((await h.get('/auth', { authorization: 'Bearer x', 'cache-control': 'no-cache' })).status, 200);
    const other = await h.get('/auth');
    assert.equal(other.headers['x-cache'], 'HIT');
    assert.equal(other.body.toString(), 'shared');
  });
});
