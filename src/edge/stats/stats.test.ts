import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EdgeStats } from './counting.ts';
import { ORIGIN_BUCKETS_MS, STATS_VERSION, applyEvent, emptyFigures, estimateQuantile } from './figures.ts';
import type { Figures, StatsEvent } from './figures.ts';
import type { Outcome } from '../outcome.ts';
import { parseSnapshot } from './persistence.ts';
import { escapeLabelValue, renderPrometheus } from './prometheus.ts';
import { summarise } from './summary.ts';
import { isProcessSample, sampleProcess } from './process.ts';
import fc from 'fast-check';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0); // a minute boundary
const MIN = 60_000;

function clock(start = T0): { now: () => number; set: (t: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => void (t = v) };
}

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'mediacdn-stats-'));
}

function bucketsWith(entries: Record<number, number>): number[] {
  const counts = new Array<number>(ORIGIN_BUCKETS_MS.length + 1).fill(0);
  for (const [i, n] of Object.entries(entries)) counts[Number(i)] = n;
  return counts;
}

test('record: each event moves exactly its figures', async (t) => {
  const rows: Array<[string, StatsEvent[], (f: Figures) => void]> = [
    ['a hit', [{ kind: 'response', status: 200, outcome: 'hit', bytes: 1000 }], (f) => {
      f.requests = 1;
      f.responses['2xx'] = 1;
      f.outcomes.hit = 1;
      f.bytesToClients = 1000;
    }],
    ['an aborted miss', [{ kind: 'response', status: 206, outcome: 'miss', bytes: 10, aborted: true }], (f) => {
      f.requests = 1;
      f.clientAborts = 1;
      f.responses['2xx'] = 1;
      f.outcomes.miss = 1;
      f.bytesToClients = 10;
    }],
    ['status classes', [304, 404, 503, 101].map((status): StatsEvent => ({ kind: 'response', status, outcome: 'pass', bytes: 0 })), (f) => {
      f.requests = 4;
      f.responses = { '1xx': 1, '2xx': 0, '3xx': 1, '4xx': 1, '5xx': 1 };
      f.outcomes.pass = 4;
    }],
    ['a status without class counts as a request only', [{ kind: 'response', status: 999, outcome: 'pass', bytes: 0 }], (f) => {
      f.requests = 1;
      f.outcomes.pass = 1;
    }],
    ['negative or NaN amounts count as zero', [{ kind: 'response', status: 200, outcome: 'hit', bytes: -5 }, { kind: 'origin-bytes', bytes: Number.NaN }], (f) => {
      f.requests = 1;
      f.responses['2xx'] = 1;
      f.outcomes.hit = 1;
    }],
    ['origin 200 in 3 ms: bucket le=5', [{ kind: 'origin-response', status: 200, ms: 3 }], (f) => {
      f.originResponses = 1;
      f.originResponseMs = { counts: bucketsWith({ 2: 1 }), sum: 3 };
    }],
    ['bucket bounds are inclusive (le)', [{ kind: 'origin-response', status: 200, ms: 5 }, { kind: 'origin-response', status: 200, ms: 0 }], (f) => {
      f.originResponses = 2;
      f.originResponseMs = { counts: bucketsWith({ 0: 1, 2: 1 }), sum: 5 };
    }],
    ['slow origin 503 goes to +Inf and non-2xx', [{ kind: 'origin-response', status: 503, ms: 60_000 }], (f) => {
      f.originResponses = 1;
      f.originResponseMs = { counts: bucketsWith({ [ORIGIN_BUCKETS_MS.length]: 1 }), sum: 60_000 };
      f.originNon2xx = { '503': 1 };
    }],
    ['304 and 404 from the origin are non-2xx', [{ kind: 'origin-response', status: 304, ms: 1 }, { kind: 'origin-response', status: 404, ms: 1 }, { kind: 'origin-response', status: 404, ms: 1 }], (f) => {
      f.originResponses = 3;
      f.originResponseMs = { counts: bucketsWith({ 0: 3 }), sum: 3 };
      f.originNon2xx = { '304': 1, '404': 2 };
    }],
    ['origin bytes add up', [{ kind: 'origin-bytes', bytes: 100 }, { kind: 'origin-bytes', bytes: 23 }], (f) => {
      f.bytesFromOrigin = 123;
    }],
    ['errors by code', [{ kind: 'origin-error', code: 'edge_origin_timeout' }, { kind: 'origin-error', code: 'edge_origin_unreachable' }, { kind: 'origin-error', code: 'edge_origin_timeout' }], (f) => {
      f.originErrors = 3;
      f.originErrorsByCode = { edge_origin_timeout: 2, edge_origin_unreachable: 1 };
    }],
    ['retries, stale-if-error, stale-while-revalidate', [{ kind: 'retry' }, { kind: 'retry' }, { kind: 'stale-if-error' }, { kind: 'stale-while-revalidate' }], (f) => {
      f.originRetries = 2;
      f.staleIfErrorServed = 1;
      f.staleWhileRevalidateRefreshes = 1;
    }],
  ];
  for (const [name, events, edit] of rows) {
    await t.test(name, () => {
      const stats = new EdgeStats({ now: () => T0 });
      for (const e of events) stats.record('cdn.example', e);
      const expected = emptyFigures();
      edit(expected);
      const { totals, minutes } = stats.snapshot().zones['cdn.example'];
      const { hitRate: _h, originResponseMs: { counts, sum }, ...rest } = totals;
      assert.deepEqual({ ...rest, originResponseMs: { counts, sum } }, expected);
      assert.equal(minutes.length, 1);
      const { t: minute, hitRate: _h2, originResponseMs: m, ...minuteRest } = minutes[0];
      assert.equal(minute, T0);
      assert.deepEqual({ ...minuteRest, originResponseMs: { counts: m.counts, sum: m.sum } }, expected);
    });
  }
});

