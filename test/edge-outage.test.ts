// Edge scenarios for origin outages: stale-if-error when the origin refuses connections, answers 5xx,
// hangs past the timeout or resets; stale-while-revalidate with exactly one background refresh per key.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness } from './helpers/edge-harness.ts';
import type { Harness } from './helpers/edge-harness.ts';

describe('edge: stale-if-error (on by default)', () => {
  let h: Harness;
  before(async () => {
    // A short first-byte timeout so that a hanging origin is detected quickly (nothing asserts on it).
    h = await startHarness({}, { headersTimeoutMs: 300 });
  });
  after(() => h.close());

  let n = 0;
  /** A stale entry (max-age 10, 30 s old) served by a route that can be switched to fail. */
  async function staleEntry(cacheControl = 'max-age=10', validator = true): Promise<{ path: string; fail: (how: (res: import('node:http').ServerResponse) => void) => void }> {
    const path = `/o${++n}.mp3`;
    let failure: ((res: import('node:http').ServerResponse) => void) | undefined;
    h.origin.route(path, (_req, res) => {
      if (failure) return failure(res);
      res.writeHead(200, { 'cache-control': cacheControl, ...(validator ? { etag: `"v${n}"` } : {}), 'content-type': 'audio/mpeg' });
      res.end(`body of ${path}`);
    });
    assert.equal((await h.get(path)).headers['x-cache'], 'MISS');
    h.clock.advance(30);
    return { path, fail: (how) => (failure = how) };
  }

  it('serves STALE when the origin answers 500 (no retry: 500 is an answer, not a transient)', async () => {
    const e = await staleEntry();
    const before = await h.totals();
    e.fail((res) => {
      res.writeHead(500);
      res.end('broken');
    });
    const r = await h.get(e.path);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-cache'], 'STALE');
    assert.equal(r.body.toString(), `body of ${e.path}`);
    assert.equal(r.headers['age'], '30');
    assert.equal(h.origin.count(e.path), 2);
    const after = await h.totals();
    assert.equal(after.staleIfErrorServed - before.staleIfErrorServed, 1);
    assert.equal((after.originNon2xx['500'] ?? 0) - (before.originNon2xx['500'] ?? 0), 1);
  });

  it('serves STALE when the origin answers 503 (not retried: the zone lists no retryOnStatus)', async () => {
    const e = await staleEntry();
    e.fail((res) => {
      res.writeHead(503);
      res.end('busy');
    });
    const before = await h.totals();
    const r = await h.get(e.path);
    assert.equal(r.headers['x-cache'], 'STALE');
    assert.equal(h.origin.count(e.path), 1 + 1);
    assert.equal((await h.totals()).originRetries - before.originRetries, 0);
  });

  it('serves STALE when the origin hangs past the first-byte timeout, after its bounded retries', async () => {
    const e = await staleEntry();
    e.fail(() => {
      // never answers
    });
    const r = await h.get(e.path);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-cache'], 'STALE');
    // The fill, then one request plus the default two retries.
    assert.equal(h.origin.count(e.path), 1 + 3);
  });

  it('serves STALE when the origin resets the connection (retried, then stale)', async () => {
    const e = await staleEntry();
    e.fail((res) => res.socket?.destroy());
    const before = await h.totals();
    const r = await h.get(e.path);
    assert.equal(r.headers['x-cache'], 'STALE');
    assert.equal(h.origin.count(e.path), 1 + 3);
    const after = await h.totals();
    assert.equal(after.originErrors - before.originErrors, 3);
    assert.equal(after.originRetries - before.originRetries, 2);
  });

  it('serves STALE for an entry without validators too (refetch fails → stale)', async () => {
    const e = await staleEntry('max-age=10', false);
    e.fail((res) => {
      res.writeHead(502);
      res.end();
    });
    const r = await h.get(e.path);
    assert.equal(r.headers['x-cache'], 'STALE');
    assert.equal(r.body.toString(), `body of ${e.path}`);
  });

  it('does not serve stale past must-revalidate: the 5xx goes to the client', async () => {
    const e = await staleEntry('max-age=10, must-revalidate');
    e.fail((res) => {
      res.writeHead(500);
      res.end('broken');
    });
    const r = await h.get(e.path);
    assert.equal(r.status, 500);
    assert.equal(r.headers['x-cache'], 'BYPASS');
  });

  it('keeps the stored copy through the outage and caches the fresh answer after it', async () => {
    const e = await staleEntry();
    e.fail((res) => {
      res.writeHead(500);
      res.end();
    });
    assert.equal((await h.get(e.path)).headers['x-cache'], 'STALE');
    assert.equal((await h.get(e.path)).headers['x-cache'], 'STALE');
    e.fail((res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"new"' });
      res.end('new body');
    });
    const fresh = await h.get(e.path);
    assert.equal(fresh.headers['x-cache'], 'MISS');
    assert.equal(fresh.body.toString(), 'new body');
    assert.equal((await h.get(e.path)).headers['x-cache'], 'HIT');
  });

  it('serves STALE when the origin is stopped (connection refused), and 502 for what it never had', async () => {
    const e = await staleEntry();
    const before = await h.totals();
    await h.origin.stop();
    try {
      const r = await h.get(e.path);
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-cache'], 'STALE');
      assert.equal(r.body.toString(), `body of ${e.path}`);
      const never = await h.get('/never-cached.mp3');
      assert.equal(never.status, 502);
      assert.match(never.body.toString(), /could not be reached/);
      const after = await h.totals();
      assert.equal(after.staleIfErrorServed - before.staleIfErrorServed, 1);
      // Two requests, each tried three times, all refused.
      assert.equal((after.originErrorsByCode['ECONNREFUSED'] ?? 0) - (before.originErrorsByCode['ECONNREFUSED'] ?? 0), 6);
      assert.equal(after.originRetries - before.originRetries, 4);
    } finally {
      await h.origin.resume();
    }
  });
});

