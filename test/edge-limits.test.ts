// Edge scenarios for limits: token-bucket rate limit per client IP (429 + Retry-After), concurrent
// requests per IP, IPv4 and IPv6 CIDR block lists (403), X-Forwarded-For believed from trusted proxies only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { ZONE, startHarness } from './helpers/edge-harness.ts';

describe('edge: rate limit per client IP', () => {
  it('answers 429 with Retry-After once the burst is spent, and again after the refill', async () => {
    const h = await startHarness({}, { rateLimit: { requestsPerSecond: 0.5, burst: 2 } });
    try {
      h.origin.route('/r', { headers: { 'cache-control': 'max-age=600' }, body: 'r' });
      assert.equal((await h.get('/r')).status, 200);
      assert.equal((await h.get('/r')).status, 200);
      const limited = await h.get('/r');
      assert.equal(limited.status, 429);
      assert.equal(limited.headers['retry-after'], '2');
      h.clock.advance(2);
      assert.equal((await h.get('/r')).status, 200);
      assert.equal((await h.get('/r')).status, 429);
      const t = await h.totals();
      assert.equal(t.responses['4xx'], 2);
      assert.equal(h.origin.count('/r'), 1);
    } finally {
      await h.close();
    }
  });

  it('keys the bucket by X-Forwarded-For only behind a trusted proxy', async () => {
    const h = await startHarness({ trustedProxies: ['127.0.0.1'] }, { rateLimit: { requestsPerSecond: 1, burst: 1 } });
    try {
      h.origin.route('/x', { headers: { 'cache-control': 'max-age=600' }, body: 'x' });
      assert.equal((await h.get('/x', { 'x-forwarded-for': '203.0.113.5' })).status, 200);
      assert.equal((await h.get('/x', { 'x-forwarded-for': '203.0.113.6' })).status, 200);
      assert.equal((await h.get('/x', { 'x-forwarded-for': '203.0.113.5' })).status, 429);
      // A client-written entry further left does not change who the proxy says it is.
      assert.equal((await h.get('/x', { 'x-forwarded-for': '198.51.100.1, 203.0.113.6' })).status, 429);
    } finally {
      await h.close();
    }
    const untrusted = await startHarness({}, { rateLimit: { requestsPerSecond: 1, burst: 1 } });
    try {
      untrusted.origin.route('/x', { headers: { 'cache-control': 'max-age=600' }, body: 'x' });
      assert.equal((await untrusted.get('/x', { 'x-forwarded-for': '203.0.113.5' })).status, 200);
      // Without a trusted proxy the header is ignored: same socket address, same bucket.
      assert.equal((await untrusted.get('/x', { 'x-forwarded-for': '203.0.113.6' })).status, 429);
    } finally {
      await untrusted.close();
    }
  });
});

describe('edge: concurrent requests per IP', () => {
  it('refuses a request beyond maxConnectionsPerIp with 429 while the others are in flight', async () => {
    const h = await startHarness({ maxConnectionsPerIp: 2 });
    try {
      const waiting: Array<() => void> = [];
      h.origin.route('/slow', (_req, res) => {
        waiting.push(() => {
          res.writeHead(200, { 'cache-control': 'no-store' });
          res.end('slow');
        });
      });
      // Two different URLs, so the edge does not coalesce them into one origin request.
      const inFlight = [h.get('/slow?1'), h.get('/slow?2')];
      while (waiting.length < 2) await new Promise((r) => setImmediate(r));
      const third = await h.get('/slow');
      assert.equal(third.status, 429);
      assert.equal(third.headers['retry-after'], '1');
      for (const w of waiting) w();
      for (const r of await Promise.all(inFlight)) assert.equal(r.status, 200);
      h.origin.route('/slow', { body: 'fast now' });
      assert.equal((await h.get('/slow')).status, 200);
    } finally {
      await h.close();
    }
  });
});

describe('edge: IP and CIDR block lists', () => {
  async function from(url: string, address: '127.0.0.1' | '::1', headers: Record<string, string> = {}): Promise<number> {
    const port = new URL(url).port;
    const host = address === '::1' ? '[::1]' : address;
    const r = await request(`http://${host}:${port}/b`, { headers: { host: ZONE, ...headers } });
    await r.body.text();
    return r.statusCode;
  }

  const rows: [name: string, edgeList: string[], zoneList: string[], v4: number, v6: number][] = [
    ['an IPv4 CIDR blocks 127.0.0.1 but not ::1', ['127.0.0.0/8'], [], 403, 200],
    ['an IPv6 address blocks ::1 but not 127.0.0.1', ['::1'], [], 200, 403],
    ['an IPv6 CIDR in the zone list blocks ::1', [], ['::/120'], 200, 403],
    ['the IPv4-mapped form of a block matches the IPv4 client', [], ['::ffff:127.0.0.0/104'], 403, 200],
    ['a list that matches neither lets both through', ['10.0.0.0/8', '2001:db8::/32'], [], 200, 200],
  ];
  for (const [name, edgeList, zoneList, v4, v6] of rows) {
    it(`${name} (edge on ::, dual stack)`, async () => {
      const h = await startHarness({ host: '::', blockList: edgeList }, { blockList: zoneList });
      try {
        h.origin.route('/b', { headers: { 'cache-control': 'max-age=600' }, body: 'b' });
        assert.equal(await from(h.edge.url, '127.0.0.1'), v4);
        assert.equal(await from(h.edge.url, '::1'), v6);
      } finally {
        await h.close();
      }
    });
  }

  it('blocks IPv4 and IPv6 clients named by a trusted proxy in X-Forwarded-For', async () => {
    const h = await startHarness({ trustedProxies: ['127.0.0.1', '::1'] }, { blockList: ['198.51.100.0/24', '2001:db8:bad::/48'] });
    try {
      h.origin.route('/b', { headers: { 'cache-control': 'max-age=600' }, body: 'b' });
      const cases: [string, number][] = [
        ['198.51.100.77', 403],
        ['198.51.101.1', 200],
        ['2001:db8:bad:1::9', 403],
        ['[2001:db8:bad::1]:443', 403],
        ['2001:db8:bee::1', 200],
      ];
      for (const [xff, status] of cases) assert.equal((await h.get('/b', { 'x-forwarded-for': xff })).status, status, xff);
      // Control endpoints are not behind the zone list, but the edge-wide list covers them too.
    } finally {
      await h.close();
    }
  });

  it('the edge-wide list also covers the control endpoints', async () => {
    const h = await startHarness({ blockList: ['127.0.0.1'] });
    try {
      assert.equal((await h.control('GET', '/_mediacdn/stats')).status, 403);
    } finally {
      await h.close();
    }
  });
});
