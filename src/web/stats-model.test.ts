// The dashboard's reading of the edge statistics, checked against snapshots made by the edge's own
// EdgeStats (so a change of that format breaks here, not silently in the browser).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EdgeStats } from '../edge/stats/counting.ts';
import { estimateQuantile, ORIGIN_BUCKETS_MS } from '../edge/stats/figures.ts';
import { isSnapshot, MINUTE_MS, quantileFromBuckets, windowTotals, zoneSeries, type WireSnapshot } from './client/stats-model.ts';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

function trafficSnapshot(): { snapshot: WireSnapshot; now: number } {
  let now = T0;
  const stats = new EdgeStats({ now: () => now });
  // Minute 0: 3 misses (origin 200, 200, 503) and 1 hit; minute 2: 4 hits; minute 1 idle.
  for (const [outcome, originStatus, ms] of [['miss', 200, 4], ['miss', 200, 40], ['miss', 503, 400], ['hit', 0, 0]] as const) {
    stats.record('cdn.test', { kind: 'response', status: originStatus === 503 ? 503 : 200, outcome, bytes: 1000 });
    if (outcome === 'miss') {
      stats.record('cdn.test', { kind: 'origin-response', status: originStatus, ms });
      stats.record('cdn.test', { kind: 'origin-bytes', bytes: 900 });
    }
  }
  stats.record('cdn.test', { kind: 'origin-error', code: 'ECONNREFUSED' });
  now += 2 * MINUTE_MS;
  for (let i = 0; i < 4; i++) stats.record('cdn.test', { kind: 'response', status: 206, outcome: 'hit', bytes: 500 });
  now += 20_000;
  return { snapshot: JSON.parse(JSON.stringify(stats.snapshot(now))) as WireSnapshot, now };
}

describe('edge statistics for the dashboard', () => {
  it('recognises the edge snapshot and refuses other versions', () => {
    const { snapshot } = trafficSnapshot();
    assert.equal(isSnapshot(snapshot), true);
    assert.equal(isSnapshot({ ...snapshot, version: 2 }), false);
    assert.equal(isSnapshot(null), false);
    assert.equal(isSnapshot([]), false);
  });

  it('lays the minutes on a dense axis ending at the snapshot time, idle minutes as gaps or zeros', () => {
    const { snapshot } = trafficSnapshot();
    const s = zoneSeries(snapshot, snapshot.zones['cdn.test'], 5);
    assert.deepEqual(s.times, [-2, -1, 0, 1, 2].map((i) => T0 + i * MINUTE_MS));
    assert.deepEqual(s.hitRate, [null, null, 0.25, null, 1]);
    assert.deepEqual(s.requests, [0, 0, 4, 0, 4]);
    assert.deepEqual(s.servedBps, [0, 0, 4000 / 60, 0, 2000 / 60]);
    assert.deepEqual(s.originBps, [0, 0, 2700 / 60, 0, 0]);
    assert.deepEqual(s.originNon2xx, [0, 0, 1, 0, 0]);
    assert.deepEqual(s.originErrors, [0, 0, 1, 0, 0]);
    assert.equal(s.originP50[3], null);
    assert.equal(s.originP95[2], snapshot.zones['cdn.test'].minutes[0].originResponseMs.p95);
  });

  it('window totals over all the traffic equal the edge totals', () => {
    const { snapshot } = trafficSnapshot();
    const zone = snapshot.zones['cdn.test'];
    const w = windowTotals(snapshot, zone, 60);
    assert.equal(w.requests, zone.totals.requests);
    assert.equal(w.hitRate, zone.totals.hitRate);
    assert.equal(w.bytesToClients, 6000);
    assert.equal(w.bytesFromOrigin, zone.totals.bytesFromOrigin);
    assert.deepEqual(w.originNon2xxByStatus, { '503': 1 });
    assert.equal(w.originNon2xx, 1);
    assert.equal(w.originErrors, 1);
    assert.ok(Math.abs((w.originP50 as number) - (zone.totals.originResponseMs.p50 as number)) < 0.001);
    assert.ok(Math.abs((w.originP95 as number) - (zone.totals.originResponseMs.p95 as number)) < 0.001);
  });

  it('a window that ends before the traffic sees none of it', () => {
    const { snapshot } = trafficSnapshot();
    const w = windowTotals(snapshot, snapshot.zones['cdn.test'], 1);
    assert.equal(w.requests, 4);
    assert.equal(w.originResponses, 0);
    assert.equal(w.originP50, null);
  });

  it('estimates quantiles from bucket counts as the edge does', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 50 }), { minLength: ORIGIN_BUCKETS_MS.length + 1, maxLength: ORIGIN_BUCKETS_MS.length + 1 }), fc.double({ min: 0.01, max: 1, noNaN: true }), (counts, q) => {
        const ours = quantileFromBuckets(counts, ORIGIN_BUCKETS_MS, q);
        const edge = estimateQuantile(counts, q);
        if (edge === null) return ours === null;
        return ours !== null && Math.abs(ours - edge) < 1e-9 * Math.max(1, edge);
      }),
    );
  });
});