test('hit rate: hit, stale and revalidated over all outcomes; null without requests', async (t) => {
  const rows: Array<[Outcome[], number | null]> = [
    [[], null],
    [['hit'], 1],
    [['miss'], 0],
    [['hit', 'miss'], 0.5],
    [['hit', 'stale', 'revalidated', 'miss', 'pass'], 0.6],
    [['pass', 'pass', 'pass', 'hit'], 0.25],
  ];
  for (const [outcomes, expected] of rows) {
    await t.test(outcomes.join(',') || 'none', () => {
      const stats = new EdgeStats({ now: () => T0 });
      stats.record('z', { kind: 'retry' });
      for (const outcome of outcomes) stats.record('z', { kind: 'response', status: 200, outcome, bytes: 0 });
      assert.equal(stats.snapshot().zones.z.totals.hitRate, expected);
    });
  }
});

test('estimateQuantile: interpolation inside log-spaced buckets', async (t) => {
  const last = ORIGIN_BUCKETS_MS.length;
  const rows: Array<[string, number[], number, number | null]> = [
    ['no data', bucketsWith({}), 0.5, null],
    ['all in first bucket: linear from 0', bucketsWith({ 0: 10 }), 0.5, 0.5],
    ['all in (10, 20]: geometric middle', bucketsWith({ 4: 100 }), 0.5, Math.sqrt(200)],
    ['top of a bucket', bucketsWith({ 4: 100 }), 1, 20],
    ['two buckets: p50 at the top of the first', bucketsWith({ 3: 50, 6: 50 }), 0.5, 10],
    ['p99 in the slow tail', bucketsWith({ 3: 99, 9: 1 }), 0.99, 10],
    ['p99 just into the tail', bucketsWith({ 3: 98, 9: 2 }), 0.99, 500 * 2 ** 0.5],
    ['+Inf bucket: the largest finite bound', bucketsWith({ [last]: 5 }), 0.5, ORIGIN_BUCKETS_MS[last - 1]],
    ['skips empty buckets', bucketsWith({ 0: 1, 7: 1 }), 0.95, 100 * 2 ** 0.9],
  ];
  for (const [name, counts, q, expected] of rows) {
    await t.test(name, () => {
      const got = estimateQuantile(counts, q);
      if (expected === null) assert.equal(got, null);
      else assert.ok(got !== null && Math.abs(got - expected) < 1e-9, `${got} ≠ ${expected}`);
    });
  }
  await t.test('the estimate lies in the bucket that holds the true quantile', () => {
    const stats = new EdgeStats({ now: () => T0 });
    const samples = Array.from({ length: 1000 }, (_, i) => 1 + ((i * 7919) % 3000));
    for (const ms of samples) stats.record('z', { kind: 'origin-response', status: 200, ms });
    const sorted = [...samples].sort((a, b) => a - b);
    const { p50, p95, p99 } = stats.snapshot().zones.z.totals.originResponseMs;
    for (const [q, est] of [[0.5, p50], [0.95, p95], [0.99, p99]] as const) {
      const truth = sorted[Math.ceil(q * sorted.length) - 1];
      const i = ORIGIN_BUCKETS_MS.findIndex((b) => truth <= b);
      assert.ok(est !== null && est > (ORIGIN_BUCKETS_MS[i - 1] ?? 0) && est <= ORIGIN_BUCKETS_MS[i], `q${q}: ${est} vs ${truth}`);
    }
  });
});

