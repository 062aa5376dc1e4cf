// Edge scenarios for per-zone overrides: edge TTL and browser TTL replacing the origin's Cache-Control,
// query string handling (keep / ignore / sort) and CORS headers added by the edge.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { startEdge } from '../src/edge/server.ts';
import { startHarness } from './helpers/edge-harness.ts';
import { startTestOrigin } from './helpers/origin.ts';

describe('edge: TTL overrides', () => {
  it('edgeTtlSeconds stores what the origin marked no-store, for that long', async () => {
    const h = await startHarness({}, { edgeTtlSeconds: 60 });
    try {
      h.origin.route('/t', { headers: { 'cache-control': 'no-store', expires: 'Thu, 01 Jan 1970 00:00:00 GMT' }, body: 't' });
      assert.equal((await h.get('/t')).headers['x-cache'], 'MISS');
      h.clock.advance(59);
      const hit = await h.get('/t');
      assert.equal(hit.headers['x-cache'], 'HIT');
      // Without browserTtlSeconds the client gets the origin's own fields.
      assert.equal(hit.headers['cache-control'], 'no-store');
      h.clock.advance(2);
      assert.equal((await h.get('/t')).headers['x-cache'], 'MISS');
      assert.equal(h.origin.count('/t'), 2);
    } finally {
      await h.close();
    }
  });

  it('browserTtlSeconds replaces Cache-Control and drops Expires on cached responses, not on BYPASS', async () => {
    const h = await startHarness({}, { browserTtlSeconds: 30 });
    try {
      h.origin.route('/b', { headers: { 'cache-control': 'max-age=600, s-maxage=600', expires: 'Thu, 01 Jan 2099 00:00:00 GMT', etag: '"b"' }, body: 'b' });
      h.origin.route('/private', { headers: { 'cache-control': 'private, max-age=60' }, body: 'p' });
      for (const expected of ['MISS', 'HIT']) {
        const r = await h.get('/b');
        assert.equal(r.headers['x-cache'], expected);
        assert.equal(r.headers['cache-control'], 'public, max-age=30');
        assert.equal(r.headers['expires'], undefined);
      }
      const nm = await h.get('/b', { 'if-none-match': '"b"' });
      assert.equal(nm.status, 304);
      assert.equal(nm.headers['cache-control'], 'public, max-age=30');
      const p = await h.get('/private');
      assert.equal(p.headers['x-cache'], 'BYPASS');
      assert.equal(p.headers['cache-control'], 'private, max-age=60');
    } finally {
      await h.close();
    }
  });
});

describe('edge: query string handling', () => {
  const cases: [mode: 'keep' | 'ignore' | 'sort', requests: string[], originSaw: string[]][] = [
    ['keep', ['/q?b=1&a=2', '/q?a=2&b=1', '/q?b=1&a=2'], ['/q?b=1&a=2', '/q?a=2&b=1']],
    ['ignore', ['/q?utm=1', '/q?utm=2', '/q'], ['/q']],
    ['sort', ['/q?b=1&a=2', '/q?a=2&b=1', '/q?&a=2&&b=1'], ['/q?a=2&b=1']],
  ];
  for (const [mode, requests, originSaw] of cases) {
    it(`${mode}: ${requests.join(' ')} → origin saw ${originSaw.join(' ')}`, async () => {
      const h = await startHarness({}, { queryString: mode });
      try {
        h.origin.route('/q', (req, res) => {
          res.writeHead(200, { 'cache-control': 'max-age=600' });
          res.end(req.url);
        });
        for (const r of requests) assert.equal((await h.get(r)).status, 200);
        assert.deepEqual(h.origin.requests.map((r) => r.url), originSaw);
      } finally {
        await h.close();
      }
    });
  }
});