describe('edge: stale-if-error window', () => {
  it('ends with the zone window: past it, the origin error reaches the client', async () => {
    const h = await startHarness({}, { staleIfErrorSeconds: 60, retries: 0 });
    try {
      h.origin.route('/w', { headers: { 'cache-control': 'max-age=10', etag: '"w"' }, body: 'w' });
      await h.get('/w');
      await h.origin.stop();
      h.clock.advance(10 + 50);
      assert.equal((await h.get('/w')).headers['x-cache'], 'STALE');
      h.clock.advance(20);
      const r = await h.get('/w');
      assert.equal(r.status, 502);
      assert.equal(h.origin.count('/w'), 1);
    } finally {
      await h.close();
    }
  });

  it('is off with staleIfErrorSeconds 0 unless the origin sent stale-if-error', async () => {
    const h = await startHarness({ staleIfErrorSeconds: 0, retries: 0 });
    try {
      h.origin.route('/off', { headers: { 'cache-control': 'max-age=10' }, body: 'x' });
      h.origin.route('/on', { headers: { 'cache-control': 'max-age=10, stale-if-error=100' }, body: 'y' });
      await h.get('/off');
      await h.get('/on');
      await h.origin.stop();
      h.clock.advance(30);
      assert.equal((await h.get('/off')).status, 502);
      assert.equal((await h.get('/on')).headers['x-cache'], 'STALE');
    } finally {
      await h.close();
    }
  });
});

describe('edge: origin known to be down', () => {
  for (const downMs of [60_000, 0]) {
    it(`${downMs > 0 ? 'answers stale at once' : 'tries the origin every time'} after a refused connection with originDownMs ${downMs}`, async () => {
      const h = await startHarness({ originDownMs: downMs });
      try {
        for (const p of ['/d1', '/d2', '/d3']) {
          h.origin.route(p, { headers: { 'cache-control': 'max-age=10' }, body: p });
          await h.get(p);
        }
        await h.origin.stop();
        h.clock.advance(30);
        for (const p of ['/d1', '/d2', '/d3']) assert.equal((await h.get(p)).headers['x-cache'], 'STALE');
        const t = await h.totals();
        // One request with its two retries found the origin down; with the window, the others did not try.
        assert.equal(t.originErrors, downMs > 0 ? 3 : 9);
        assert.equal(t.staleIfErrorServed, 3);
        // Something never cached still tries the origin (there is nothing to fall back on).
        assert.equal((await h.get('/new')).status, 502);
      } finally {
        await h.close();
      }
    });
  }
});

describe('edge: stale-while-revalidate', () => {
  it('serves STALE at once and makes exactly one background refresh for many concurrent requests', async () => {
    const h = await startHarness();
    try {
      let version = 1;
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => (release = r));
      h.origin.route('/swr.mp3', (_req, res) => {
        const v = version++;
        const answer = () => {
          res.writeHead(200, { 'cache-control': 'max-age=10, stale-while-revalidate=60', etag: `"${v}"` });
          res.end(`version ${v}`);
        };
        // The refresh (second request) waits until the test has sent its burst.
        if (v === 1) answer();
        else void gate.then(answer);
      });
      assert.equal((await h.get('/swr.mp3')).body.toString(), 'version 1');
      h.clock.advance(30);
      const burst = await Promise.all(Array.from({ length: 20 }, () => h.get('/swr.mp3')));
      for (const r of burst) {
        assert.equal(r.headers['x-cache'], 'STALE');
        assert.equal(r.body.toString(), 'version 1');
      }
      release();
      await h.edge.idle();
      assert.equal(h.origin.count('/swr.mp3'), 2);
      const after = await h.get('/swr.mp3');
      assert.equal(after.headers['x-cache'], 'HIT');
      assert.equal(after.body.toString(), 'version 2');
      assert.equal((await h.totals()).staleWhileRevalidateRefreshes, 1);
    } finally {
      await h.close();
    }
  });

  it('applies the zone default window when the origin sent none, and revalidates past it', async () => {
    const h = await startHarness({}, { staleWhileRevalidateSeconds: 30 });
    try {
      h.origin.route('/d', { headers: { 'cache-control': 'max-age=10', etag: '"d"' }, body: 'd', validate: true });
      await h.get('/d');
      h.clock.advance(20);
      assert.equal((await h.get('/d')).headers['x-cache'], 'STALE');
      await h.edge.idle();
      assert.equal(h.origin.count('/d'), 2);
      // The 304 refreshed the entry: fresh again.
      assert.equal((await h.get('/d')).headers['x-cache'], 'HIT');
      h.clock.advance(10 + 31);
      assert.equal((await h.get('/d')).headers['x-cache'], 'REVALIDATED');
    } finally {
      await h.close();
    }
  });

  it('a background refresh that fails leaves the stale copy for the next request', async () => {
    const h = await startHarness();
    try {
      h.origin.route('/f', { headers: { 'cache-control': 'max-age=10, stale-while-revalidate=60' }, body: 'f' });
      await h.get('/f');
      await h.origin.stop();
      h.clock.advance(20);
      assert.equal((await h.get('/f')).headers['x-cache'], 'STALE');
      await h.edge.idle();
      assert.equal((await h.get('/f')).headers['x-cache'], 'STALE');
      await h.edge.idle();
      assert.equal((await h.totals()).staleWhileRevalidateRefreshes, 2);
    } finally {
      await h.close();
    }
  });
});