test('per-minute figures: keyed by minute, last 24 hours only, ring slots reused', () => {
  const c = clock();
  const stats = new EdgeStats({ now: c.now });
  const hit: StatsEvent = { kind: 'response', status: 200, outcome: 'hit', bytes: 1 };
  stats.record('z', hit);
  c.set(T0 + 59_999);
  stats.record('z', hit); // same minute
  c.set(T0 + MIN);
  stats.record('z', hit);
  c.set(T0 + 10 * MIN + 5);
  stats.record('z', hit);
  let snap = stats.snapshot();
  assert.deepEqual(snap.zones.z.minutes.map((m) => [m.t, m.requests]), [[T0, 2], [T0 + MIN, 1], [T0 + 10 * MIN, 1]]);
  assert.equal(snap.zones.z.totals.requests, 4);

  // 24 hours after the first minute, that minute has left the window; the totals keep it.
  snap = stats.snapshot(T0 + 1440 * MIN);
  assert.deepEqual(snap.zones.z.minutes.map((m) => m.t), [T0 + MIN, T0 + 10 * MIN]);
  assert.equal(snap.zones.z.totals.requests, 4);

  // The same ring slot, one day later, starts from zero.
  c.set(T0 + 1440 * MIN + 30_000);
  stats.record('z', hit);
  snap = stats.snapshot();
  assert.deepEqual(snap.zones.z.minutes.map((m) => [m.t, m.requests]), [[T0 + MIN, 1], [T0 + 10 * MIN, 1], [T0 + 1440 * MIN, 1]]);
  assert.equal(snap.zones.z.totals.requests, 5);
});

test('zones are kept apart, sorted, and capped', () => {
  const stats = new EdgeStats({ now: () => T0, maxZones: 2 });
  const e: StatsEvent = { kind: 'response', status: 200, outcome: 'miss', bytes: 5 };
  stats.record('b.example', e);
  stats.record('a.example', e);
  stats.record('a.example', e);
  stats.record('evil.example', e); // beyond the cap: dropped
  const snap = stats.snapshot();
  assert.deepEqual(Object.keys(snap.zones), ['a.example', 'b.example']);
  assert.equal(snap.zones['a.example'].totals.requests, 2);
  assert.equal(snap.zones['b.example'].totals.requests, 1);
  assert.equal(snap.zones['a.example'].since, T0);
  assert.equal(snap.version, STATS_VERSION);
  assert.equal(snap.generatedAt, T0);
});