describe('edge: CORS headers', () => {
  it('adds Access-Control-Allow-Origin for a listed Origin, with Vary: Origin, on MISS and HIT', async () => {
    const h = await startHarness({}, { corsOrigins: ['https://player.example'] });
    try {
      h.origin.route('/c.mp3', { headers: { 'cache-control': 'max-age=600', vary: 'accept-encoding', 'access-control-allow-origin': 'https://origin-said.example' }, body: 'c' });
      for (const expected of ['MISS', 'HIT']) {
        const r = await h.get('/c.mp3', { origin: 'https://player.example' });
        assert.equal(r.headers['x-cache'], expected);
        assert.equal(r.headers['access-control-allow-origin'], 'https://player.example');
        assert.equal(r.headers['vary'], 'accept-encoding, Origin');
        assert.match(String(r.headers['access-control-expose-headers']), /Content-Range/);
      }
      const other = await h.get('/c.mp3', { origin: 'https://elsewhere.example' });
      assert.equal(other.headers['access-control-allow-origin'], 'https://origin-said.example');
      assert.equal(h.origin.count('/c.mp3'), 1);
    } finally {
      await h.close();
    }
  });

  it('answers a preflight itself, without asking the origin', async () => {
    const h = await startHarness({}, { corsOrigins: ['*'], corsMaxAgeSeconds: 600 });
    try {
      const r = await h.send('OPTIONS', '/c.mp3', { origin: 'https://any.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' });
      assert.equal(r.status, 204);
      assert.equal(r.headers['access-control-allow-origin'], '*');
      assert.equal(r.headers['access-control-allow-headers'], 'range');
      assert.equal(r.headers['access-control-max-age'], '600');
      assert.equal(h.origin.count(), 0);
      // Errors carry CORS too, so a player can read them.
      assert.equal((await h.get('/missing', { origin: 'https://any.example' })).headers['access-control-allow-origin'], '*');
    } finally {
      await h.close();
    }
  });

  it('a 304 carries the CORS fields of the 200 it stands for, from the origin (stored) and from the zone', async () => {
    // Our own origin sends Access-Control-Allow-Origin / -Expose-Headers on every media answer, 304s
    // included: a player's revalidation is unreadable by script without them (Fetch, CORS check).
    const clock = { now: Date.UTC(2025, 5, 1, 12, 0, 0) };
    const o = await startTestOrigin({ origin: { cacheControl: 'public, max-age=60' }, now: () => clock.now });
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-edge-cors-'));
    const zone = new URL(o.tl.lib.mediaUrl).hostname;
    const edge = await startEdge({ host: '127.0.0.1', port: 0, cacheDir, now: () => clock.now, zones: [{ host: zone, origin: o.url }, { host: 'cors.example', origin: o.url, corsOrigins: ['https://player.example'] }] });
    try {
      const item = await o.add('tone-3s.mp3');
      const target = new URL(item.url).pathname;
      const get = async (base: string, headers: Record<string, string>) => {
        const r = await request(`${base}${target}`, { headers });
        await r.body.arrayBuffer();
        return r;
      };
      const cors = (h: Record<string, unknown>) => [h['access-control-allow-origin'], h['access-control-expose-headers']];
      const player = { origin: 'https://player.example' };
      const fromOrigin = await get(o.url, player);
      const etag = String(fromOrigin.headers['etag']);
      const origin304 = await get(o.url, { ...player, 'if-none-match': etag });
      assert.equal(origin304.statusCode, 304);
      const expected = cors(fromOrigin.headers);
      assert.equal(expected[0], '*');
      assert.deepEqual(cors(origin304.headers), expected);

      const miss = await get(edge.url, { host: zone, ...player });
      assert.equal(miss.headers['x-cache'], 'MISS');
      assert.deepEqual(cors(miss.headers), expected);
      const hit304 = await get(edge.url, { host: zone, ...player, 'if-none-match': etag });
      assert.deepEqual([hit304.statusCode, hit304.headers['x-cache']], [304, 'HIT']);
      assert.deepEqual(cors(hit304.headers), expected, '304 from the cache');
      // Stale: the edge revalidates with the origin (which answers 304) and answers the client 304.
      clock.now += 120_000;
      const revalidated = await get(edge.url, { host: zone, ...player, 'if-none-match': etag });
      assert.deepEqual([revalidated.statusCode, revalidated.headers['x-cache']], [304, 'REVALIDATED']);
      assert.deepEqual(cors(revalidated.headers), expected, '304 after revalidation');
      const plain304 = await get(edge.url, { host: zone, 'if-none-match': etag });
      assert.deepEqual(cors(plain304.headers), expected, '304 to a request without Origin');

      // A zone with its own CORS list: its fields replace the stored ones on the 304 as on the 200.
      await get(edge.url, { host: 'cors.example', ...player });
      const zone200 = await get(edge.url, { host: 'cors.example', ...player });
      const zone304 = await get(edge.url, { host: 'cors.example', ...player, 'if-none-match': etag });
      assert.deepEqual([zone200.statusCode, zone304.statusCode], [200, 304]);
      assert.equal(zone304.headers['access-control-allow-origin'], 'https://player.example');
      assert.deepEqual(cors(zone304.headers), cors(zone200.headers));
      assert.equal(zone304.headers['vary'], zone200.headers['vary']);
    } finally {
      await edge.close();
      await o.close();
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
