// Edge scenarios: RFC 9111 / 9213 policy with a real origin — revalidation, Vary, no-store, private,
// Authorization, CDN-Cache-Control, invalidation by unsafe methods.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness } from './helpers/edge-harness.ts';
import type { Harness } from './helpers/edge-harness.ts';

describe('edge: caching policy', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('revalidates a stale entry with If-None-Match; the 304 updates the stored headers', async () => {
    h.origin.route('/rv.mp3', {
      headers: { 'cache-control': 'max-age=10', etag: '"rv1"', 'x-version': 'one', 'content-type': 'audio/mpeg' },
      body: 'the body',
      validate: true,
      notModifiedHeaders: { 'cache-control': 'max-age=100', 'x-version': 'two' },
    });
    await h.get('/rv.mp3');
    h.clock.advance(11);
    const r = await h.get('/rv.mp3');
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-cache'], 'REVALIDATED');
    assert.equal(r.body.toString(), 'the body');
    assert.equal(r.headers['x-version'], 'two');
    assert.equal(r.headers['cache-control'], 'max-age=100');
    assert.equal(r.headers['content-type'], 'audio/mpeg');
    assert.equal(r.headers['age'], '0');
    const sent = h.origin.requests.filter((x) => x.url === '/rv.mp3');
    assert.equal(sent.length, 2);
    assert.equal(sent[1].headers['if-none-match'], '"rv1"');
    // The new lifetime (100 s) from the 304 now applies.
    h.clock.advance(50);
    const hit = await h.get('/rv.mp3');
    assert.equal(hit.headers['x-cache'], 'HIT');
    assert.equal(hit.headers['x-version'], 'two');
    assert.equal(h.origin.count('/rv.mp3'), 2);
  });

  it('revalidates with If-Modified-Since when there is only Last-Modified', async () => {
    const lm = new Date(h.clock.now - 3600_000).toUTCString();
    h.origin.route('/lm', { headers: { 'cache-control': 'max-age=1', 'last-modified': lm }, body: 'lm', validate: true });
    await h.get('/lm');
    h.clock.advance(2);
    const r = await h.get('/lm');
    assert.equal(r.headers['x-cache'], 'REVALIDATED');
    assert.equal(h.origin.requests.filter((x) => x.url === '/lm')[1].headers['if-modified-since'], lm);
  });

  it('answers a client conditional request with 304 from the cache', async () => {
    h.origin.route('/cond', { headers: { 'cache-control': 'max-age=60', etag: '"c1"' }, body: 'cond' });
    await h.get('/cond');
    const r = await h.get('/cond', { 'if-none-match': '"c1"' });
    assert.equal(r.status, 304);
    assert.equal(r.headers['x-cache'], 'HIT');
    assert.equal(r.headers['etag'], '"c1"');
    assert.equal(r.headers['cache-control'], 'max-age=60');
    assert.ok(r.headers['age'] !== undefined);
    assert.equal(h.origin.count('/cond'), 1);
  });

  it('request no-cache makes the edge revalidate a fresh entry', async () => {
    h.origin.route('/nc', { headers: { 'cache-control': 'max-age=600', etag: '"n"' }, body: 'nc', validate: true });
    await h.get('/nc');
    const r = await h.get('/nc', { 'cache-control': 'no-cache' });
    assert.equal(r.headers['x-cache'], 'REVALIDATED');
    assert.equal(h.origin.count('/nc'), 2);
  });

  it('keeps one variant per Vary value and serves each to the right request', async () => {
    h.origin.route('/vary', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' });
      res.end(`lang=${req.headers['accept-language'] ?? 'none'}`);
    });
    assert.equal((await h.get('/vary', { 'accept-language': 'fr' })).body.toString(), 'lang=fr');
    assert.equal((await h.get('/vary', { 'accept-language': 'de' })).body.toString(), 'lang=de');
    const fr = await h.get('/vary', { 'accept-language': 'fr' });
    assert.equal(fr.headers['x-cache'], 'HIT');
    assert.equal(fr.body.toString(), 'lang=fr');
    const de = await h.get('/vary', { 'accept-language': 'de' });
    assert.equal(de.headers['x-cache'], 'HIT');
    assert.equal(de.body.toString(), 'lang=de');
    assert.equal((await h.get('/vary')).body.toString(), 'lang=none');
    assert.equal(h.origin.count('/vary'), 3);
  });

  it('never stores a response with Vary: *', async () => {
    h.origin.route('/star', { headers: { 'cache-control': 'max-age=60', vary: '*' }, body: 'star' });
    await h.get('/star');
    const r = await h.get('/star');
    assert.equal(r.headers['x-cache'], 'BYPASS');
    assert.equal(h.origin.count('/star'), 2);
  });

  it('does not store no-store responses', async () => {
    h.origin.route('/ns', { headers: { 'cache-control': 'no-store, max-age=60' }, body: 'ns' });
    await h.get('/ns');
    const r = await h.get('/ns');
    assert.equal(r.headers['x-cache'], 'BYPASS');
    assert.equal(r.body.toString(), 'ns');
    assert.equal(h.origin.count('/ns'), 2);
  });

  it('does not store private responses', async () => {
    h.origin.route('/pv', { headers: { 'cache-control': 'private, max-age=60' }, body: 'pv' });
    await h.get('/pv');
    await h.get('/pv');
    assert.equal(h.origin.count('/pv'), 2);
  });

  it('CDN-Cache-Control takes precedence over Cache-Control for the edge (RFC 9213)', async () => {
    h.origin.route('/cdncc', { headers: { 'cache-control': 'private, no-store', 'cdn-cache-control': 'max-age=30' }, body: 'cdn' });
    await h.get('/cdncc');
    h.clock.advance(20);
    const r = await h.get('/cdncc');
    assert.equal(r.headers['x-cache'], 'HIT');
    assert.equal(r.headers['cache-control'], 'private, no-store', 'browsers still get the origin Cache-Control');
    h.clock.advance(20);
    assert.equal((await h.get('/cdncc')).headers['x-cache'], 'MISS');
    assert.equal(h.origin.count('/cdncc'), 2);
  });

  it('does not answer a request with Authorization from the cache unless the response allows it', async () => {
    h.origin.route('/auth', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end(`auth=${req.headers.authorization ?? 'none'}`);
    });
    await h.get('/auth');
    const withAuth = await h.get('/auth', { authorization: 'Bearer alice' });
    assert.equal(withAuth.body.toString(), 'auth=Bearer alice');
    assert.equal(h.origin.count('/auth'), 2);
    // Its response (max-age only) may not be stored for others (RFC 9111 §3.5).
    const anon = await h.get('/auth');
    assert.equal(anon.body.toString(), 'auth=none');
    assert.equal(anon.headers['x-cache'], 'HIT');
    const again = await h.get('/auth', { authorization: 'Bearer bob' });
    assert.equal(again.body.toString(), 'auth=Bearer bob');
    assert.equal(h.origin.count('/auth'), 3);
  });

  it('serves requests with Authorization from the cache when the response says public', async () => {
    h.origin.route('/pub', { headers: { 'cache-control': 'public, max-age=60' }, body: 'pub' });
    await h.get('/pub', { authorization: 'Bearer alice' });
    const r = await h.get('/pub', { authorization: 'Bearer bob' });
    assert.equal(r.headers['x-cache'], 'HIT');
    assert.equal(h.origin.count('/pub'), 1);
  });

  for (const method of ['POST', 'PUT', 'DELETE']) {
    it(`${method} passes through and invalidates the URL and its Location / Content-Location`, async () => {
      const base = `/inv-${method.toLowerCase()}`;
      for (const p of [base, `${base}/loc`, `${base}/cloc`, `${base}/other-host`]) {
        h.origin.route(p, (req, res) => {
          if (req.method !== 'GET') {
            res.writeHead(201, {
              location: `${base}/loc`,
              'content-location': `http://cdn.example.com${base}/cloc`,
              'x-got-body': String(req.headers['content-length'] ?? ''),
            });
            res.end('done');
            return;
          }
          res.writeHead(200, { 'cache-control': 'max-age=600' });
          res.end(`v${h.origin.count(p, 'GET')}`);
        });
        await h.get(p);
        assert.equal((await h.get(p)).headers['x-cache'], 'HIT');
      }
      const r = await h.send(method, base, { 'content-type': 'text/plain' }, 'payload');
      assert.equal(r.status, 201);
      assert.equal(r.headers['x-cache'], 'BYPASS');
      assert.equal(h.origin.count(base, method), 1);
      if (method !== 'DELETE') assert.equal(h.origin.requests.at(-1)!.body.toString(), 'payload');
      for (const p of [base, `${base}/loc`, `${base}/cloc`]) {
        const after = await h.get(p);
        assert.equal(after.headers['x-cache'], 'MISS', `${p} was invalidated`);
        assert.equal(after.body.toString(), 'v2');
      }
      assert.equal((await h.get(`${base}/other-host`)).headers['x-cache'], 'HIT');
    });
  }

  it('an unsafe request answered with an error invalidates nothing', async () => {
    h.origin.route('/err', (req, res) => {
      res.writeHead(req.method === 'GET' ? 200 : 500, { 'cache-control': 'max-age=600' });
      res.end('x');
    });
    await h.get('/err');
    await h.send('POST', '/err', {}, 'x');
    assert.equal((await h.get('/err')).headers['x-cache'], 'HIT');
  });

  it('serves the stale copy when revalidation meets a 5xx and the response allowed stale-if-error', async () => {
    let fail = false;
    h.origin.route('/sie', (_req, res) => {
      if (fail) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('down');
        return;
      }
      res.writeHead(200, { 'cache-control': 'max-age=10, stale-if-error=600', etag: '"s"' });
      res.end('old but good');
    });
    await h.get('/sie');
    h.clock.advance(30);
    fail = true;
    const r = await h.get('/sie');
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-cache'], 'STALE');
    assert.equal(r.body.toString(), 'old but good');
    assert.equal(h.origin.count('/sie'), 2);
  });

  it('passes a 5xx on when stale-if-error does not allow the stale copy (must-revalidate beats the default window)', async () => {
    let fail = false;
    h.origin.route('/nosie', (_req, res) => {
      res.writeHead(fail ? 503 : 200, { 'cache-control': 'max-age=10, must-revalidate', etag: '"n"' });
      res.end(fail ? 'down' : 'good');
    });
    await h.get('/nosie');
    h.clock.advance(30);
    fail = true;
    const r = await h.get('/nosie');
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-cache'], 'BYPASS');
  });

  it('can purge one URL', async () => {
    h.origin.route('/purge-me', { headers: { 'cache-control': 'max-age=600' }, body: 'p' });
    await h.get('/purge-me');
    assert.equal(await h.edge.purge({ kind: 'key', zone: 'cdn.example.com', target: '/purge-me' }), 1);
    assert.equal((await h.get('/purge-me')).headers['x-cache'], 'MISS');
  });
});