test('escapeLabelValue', async (t) => {
  const rows: Array<[string, string]> = [
    ['cdn.example.com', 'cdn.example.com'],
    ['a"b', 'a\\"b'],
    ['a\\b', 'a\\\\b'],
    ['a\nb', 'a\\nb'],
    ['\\"\n', '\\\\\\"\\n'],
    ['ünï', 'ünï'],
  ];
  for (const [input, expected] of rows) await t.test(JSON.stringify(input), () => assert.equal(escapeLabelValue(input), expected));
});

test('toPrometheus: HELP/TYPE once per family, cumulative buckets, seconds, escaped labels', () => {
  const stats = new EdgeStats({ now: () => T0 });
  stats.record('cdn.example', { kind: 'response', status: 200, outcome: 'hit', bytes: 300 });
  stats.record('cdn.example', { kind: 'response', status: 502, outcome: 'miss', bytes: 0 });
  stats.record('cdn.example', { kind: 'origin-response', status: 200, ms: 15 });
  stats.record('cdn.example', { kind: 'origin-response', status: 503, ms: 250 });
  stats.record('cdn.example', { kind: 'origin-bytes', bytes: 300 });
  stats.record('cdn.example', { kind: 'origin-error', code: 'odd"code\\x' });
  stats.record('cdn.example', { kind: 'retry' });
  stats.record('other.example', { kind: 'stale-if-error' });
  const text = stats.toPrometheus();
  const lines = text.split('\n');
  assert.equal(lines.at(-1), '', 'ends with a line feed');
  const expectLines = [
    '# HELP edge_requests_total Requests answered, by status class of the response.',
    '# TYPE edge_requests_total counter',
    'edge_requests_total{zone="cdn.example",status_class="2xx"} 1',
    'edge_requests_total{zone="cdn.example",status_class="5xx"} 1',
    'edge_requests_total{zone="other.example",status_class="2xx"} 0',
    'edge_cache_outcomes_total{zone="cdn.example",outcome="hit"} 1',
    'edge_cache_outcomes_total{zone="cdn.example",outcome="miss"} 1',
    'edge_cache_outcomes_total{zone="cdn.example",outcome="pass"} 0',
    'edge_client_sent_bytes_total{zone="cdn.example"} 300',
    'edge_origin_received_bytes_total{zone="cdn.example"} 300',
    '# TYPE edge_origin_response_seconds histogram',
    'edge_origin_response_seconds_bucket{zone="cdn.example",le="0.01"} 0',
    'edge_origin_response_seconds_bucket{zone="cdn.example",le="0.02"} 1',
    'edge_origin_response_seconds_bucket{zone="cdn.example",le="0.2"} 1',
    'edge_origin_response_seconds_bucket{zone="cdn.example",le="0.5"} 2',
    'edge_origin_response_seconds_bucket{zone="cdn.example",le="50"} 2',
    'edge_origin_response_seconds_bucket{zone="cdn.example",le="+Inf"} 2',
    'edge_origin_response_seconds_sum{zone="cdn.example"} 0.265',
    'edge_origin_response_seconds_count{zone="cdn.example"} 2',
    'edge_origin_non_2xx_responses_total{zone="cdn.example",status="503"} 1',
    'edge_origin_errors_total{zone="cdn.example",code="odd\\"code\\\\x"} 1',
    'edge_origin_retries_total{zone="cdn.example"} 1',
    'edge_stale_if_error_total{zone="other.example"} 1',
    'edge_stale_while_revalidate_refreshes_total{zone="cdn.example"} 0',
  ];
  for (const l of expectLines) assert.ok(lines.includes(l), `missing: ${l}`);
  // Every family has exactly one HELP and one TYPE, before its samples.
  const families = lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
  assert.equal(new Set(families).size, families.length);
  assert.equal(lines.filter((l) => l.startsWith('# HELP ')).length, families.length);
  // Every sample line is `name{labels} value` of a declared family.
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*)\} (\S+)$/;
  let current = '';
  for (const l of lines.slice(0, -1)) {
    if (l.startsWith('# TYPE ')) current = l.split(' ')[2];
    if (l.startsWith('#')) continue;
    const m = sample.exec(l);
    assert.ok(m, `not a sample line: ${l}`);
    assert.ok(m[1] === current || m[1].startsWith(`${current}_`), `${m[1]} outside its family ${current}`);
    assert.ok(!Number.isNaN(Number(m[3])), l);
  }
  assert.equal(renderPrometheus(stats.snapshot()), text);
});

