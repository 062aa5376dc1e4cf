// Edge scenarios for statistics: a known mix of traffic, then every figure of /_mediacdn/stats and
// /_mediacdn/metrics checked against it; the figures survive a restart; the admin listener option.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { ADMIN_TOKEN, ZONE, bytes, startHarness } from './helpers/edge-harness.ts';
import type { StatsSnapshot } from '../src/edge/stats/figures.ts';

describe('edge: statistics match the traffic', () => {
  it('counts requests, classes, outcomes, bytes, origin figures, retries, errors and stale answers', async () => {
    const h = await startHarness({}, { retries: 1, retryOnStatus: [503] });
    try {
      const a = bytes(10_000, 1);
      const b = bytes(3_000, 2);
      h.origin.route('/a', { headers: { 'cache-control': 'max-age=10', etag: '"a"' }, body: a, validate: true });
      h.origin.route('/b', { headers: { 'cache-control': 'no-store' }, body: b });
      h.origin.route('/gone', { status: 404, headers: { 'cache-control': 'max-age=60' }, body: 'nope' });
      let busy = 0;
      h.origin.route('/busy', (_req, res) => {
        res.writeHead(busy++ === 0 ? 503 : 200, { 'cache-control': 'max-age=60' });
        res.end('ok');
      });
      let sent = 0;
      const get = async (p: string, headers?: Record<string, string>) => {
        const r = await h.get(p, headers);
        sent += r.body.length;
        return r;
      };
      await get('/a'); // miss: origin 200, 10000 bytes from origin
      await get('/a'); // hit
      await get('/a', { range: 'bytes=0-99' }); // hit, 100 bytes
      h.clock.advance(20);
      await get('/a'); // revalidated: origin 304
      await get('/b'); // pass: origin 200, 3000 bytes
      await get('/gone'); // miss: origin 404 (4 bytes)
      await get('/gone'); // hit
      await get('/busy'); // miss after a 503 + one retry: 2 bytes
      h.clock.advance(60);
      await h.origin.stop();
      await get('/a'); // stale-if-error: 2 refused attempts (1 retry)
      await h.origin.resume();
      await get('/_unknown_route'); // the counting origin's 404 without caching fields: a miss (9 bytes)
      const t = await h.totals();
      assert.equal(t.requests, 10);
      assert.deepEqual(t.responses, { '1xx': 0, '2xx': 7, '3xx': 0, '4xx': 3, '5xx': 0 });
      assert.deepEqual(t.outcomes, { hit: 3, stale: 1, revalidated: 1, miss: 4, pass: 1 });
      assert.equal(t.hitRate, 5 / 10);
      assert.equal(t.bytesToClients, sent);
      assert.equal(sent, 10_000 + 10_000 + 100 + 10_000 + 3_000 + 4 + 4 + 2 + 10_000 + 9);
      // The 503's body was discarded unread; the 304 has none.
      assert.equal(t.bytesFromOrigin, 10_000 + 3_000 + 4 + 2 + 9);
      // 200 /a, 304 /a, 200 /b, 404 /gone, 503 + 200 /busy, 404 /_unknown_route
      assert.equal(t.originResponses, 7);
      assert.deepEqual(t.originNon2xx, { '304': 1, '404': 2, '503': 1 });
      assert.equal(t.originRetries, 2);
      assert.equal(t.originErrors, 2);
      assert.deepEqual(t.originErrorsByCode, { ECONNREFUSED: 2 });
      assert.equal(t.staleIfErrorServed, 1);
      assert.equal(t.originResponseMs.counts.reduce((x, y) => x + y, 0), 7);
      assert.ok(t.originResponseMs.p50 !== null && t.originResponseMs.p99 !== null);
      assert.equal(t.clientAborts, 0);

      // The same figures over HTTP, as JSON and as Prometheus text.
      const json = JSON.parse((await h.control('GET', '/_mediacdn/stats')).body.toString()) as StatsSnapshot;
      assert.deepEqual(json.zones[ZONE].totals.outcomes, t.outcomes);
      assert.equal(json.zones[ZONE].minutes.reduce((n, m) => n + m.requests, 0), 10);
      // And the memory of the edge's one process: its memory tier holds /a, /gone, /busy and /_unknown_route's 404.
      assert.equal(json.processes?.length, 1);
      const [own] = json.processes ?? [];
      assert.deepEqual([own.role, own.pid, own.memoryTierEntries], ['edge', process.pid, 4]);
      assert.ok(own.memoryTierBytes > 10_004 && own.rssBytes > own.heapCommittedBytes && own.externalBytes >= own.arrayBufferBytes, JSON.stringify(own));
      const metrics = await h.control('GET', '/_mediacdn/metrics');
      assert.equal(metrics.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      const text = metrics.body.toString();
      for (const line of [
        `edge_cache_outcomes_total{zone="${ZONE}",outcome="hit"} 3`,
        `edge_requests_total{zone="${ZONE}",status_class="4xx"} 3`,
        `edge_client_sent_bytes_total{zone="${ZONE}"} ${sent}`,
        `edge_origin_retries_total{zone="${ZONE}"} 2`,
        `edge_origin_non_2xx_responses_total{zone="${ZONE}",status="503"} 1`,
        `edge_origin_response_seconds_count{zone="${ZONE}"} 7`,
        `edge_stale_if_error_total{zone="${ZONE}"} 1`,
        'edge_memory_tier_objects{process="edge"} 4',
      ]) assert.ok(text.includes(`${line}\n`), line);
      assert.match(text, /\nedge_process_resident_memory_bytes\{process="edge"\} [1-9][0-9]*\n/);
      // Control requests are not zone traffic.
      assert.equal((await h.totals()).requests, 10);

      // A restart keeps the figures (saved on close, loaded on start).
      await h.restart();
      const kept = h.edge.stats.snapshot().zones[ZONE].totals;
      assert.deepEqual(kept.outcomes, t.outcomes);
      assert.equal(kept.bytesToClients, sent);
      assert.equal(kept.originRetries, 2);
    } finally {
      await h.close();
    }
  });

  it('needs the admin token for stats and metrics', async () => {
    const h = await startHarness();
    try {
      assert.equal((await h.control('GET', '/_mediacdn/stats', undefined, 'wrong-token-wrong-token')).status, 401);
      assert.equal((await h.get('/_mediacdn/metrics')).status, 401);
    } finally {
      await h.close();
    }
  });

  it('with adminPort, control endpoints move to the admin listener and leave the main one', async () => {
    const h = await startHarness({ adminPort: 0, adminHost: '127.0.0.1' });
    try {
      assert.ok(h.edge.adminUrl);
      assert.equal((await h.control('GET', '/_mediacdn/stats')).status, 404);
      const r = await request(`${h.edge.adminUrl}/_mediacdn/stats`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.equal(r.statusCode, 200);
      assert.equal(((await r.body.json()) as StatsSnapshot).version, 1);
      const other = await request(`${h.edge.adminUrl}/a.mp3`, { headers: { host: ZONE } });
      assert.equal(other.statusCode, 404);
      await other.body.text();
    } finally {
      await h.close();
    }
  });
});
