// Edge scenarios for origin retries: connection errors and head timeouts are retried for idempotent
// requests by default, answer statuses only where a zone lists them (retryOnStatus), up to the zone's
// count, never once the response has started; every retry is counted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { ZONE, startHarness } from './helpers/edge-harness.ts';
import type { Harness } from './helpers/edge-harness.ts';

describe('edge: origin retries (zone with retryOnStatus 502, 503, 504)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({}, { retries: 3, retryOnStatus: [502, 503, 504] });
  });
  after(() => h.close());

  /** A route failing `failures` times with `status` (0 = connection reset), then answering 200. */
  function flaky(path: string, failures: number, status: number): void {
    let seen = 0;
    h.origin.route(path, (_req, res) => {
      if (seen++ < failures) {
        if (status === 0) return void res.socket?.destroy();
        res.writeHead(status);
        res.end('failing');
        return;
      }
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('finally');
    });
  }

  for (const status of [502, 503, 504, 0]) {
    it(`retries a GET after ${status === 0 ? 'a connection reset' : status} and serves the success`, async () => {
      const path = `/flaky-${status}`;
      flaky(path, 2, status);
      const before = await h.totals();
      const r = await h.get(path);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'finally');
      assert.equal(r.headers['x-cache'], 'MISS');
      assert.equal(h.origin.count(path), 3);
      assert.equal((await h.totals()).originRetries - before.originRetries, 2);
    });
  }

  it('gives up after the zone count and passes the last answer on', async () => {
    flaky('/always-503', 100, 503);
    const before = await h.totals();
    const r = await h.get('/always-503');
    assert.equal(r.status, 503);
    assert.equal(h.origin.count('/always-503'), 1 + 3);
    const after = await h.totals();
    assert.equal(after.originRetries - before.originRetries, 3);
    assert.equal((after.originNon2xx['503'] ?? 0) - (before.originNon2xx['503'] ?? 0), 4);
  });

  it('does not retry a 500 (an answer, not a transient failure)', async () => {
    flaky('/500', 100, 500);
    assert.equal((await h.get('/500')).status, 500);
    assert.equal(h.origin.count('/500'), 1);
  });

  it('does not retry a POST (not idempotent, and its body was streamed)', async () => {
    flaky('/post', 100, 503);
    const r = await h.send('POST', '/post', {}, 'payload');
    assert.equal(r.status, 503);
    assert.equal(h.origin.count('/post', 'POST'), 1);
  });

  it('never retries once a byte went to the client: a body cut short is not fetched again', async () => {
    h.origin.route('/cut', (_req, res) => {
      res.writeHead(200, { 'content-length': '100000', 'cache-control': 'max-age=60' });
      res.write(Buffer.alloc(1000, 1), () => setImmediate(() => res.socket?.destroy()));
    });
    const res = await request(`${h.edge.url}/cut`, { headers: { host: ZONE } });
    assert.equal(res.statusCode, 200);
    await assert.rejects(res.body.arrayBuffer());
    assert.equal(h.origin.count('/cut'), 1);
    // And the broken fill was not stored.
    h.origin.route('/cut', { headers: { 'cache-control': 'max-age=60' }, body: 'whole' });
    const again = await h.get('/cut');
    assert.equal(again.headers['x-cache'], 'MISS');
    assert.equal(again.body.toString(), 'whole');
  });

  it('retries while the origin refuses connections, then reports the refusal', async () => {
    const before = await h.totals();
    await h.origin.stop();
    try {
      const r = await h.get('/down');
      assert.equal(r.status, 502);
      const after = await h.totals();
      assert.equal(after.originRetries - before.originRetries, 3);
      assert.equal(after.originErrors - before.originErrors, 4);
    } finally {
      await h.origin.resume();
    }
  });
});

describe('edge: default retries (no retryOnStatus)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({}, { headersTimeoutMs: 200 });
  });
  after(() => h.close());

  for (const status of [500, 502, 503, 504]) {
    it(`passes a ${status} on after one request: a failing origin is not asked again`, async () => {
      h.origin.route(`/no-retry-${status}`, { status, body: 'failing' });
      const before = await h.totals();
      assert.equal((await h.get(`/no-retry-${status}`)).status, status);
      assert.equal(h.origin.count(`/no-retry-${status}`), 1);
      assert.equal((await h.totals()).originRetries - before.originRetries, 0);
    });
  }

  it('retries a response-head timeout, with the default two retries', async () => {
    let seen = 0;
    h.origin.route('/slow-head', (_req, res) => {
      if (seen++ < 2) return; // never answers: the edge's head timeout fires
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('third time');
    });
    const before = await h.totals();
    const r = await h.get('/slow-head');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'third time');
    assert.equal(h.origin.count('/slow-head'), 3);
    assert.equal((await h.totals()).originRetries - before.originRetries, 2);
  });

  it('retries a reset connection', async () => {
    let seen = 0;
    h.origin.route('/reset', (_req, res) => {
      if (seen++ === 0) return void res.socket?.destroy();
      res.writeHead(200);
      res.end('ok');
    });
    assert.equal((await h.get('/reset')).body.toString(), 'ok');
    assert.equal(h.origin.count('/reset'), 2);
  });
});

describe('edge: retries off', () => {
  it('makes one attempt with retries 0', async () => {
    const h = await startHarness({ retries: 0 });
    try {
      h.origin.route('/x', { status: 503, body: 'busy' });
      assert.equal((await h.get('/x')).status, 503);
      assert.equal(h.origin.count('/x'), 1);
      assert.equal((await h.totals()).originRetries, 0);
    } finally {
      await h.close();
    }
  });
});