test('process samples: this process measured, one gauge line per process, hostile samples refused', () => {
  const own = sampleProcess('edge', undefined, { bytes: 1234, entries: 2 });
  assert.equal(own.pid, process.pid);
  assert.ok(own.rssBytes > 0 && own.heapUsedBytes > 0 && own.heapUsedBytes <= own.heapCommittedBytes, JSON.stringify(own));
  assert.ok(own.arrayBufferBytes <= own.externalBytes);
  assert.deepEqual([own.memoryTierBytes, own.memoryTierEntries, 'worker' in own], [1234, 2, false]);
  assert.ok(isProcessSample(own));
  const worker = { ...sampleProcess('worker', 2, undefined), rssBytes: 5e7 };
  assert.equal(worker.memoryTierBytes, 0);
  const stats = new EdgeStats({ now: () => T0 });
  stats.record('z', { kind: 'response', status: 200, outcome: 'hit', bytes: 1 });
  const text = renderPrometheus({ ...stats.snapshot(), processes: [{ ...own, role: 'primary', memoryTierBytes: 0 }, worker] });
  const lines = text.split('\n');
  assert.ok(lines.includes('# TYPE edge_process_resident_memory_bytes gauge'));
  assert.ok(lines.includes('edge_process_resident_memory_bytes{process="worker-2"} 50000000'));
  assert.ok(lines.includes('edge_memory_tier_bytes{process="primary"} 0'));
  assert.equal(lines.filter((l) => l.startsWith('edge_process_heap_used_bytes{')).length, 2);
  // Without samples (the figures as saved) there are no process gauges at all.
  assert.ok(!stats.toPrometheus().includes('edge_process_'));
  assert.equal('processes' in stats.snapshot(), false);
  for (const bad of [null, 'x', 1, {}, { ...own, role: 'admin' }, { ...own, rssBytes: -1 }, { ...own, heapUsedBytes: Number.NaN }, { ...own, pid: '1' }, { ...own, worker: 0 }, { ...own, worker: 1.5 }]) {
    assert.equal(isProcessSample(bad), false, JSON.stringify(bad));
  }
  // Samples near and far from valid: accepted exactly when well-formed, and then rendered as such.
  const amount = fc.oneof(fc.nat(), fc.double(), fc.constant('1'));
  const near = fc.record({
    role: fc.constantFrom('edge', 'primary', 'worker', 'worker-1', ''),
    worker: fc.option(fc.oneof(fc.integer(), fc.double()), { nil: undefined }),
    pid: amount, rssBytes: amount, heapUsedBytes: amount, heapCommittedBytes: amount, externalBytes: amount, arrayBufferBytes: amount, memoryTierBytes: amount, memoryTierEntries: amount,
  }, { requiredKeys: ['role', 'pid', 'rssBytes', 'heapUsedBytes', 'heapCommittedBytes', 'externalBytes', 'arrayBufferBytes', 'memoryTierBytes'] });
  fc.assert(
    fc.property(fc.oneof(near, fc.anything()), (v) => {
      const o = v as Record<string, unknown>;
      const wellFormed = typeof v === 'object' && v !== null && ['edge', 'primary', 'worker'].includes(o.role as string)
        && (o.worker === undefined || (Number.isSafeInteger(o.worker) && (o.worker as number) > 0))
        && ['pid', 'rssBytes', 'heapUsedBytes', 'heapCommittedBytes', 'externalBytes', 'arrayBufferBytes', 'memoryTierBytes', 'memoryTierEntries'].every((k) => typeof o[k] === 'number' && Number.isFinite(o[k]) && (o[k] as number) >= 0);
      assert.equal(isProcessSample(v), wellFormed);
      if (!isProcessSample(v)) return;
      for (const l of renderPrometheus({ ...stats.snapshot(), processes: [v] }).split('\n')) {
        if (l.startsWith('edge_process') || l.startsWith('edge_memory')) assert.match(l, /^[a-z_]+\{process="(edge|primary|worker-[0-9]+)"\} [0-9.e+-]+$/);
      }
    }),
  );
});

