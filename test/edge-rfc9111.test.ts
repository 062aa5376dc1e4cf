// Edge scenarios: RFC 9111 / RFC 9213 read to the letter — list-based Age, lower-case "gmt" in dates,
// Vary-ed request headers normalised before matching, CDN-Cache-Control as a Structured Field, any final
// status stored when the response allows it, must-understand, and 1xx interim responses forwarded.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { ServerResponse } from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ZONE, startHarness } from './helpers/edge-harness.ts';
import type { Harness } from './helpers/edge-harness.ts';

describe('edge: RFC 9111 field values', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('Age: 7200, 0 takes the first member (§5.1): an object older than its lifetime is stale', async () => {
    h.origin.route('/age-list', { headers: { 'cache-control': 'max-age=3600', age: '7200, 0' }, body: 'old' });
    assert.equal((await h.get('/age-list')).headers['x-cache'], 'MISS');
    const again = await h.get('/age-list');
    assert.notEqual(again.headers['x-cache'], 'HIT');
    assert.equal(h.origin.count('/age-list'), 2);
  });

  it('accepts Expires with a lower-case "gmt" (RFC 9110 §5.6.7 robust recipients)', async () => {
    const expires = new Date(h.clock.now + 600_000).toUTCString().replace('GMT', 'gmt');
    h.origin.route('/gmt', { headers: { expires }, body: 'gmt' });
    assert.equal((await h.get('/gmt')).headers['x-cache'], 'MISS');
    h.clock.advance(300);
    assert.equal((await h.get('/gmt')).headers['x-cache'], 'HIT');
    h.clock.advance(301);
    assert.notEqual((await h.get('/gmt')).headers['x-cache'], 'HIT');
  });

  for (const [name, cdn] of [['unknown type', 'max-age=10000, &&&&&'], ['wrong type', 'max-age="10000"'], ['space before =', 'max-age =10000']]) {
    it(`ignores a CDN-Cache-Control that is not a valid Structured Field (${name}) and obeys Cache-Control: no-store (RFC 9213 §2.1)`, async () => {
      const path = `/cdn-invalid-${encodeURIComponent(name)}`;
      h.origin.route(path, { headers: { 'cdn-cache-control': cdn, 'cache-control': 'no-store' }, body: 'x' });
      await h.get(path);
      const again = await h.get(path);
      assert.equal(again.headers['x-cache'], 'BYPASS');
      assert.equal(h.origin.count(path), 2);
    });
  }

  it('obeys a valid CDN-Cache-Control over Cache-Control: no-store', async () => {
    h.origin.route('/cdn-valid', { headers: { 'cdn-cache-control': 'foobar, max-age=10000', 'cache-control': 'no-store' }, body: 'x' });
    await h.get('/cdn-valid');
    assert.equal((await h.get('/cdn-valid')).headers['x-cache'], 'HIT');
  });

  it('normalises Vary-ed request headers (§4.1): same meaning, same variant', async () => {
    h.origin.route('/negotiated', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'Accept-Encoding, Accept-Language' });
      res.end(`for ${req.headers['accept-encoding']} / ${req.headers['accept-language']}`);
    });
    const first = await h.get('/negotiated', { 'accept-encoding': 'gzip, br', 'accept-language': 'en-US, fr;q=0.5' });
    assert.equal(first.headers['x-cache'], 'MISS');
    const same = await h.get('/negotiated', { 'accept-encoding': 'BR,gzip', 'accept-language': 'en-us,fr; q=0.5' });
    assert.equal(same.headers['x-cache'], 'HIT');
    assert.equal(same.body.toString(), first.body.toString());
    // Different values are different variants: order of languages may change the answer.
    assert.equal((await h.get('/negotiated', { 'accept-encoding': 'gzip', 'accept-language': 'en-US, fr;q=0.5' })).headers['x-cache'], 'MISS');
    assert.equal((await h.get('/negotiated', { 'accept-encoding': 'gzip, br', 'accept-language': 'fr;q=0.5, en-US' })).headers['x-cache'], 'MISS');
    assert.equal(h.origin.count('/negotiated'), 3);
  });
});