test('save and load: round trip, atomic, minutes older than a day dropped', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'sub', 'stats.json');
  const c = clock();
  const a = new EdgeStats({ now: c.now });
  a.record('z', { kind: 'response', status: 200, outcome: 'hit', bytes: 10 });
  a.record('z', { kind: 'origin-response', status: 500, ms: 40 });
  c.set(T0 + 5 * MIN);
  a.record('z', { kind: 'response', status: 200, outcome: 'miss', bytes: 20 });
  await a.save(file);
  await a.save(file); // overwrite in place
  assert.deepEqual(await fs.readdir(path.dirname(file)), ['stats.json'], 'no temporary file left behind');

  const warnings: string[] = [];
  const b = new EdgeStats({ now: c.now, onWarning: (m) => warnings.push(m) });
  assert.deepEqual(await b.load(file), { kind: 'loaded', zones: 1 });
  assert.deepEqual(b.snapshot(), a.snapshot());
  assert.deepEqual(warnings, []);

  // Loaded figures add to what was recorded since start.
  b.record('z', { kind: 'response', status: 200, outcome: 'hit', bytes: 1 });
  assert.equal(b.snapshot().zones.z.totals.requests, 3);
  assert.equal(b.snapshot().zones.z.minutes.at(-1)!.requests, 2);

  // A day later the first minute is outside the window when loading; totals are kept.
  const later = new EdgeStats({ now: () => T0 + 1440 * MIN + 1 });
  await later.load(file);
  const z = later.snapshot().zones.z;
  assert.deepEqual(z.minutes.map((m) => m.t), [T0 + 5 * MIN]);
  assert.equal(z.totals.requests, 2);
  assert.equal(z.since, T0);
  await fs.rm(dir, { recursive: true });
});

test('load: missing, corrupt, unknown-version and foreign files are survived with a warning', async (t) => {
  const dir = await tempDir();
  const good = JSON.parse(JSON.stringify(new EdgeStats({ now: () => T0 }).snapshot()));
  const rows: Array<[string, string | null, string | null]> = [
    ['missing file', null, null],
    ['empty file', '', 'not valid JSON'],
    ['truncated JSON', '{"version":1,"zones":{', 'not valid JSON'],
    ['unknown version', JSON.stringify({ ...good, version: 2 }), 'unknown version 2'],
    ['no version', JSON.stringify({ zones: {} }), 'unknown version null'],
    ['JSON null', 'null', 'unknown version null'],
    ['different buckets', JSON.stringify({ ...good, originResponseBucketsMs: [1, 10] }), 'histogram buckets differ'],
    ['bad figures', JSON.stringify({ ...good, zones: { z: { since: 0, totals: { requests: -1 }, minutes: [] } } }), 'not a valid statistics file'],
  ];
  for (const [name, content, warning] of rows) {
    await t.test(name, async () => {
      const file = path.join(dir, `${name.replace(/\W+/g, '-')}.json`);
      if (content !== null) await fs.writeFile(file, content);
      const warnings: string[] = [];
      const stats = new EdgeStats({ now: () => T0, onWarning: (m) => warnings.push(m) });
      const result = await stats.load(file);
      if (warning === null) {
        assert.deepEqual(result, { kind: 'missing' });
        assert.deepEqual(warnings, []);
      } else {
        assert.equal(result.kind, 'ignored');
        assert.equal(warnings.length, 1);
        assert.match(warnings[0], new RegExp(warning));
        assert.ok(warnings[0].includes(file), 'the warning names the file');
      }
      assert.deepEqual(stats.snapshot().zones, {});
    });
  }
  await fs.rm(dir, { recursive: true });
});

test('merge: snapshots of several workers add up', () => {
  const w1 = new EdgeStats({ now: () => T0 });
  const w2 = new EdgeStats({ now: () => T0 + MIN });
  w1.record('z', { kind: 'response', status: 200, outcome: 'hit', bytes: 5 });
  w2.record('z', { kind: 'response', status: 404, outcome: 'miss', bytes: 7 });
  w2.record('y', { kind: 'retry' });
  const all = new EdgeStats({ now: () => T0 + MIN });
  all.merge(w1.snapshot());
  all.merge(w2.snapshot());
  const snap = all.snapshot();
  assert.equal(snap.zones.z.totals.requests, 2);
  assert.equal(snap.zones.z.totals.bytesToClients, 12);
  assert.equal(snap.zones.z.totals.hitRate, 0.5);
  assert.deepEqual(snap.zones.z.minutes.map((m) => [m.t, m.requests]), [[T0, 1], [T0 + MIN, 1]]);
  assert.equal(snap.zones.y.totals.originRetries, 1);
  assert.equal(parseSnapshot(JSON.parse(JSON.stringify(snap))).kind, 'ok');
});

test('merge: a minute from a day ago does not take the ring slot of the current minute', () => {
  const old = new EdgeStats({ now: () => T0 });
  old.record('z', { kind: 'retry' });
  const current = new EdgeStats({ now: () => T0 + 1440 * MIN });
  current.record('z', { kind: 'retry' });
  current.merge(old.snapshot());
  const z = current.snapshot().zones.z;
  assert.deepEqual(z.minutes.map((m) => [m.t, m.originRetries]), [[T0 + 1440 * MIN, 1]]);
  assert.equal(z.totals.originRetries, 2);
});

test('startPersisting: saves on each interval and once more on stop', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const dir = await tempDir();
  const file = path.join(dir, 'stats.json');
  const stats = new EdgeStats({ now: () => T0 });
  const persisting = stats.startPersisting(file, 60_000);
  stats.record('z', { kind: 'retry' });
  t.mock.timers.tick(59_999);
  await persisting.whenSaved();
  await assert.rejects(fs.access(file), 'nothing saved before the interval');
  t.mock.timers.tick(1);
  await persisting.whenSaved();
  const read = async (): Promise<number> => JSON.parse(await fs.readFile(file, 'utf8')).zones.z.totals.originRetries;
  assert.equal(await read(), 1);
  stats.record('z', { kind: 'retry' });
  await persisting.stop();
  assert.equal(await read(), 2);
  t.mock.timers.tick(600_000);
  stats.record('z', { kind: 'retry' });
  await persisting.whenSaved();
  assert.equal(await read(), 2, 'no saves after stop');
  await fs.rm(dir, { recursive: true });
});

test('startPersisting: a failing save is a warning, not a crash', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const dir = await tempDir();
  await fs.writeFile(path.join(dir, 'file'), 'x');
  const warnings: string[] = [];
  const stats = new EdgeStats({ now: () => T0, onWarning: (m) => warnings.push(m) });
  const persisting = stats.startPersisting(path.join(dir, 'file', 'stats.json'), 1000); // parent is a file
  t.mock.timers.tick(1000);
  await persisting.whenSaved();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /saving .* failed/);
  await persisting.stop();
  assert.equal(warnings.length, 2);
  await fs.rm(dir, { recursive: true });
});