describe('edge: any final status with explicit freshness is stored (RFC 9111 §3, §4)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  for (const status of [299, 303, 400, 499, 500, 502, 503, 504, 599]) {
    it(`stores a ${status} with max-age and replays it`, async () => {
      const path = `/status-${status}`;
      h.origin.route(path, { status, headers: { 'cache-control': 'max-age=60', 'content-type': 'text/plain', location: '/elsewhere' }, body: `answer ${status}` });
      const first = await h.get(path);
      assert.equal(first.status, status);
      assert.equal(first.headers['x-cache'], 'MISS');
      const again = await h.get(path);
      assert.equal(again.status, status);
      assert.equal(again.headers['x-cache'], 'HIT');
      assert.equal(again.body.toString(), `answer ${status}`);
      assert.equal(again.headers['location'], '/elsewhere');
      assert.equal(h.origin.count(path), 1);
    });
  }

  it('serves a stored error stale when the client accepts it (max-stale) or the origin is down (stale-if-error)', async () => {
    h.origin.route('/stale-499', { status: 499, headers: { 'cache-control': 'max-age=10' }, body: 'client closed' });
    await h.get('/stale-499');
    h.clock.advance(30);
    const maxStale = await h.get('/stale-499', { 'cache-control': 'max-stale=60' });
    assert.equal(maxStale.status, 499);
    assert.equal(maxStale.headers['x-cache'], 'STALE');
    assert.equal(h.origin.count('/stale-499'), 1);
    await h.origin.stop();
    try {
      const down = await h.get('/stale-499');
      assert.equal(down.status, 499);
      assert.equal(down.headers['x-cache'], 'STALE');
    } finally {
      await h.origin.resume();
    }
  });

  it('must-understand: an understood status is stored despite no-store, an unknown one is not (§5.2.2.3)', async () => {
    h.origin.route('/mu-200', { headers: { 'cache-control': 'max-age=60, must-understand, no-store' }, body: 'understood' });
    h.origin.route('/mu-555', { status: 555, headers: { 'cache-control': 'max-age=60, must-understand, no-store' }, body: 'unknown' });
    await h.get('/mu-200');
    assert.equal((await h.get('/mu-200')).headers['x-cache'], 'HIT');
    await h.get('/mu-555');
    assert.equal((await h.get('/mu-555')).headers['x-cache'], 'BYPASS');
    assert.equal(h.origin.count('/mu-555'), 2);
  });

  it('a zone edgeTtlSeconds does not keep a 5xx the origin gave no lifetime', async () => {
    const z = await startHarness({}, { edgeTtlSeconds: 3600 });
    try {
      z.origin.route('/outage', { status: 503, body: 'busy' });
      assert.equal((await z.get('/outage')).status, 503);
      assert.equal((await z.get('/outage')).headers['x-cache'], 'BYPASS');
      assert.equal(z.origin.count('/outage'), 2);
    } finally {
      await z.close();
    }
  });
});

describe('edge: interim 1xx responses (RFC 9110 §15.2)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  type Seen = { status: number; interim: Array<{ status: number; link: string | undefined }>; body: string; cache: string | undefined };
  /** node:http as a client that records every 1xx it gets before the final response. */
  function fetchWithInterim(target: string, method = 'GET', body?: string): Promise<Seen> {
    return new Promise((resolve, reject) => {
      const { hostname, port } = new URL(h.edge.url);
      const interim: Seen['interim'] = [];
      const req = httpRequest({ hostname, port, path: target, method, headers: { host: ZONE } });
      req.on('information', (info) => interim.push({ status: info.statusCode, link: info.headers['link'] as string | undefined }));
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, interim, body: text, cache: res.headers['x-cache'] as string | undefined }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** An origin route that sends 103 Early Hints (and a 102) before its answer. */
  function hinting(path: string, final: (res: ServerResponse) => void): void {
    h.origin.route(path, (_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      res.writeProcessing();
      final(res);
    });
  }

  it('forwards 103 Early Hints and 102 on a miss, and never replays them from the cache', async () => {
    hinting('/hinted', (res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600' });
      res.end('page');
    });
    const miss = await fetchWithInterim('/hinted');
    assert.equal(miss.cache, 'MISS');
    assert.equal(miss.body, 'page');
    assert.deepEqual(miss.interim, [{ status: 103, link: '</style.css>; rel=preload; as=style' }, { status: 102, link: undefined }]);
    const hit = await fetchWithInterim('/hinted');
    assert.equal(hit.cache, 'HIT');
    assert.deepEqual(hit.interim, []);
  });

  it('forwards them on a pass (POST) too', async () => {
    hinting('/hinted-post', (res) => {
      res.writeHead(201);
      res.end('created');
    });
    const r = await fetchWithInterim('/hinted-post', 'POST', 'x');
    assert.equal(r.status, 201);
    assert.deepEqual(r.interim.map((i) => i.status), [103, 102]);
  });

  it('sends no 1xx to an HTTP/1.0 client', async () => {
    hinting('/hinted-10', (res) => {
      res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '3' });
      res.end('old');
    });
    const { hostname, port } = new URL(h.edge.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), hostname);
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => (text += d));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write(`GET /hinted-10 HTTP/1.0\r\nHost: ${ZONE}\r\n\r\n`);
    });
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(answer, / 10[23] /);
  });
});