test('startPersisting: the timer does not keep the process alive', async () => {
  const dir = await tempDir();
  const moduleUrl = new URL('./counting.ts', import.meta.url).href;
  const script = `const { EdgeStats } = await import(${JSON.stringify(moduleUrl)});
    new EdgeStats({ now: Date.now }).startPersisting(${JSON.stringify(path.join(dir, 's.json'))}, 3_600_000);
    console.log('started');`;
  // If the interval were ref'd, the child would run for an hour and the test would time out.
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: path.dirname(fileURLToPath(import.meta.url)), timeout: 30_000 });
  assert.equal(stdout.trim(), 'started');
  await fs.rm(dir, { recursive: true });
});

test('summarise: last hour, last 24 h and totals per zone', () => {
  const c = clock(T0 + 3 * 3600_000);
  const stats = new EdgeStats({ now: c.now });
  const now = c.now();
  // Two hours ago: 2 misses; now: 3 hits, one origin 503 and a timeout.
  c.set(now - 2 * 3600_000);
  for (let i = 0; i < 2; i++) stats.record('cdn.example', { kind: 'response', status: 200, outcome: 'miss', bytes: 2048 });
  stats.record('cdn.example', { kind: 'origin-bytes', bytes: 4096 });
  c.set(now);
  for (let i = 0; i < 3; i++) stats.record('cdn.example', { kind: 'response', status: 200, outcome: 'hit', bytes: 1024 * 1024 });
  stats.record('cdn.example', { kind: 'origin-response', status: 503, ms: 40 });
  stats.record('cdn.example', { kind: 'origin-error', code: 'edge_origin_timeout' });
  stats.record('img.example', { kind: 'response', status: 404, outcome: 'pass', bytes: 0 });
  stats.record('cdn.example', { kind: 'protocol', protocol: 'h2' });
  stats.record('cdn.example', { kind: 'protocol', protocol: 'h2' });
  stats.record('cdn.example', { kind: 'protocol', protocol: 'http1' });
  const text = summarise(stats.snapshot());
  const row = (label: string): string[] => {
    const line = text.split('\n').find((l) => l.startsWith(label));
    assert.ok(line, `no row ${label} in\n${text}`);
    return line.slice(label.length).trim().split(/\s{3,}/);
  };
  assert.match(text, /^zone cdn\.example \(totals since /);
  assert.match(text, /\n\nzone img\.example/);
  assert.deepEqual(row('requests'), ['3', '5', '5']);
  assert.deepEqual(row('cache hit rate'), ['100.0%', '60.0%', '60.0%']);
  assert.deepEqual(row('sent to clients'), ['3.00 MiB', '3.00 MiB', '3.00 MiB']);
  assert.deepEqual(row('fetched from origin'), ['0 B', '4.00 KiB', '4.00 KiB']);
  assert.deepEqual(row('  non-2xx'), ['503×1', '503×1', '503×1']);
  assert.deepEqual(row('  by protocol'), ['h2×2 http1×1', 'h2×2 http1×1', 'h2×2 http1×1']);
  assert.deepEqual(row('origin errors'), ['1 (edge_origin_timeout×1)', '1 (edge_origin_timeout×1)', '1 (edge_origin_timeout×1)']);

  const one = summarise(stats.snapshot(), { zone: 'img.example' });
  assert.ok(!one.includes('cdn.example'));
  assert.match(one, /4xx\s+1\s+1\s+1/);
  assert.equal(summarise(stats.snapshot(), { zone: 'nope.example' }), 'No statistics for zone nope.example.\n');
  assert.equal(summarise(new EdgeStats({ now: c.now }).snapshot()), 'No statistics recorded yet.\n');
});

test('responses are counted by status class; a status outside 100-599 counts as a request of no class', () => {
  const f = emptyFigures();
  const statuses = [100, 199, 200, 206, 299, 304, 399, 404, 499, 500, 599, 99, 0, -200, 600, 999, 1000, Number.NaN, 204.5];
  for (const status of statuses) applyEvent(f, { kind: 'response', status, outcome: 'hit', bytes: 0, aborted: false });
  assert.equal(f.requests, statuses.length);
  assert.deepEqual(f.responses, { '1xx': 2, '2xx': 4, '3xx': 2, '4xx': 2, '5xx': 2 });
});
