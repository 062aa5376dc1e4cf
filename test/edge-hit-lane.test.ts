// The hit lane (src/edge/hit-lane.ts) answers exactly as the request path would: two edges, one with
// the lane and one without, get the same generated requests over keep-alive connections (hits,
// ranges, 304s, CORS, refusals, misses, stale objects, control endpoints, HTTP/1.0, closing requests;
// and with every object too large for the memory tier, hits from the disk tier alone)
// and must send the same bytes, count the same statistics, log the same access-log events and ask
// their origins the same requests. The lane must also have answered some of them.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { signUrl } from '../src/edge/zone/signed-url.ts';
import { ZONE, bytes, startHarness } from './helpers/edge-harness.ts';
import type { Harness } from './helpers/edge-harness.ts';
import { KeepAliveClient as Client } from './helpers/keep-alive-client.ts';

const A_BODY = bytes(50_000, 5);
const SMALL_BODY = bytes(4096, 6);
const ZONE_OPTIONS = { corsOrigins: ['https://radio.example'] };
const KEY = 'k'.repeat(32);

/**
 * Edge and zone settings the lane must respect: block lists (the client's address from a trusted
 * proxy's X-Forwarded-For), limits, Referer rules, the zone's cache overrides and query handling.
 */
const SETTINGS = [
  { name: 'CORS', edge: {}, zone: ZONE_OPTIONS },
  { name: 'zone block list', edge: { trustedProxies: ['127.0.0.1'] }, zone: { ...ZONE_OPTIONS, blockList: ['203.0.113.9'] } },
  { name: 'edge block list', edge: { trustedProxies: ['127.0.0.1'], blockList: ['203.0.113.0/24'] }, zone: {} },
  { name: 'limits', edge: { maxConnectionsPerIp: 50 }, zone: { rateLimit: { requestsPerSecond: 10_000, burst: 10_000 } } },
  { name: 'Referer rule', edge: {}, zone: { allowedReferrers: ['radio.example'], allowEmptyReferrer: true } },
  { name: 'cache overrides', edge: {}, zone: { ...ZONE_OPTIONS, edgeTtlSeconds: 20, browserTtlSeconds: 60, queryString: 'ignore' as const, staleWhileRevalidateSeconds: 30 } },
  // Every object too large for the memory tier: the lane answers from the disk tier alone (sendfile).
  { name: 'disk tier only', edge: { memoryObjectMaxBytes: 1024 }, zone: ZONE_OPTIONS },
];

function routes(h: Harness): void {
  const validated = { 'content-type': 'audio/mpeg', 'last-modified': 'Sun, 01 Jun 2025 10:00:00 GMT' };
  h.origin.route('/a.mp3', { headers: { ...validated, 'cache-control': 'max-age=600', etag: '"p1"' }, body: A_BODY, validate: true });
  h.origin.route('/small.mp3', { headers: { ...validated, 'cache-control': 'public, max-age=31536000', etag: '"s1"' }, body: SMALL_BODY, validate: true });
  h.origin.route('/short.mp3', { headers: { ...validated, 'cache-control': 'max-age=5, stale-while-revalidate=30', etag: '"t1"' }, body: SMALL_BODY, validate: true });
  h.origin.route('/vary.mp3', { headers: { ...validated, 'cache-control': 'max-age=600', etag: '"v1"', vary: 'Accept-Encoding' }, body: SMALL_BODY });
  h.origin.route('/private.mp3', { headers: { ...validated, 'cache-control': 'private' }, body: SMALL_BODY });
  h.origin.route('/auth.mp3', { headers: { ...validated, 'cache-control': 'public, max-age=600', etag: '"u1"' }, body: SMALL_BODY });
  h.origin.route('/gone.mp3', { status: 404, headers: { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }, body: 'gone\n' });
}

type Request = { method: string; target: string; version: string; fields: [string, string][] };

/** Fields the lane can answer with (the request path decides the same way for them). */
const plainField = fc.constantFrom<[string, string]>(
  ['Range', 'bytes=0-9'], ['Range', 'bytes=100-'], ['Range', 'bytes=-500'], ['Range', 'bytes=1000-1999'], ['Range', 'bytes=0-29999'],
  ['If-None-Match', '"p1"'], ['If-None-Match', '"s1"'], ['If-None-Match', '"t1"'], ['Origin', 'https://radio.example'], ['Origin', 'https://other.example'],
  ['Accept-Encoding', 'gzip'], ['Referer', 'https://radio.example/'], ['User-Agent', 'player/1'], ['X-Forwarded-For', '203.0.113.9'], ['Connection', 'keep-alive'],
  ['Host', 'CDN.Example.com:80'], ['Cache-Control', 'max-stale=100'],
);
/** Fields that send a request down the request path, or change its answer. */
const otherField = fc.constantFrom<[string, string]>(
  ['Range', 'bytes=0-9,20-29'], ['Range', 'bytes=999999-'], ['Range', 'bytes=x'], ['If-None-Match', 'W/"s1"'], ['If-None-Match', '"other"'], ['If-None-Match', '*'],
  ['If-Range', '"s1"'], ['If-Match', '"nope"'], ['If-Modified-Since', 'Sun, 01 Jun 2025 11:00:00 GMT'], ['If-Unmodified-Since', 'Sun, 01 Jun 2025 09:00:00 GMT'],
  ['Access-Control-Request-Method', 'GET'], ['Cache-Control', 'max-age=0'], ['Cache-Control', 'no-cache'], ['Cache-Control', 'only-if-cached'], ['Cache-Control', 'min-fresh=1000'],
  ['Pragma', 'no-cache'], ['Authorization', 'Bearer x'], ['Connection', 'close'], ['Host', 'unknown.example'], ['Host', 'cdn.example.com.'],
  ['Referer', 'https://elsewhere.example/'],
);

const request: fc.Arbitrary<Request> = fc.record({
  method: fc.constantFrom('GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'HEAD', 'OPTIONS'),
  target: fc.constantFrom('/a.mp3', '/a.mp3', '/small.mp3', '/small.mp3', '/short.mp3', '/vary.mp3', '/private.mp3', '/auth.mp3', '/gone.mp3', '/missing.mp3', '/a.mp3?x=1', '/_mediacdn/stats', '/%61.mp3', '//a.mp3'),
  version: fc.constantFrom('1.1', '1.1', '1.1', '1.1', '1.1', '1.1', '1.1', '1.1', '1.1', '1.0'),
  fields: fc.uniqueArray(fc.oneof({ weight: 4, arbitrary: plainField }, { weight: 1, arbitrary: otherField }), { maxLength: 3, selector: ([name]) => name.toLowerCase() }),
});

type Step = { kind: 'request'; r: Request } | { kind: 'advance'; s: number };

/** A request like another but for one field more (or another value of it), or one field fewer. */
const variation: fc.Arbitrary<(base: Request) => Request> = fc.oneof(
  fc.oneof(plainField, otherField).map((f) => (base: Request) => ({ ...base, fields: [...base.fields.filter(([n]) => n.toLowerCase() !== f[0].toLowerCase()), f] })),
  fc.nat().map((i) => (base: Request) => ({ ...base, fields: base.fields.filter((_, k) => k !== i % Math.max(1, base.fields.length)) })),
);

/**
 * Steps: requests drawn from a few generated ones (a cache sees the same requests again and again:
 * a miss, a first hit that plans its answer, then hits the lane can take), and the shared clock moving
 * on (objects turning stale) now and then.
 */
const steps: fc.Arbitrary<Step[]> = fc.tuple(request, fc.array(fc.oneof(request, variation), { maxLength: 5 })).map(([base, others]) => [base, ...others.map((o) => (typeof o === 'function' ? o(base) : o))]).chain((pool) =>
  fc.array(
    fc.oneof(
      { weight: 12, arbitrary: fc.nat(pool.length - 1).map((i): Step => ({ kind: 'request', r: pool[i] })) },
      { weight: 1, arbitrary: fc.constantFrom(3, 10, 700).map((s): Step => ({ kind: 'advance', s })) },
    ),
    { minLength: 10, maxLength: 40 },
  ),
);

function head(r: Request): string {
  const lines = [`${r.method} ${r.target} HTTP/${r.version}`];
  const hasHost = r.fields.some(([n]) => n === 'Host');
  if (!hasHost) lines.push(`Host: ${ZONE}`);
  for (const [n, v] of r.fields) lines.push(`${n}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The zone's statistics but the origin's response times (wall clock, not the edges' clock). */
async function counted(h: Harness): Promise<object> {
  const { originResponseMs: _, ...rest } = await h.totals();
  return rest;
}

describe('edge: the hit lane answers exactly as the request path', () => {
  it('sends the same bytes, statistics, access-log events and origin requests for generated requests', async () => {
    let laneAnswers = 0;
    let diskOnlyAnswers = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SETTINGS), steps, async (settings, sequence) => {
        const lane = await startHarness(settings.edge, settings.zone);
        const path = await startHarness({ ...settings.edge, hitLane: false }, settings.zone);
        const edges = [lane, path];
        const clients = edges.map((h) => new Client(h.edge.port));
        try {
          for (const h of edges) routes(h);
          for (const s of sequence) {
            if (s.kind === 'advance') {
              for (const h of edges) h.clock.advance(s.s);
              continue;
            }
            const text = head(s.r);
            const answers = [];
            for (const [i, c] of clients.entries()) {
              answers.push(await c.exchange(text, s.r.method));
              // A background refresh (stale-while-revalidate) settles before the next request.
              await edges[i].edge.idle();
            }
            assert.equal(answers[0], answers[1], `answers differ for:\n${text}`);
          }
          for (const c of clients) c.close();
          const [laneTotals, pathTotals] = await Promise.all(edges.map((h) => counted(h)));
          assert.deepEqual(laneTotals, pathTotals);
          const events = edges.map((h) => h.events.map((e) => ({ ...e, time: 0, ms: 0 })));
          assert.deepEqual(events[0], events[1]);
          assert.deepEqual(
            lane.origin.requests.map((r) => `${r.method} ${r.url} ${r.headers['if-none-match'] ?? ''}`),
            path.origin.requests.map((r) => `${r.method} ${r.url} ${r.headers['if-none-match'] ?? ''}`),
          );
          assert.equal(path.edge.hitLaneAnswers(), 0);
          laneAnswers += lane.edge.hitLaneAnswers();
          if (settings.name === 'disk tier only') diskOnlyAnswers += lane.edge.hitLaneAnswers();
        } finally {
          for (const c of clients) c.close();
          await Promise.all(edges.map((h) => h.close()));
        }
      }),
      { numRuns: 150 },
    );
    assert.ok(laneAnswers > 0, 'the hit lane answered no request in any run');
    assert.ok(diskOnlyAnswers > 0, 'the hit lane answered no request from the disk tier alone');
  });

  // Each setting that can refuse a request, after hits the lane answered: a request of the same
  // shape the setting refuses goes down the request path and is refused there.
  const refusals = [
    { name: 'a zone block list', edge: { trustedProxies: ['127.0.0.1'] }, zone: { blockList: ['203.0.113.9'] }, refused: 'X-Forwarded-For: 203.0.113.9', status: 403, lane: true },
    { name: 'the edge block list', edge: { trustedProxies: ['127.0.0.1'], blockList: ['203.0.113.0/24'] }, zone: {}, refused: 'X-Forwarded-For: 203.0.113.9', status: 403, lane: true },
    { name: 'a Referer rule', edge: {}, zone: { allowedReferrers: ['radio.example'], allowEmptyReferrer: true }, refused: 'Referer: https://elsewhere.example/', status: 403, lane: false },
    { name: 'a rate limit', edge: {}, zone: { rateLimit: { requestsPerSecond: 1, burst: 3 } }, refused: 'User-Agent: fourth', status: 429, lane: false },
    { name: 'signed links', edge: {}, zone: { signedUrls: { keys: [KEY] } }, refused: 'User-Agent: unsigned', status: 403, lane: false, signed: true },
  ];
  for (const r of refusals) {
    it(`leaves to the request path what ${r.name} refuses`, async () => {
      const h = await startHarness(r.edge, r.zone);
      after(() => h.close());
      routes(h);
      const client = new Client(h.edge.port);
      // Signed links: the accepted requests are signed, the refused one is not.
      const target = 'signed' in r ? signUrl('/small.mp3', { key: KEY, expires: h.clock.now / 1000 + 3600 }) : '/small.mp3';
      const plain = `GET ${target} HTTP/1.1\r\nHost: ${ZONE}\r\n\r\n`;
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await client.exchange(plain, 'GET')).slice(9, 12));
      const refused = await client.exchange(`GET /small.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\n${r.refused}\r\n\r\n`, 'GET');
      client.close();
      assert.equal(refused.slice(9, 12), String(r.status), refused);
      // Where the setting lets plain requests through, the lane took the third (a fill, a first hit, then the lane).
      assert.deepEqual(statuses, ['200', '200', '200']);
      if (r.lane) assert.deepEqual([statuses, h.edge.hitLaneAnswers()], [['200', '200', '200'], 1]);
      else assert.equal(h.edge.hitLaneAnswers(), 0);
    });
  }

  it('leaves hits to the request path while the client is at its limit of requests in flight', async () => {
    const h = await startHarness({ maxConnectionsPerIp: 1 });
    after(() => h.close());
    routes(h);
    let release = () => {};
    h.origin.route('/slow.mp3', (_req, res) => {
      release = () => res.end('slow');
      res.writeHead(200, { 'content-type': 'audio/mpeg', 'cache-control': 'max-age=600' });
    });
    const client = new Client(h.edge.port);
    for (let i = 0; i < 3; i++) await client.exchange(`GET /small.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\n\r\n`, 'GET');
    const other = new Client(h.edge.port);
    const slow = other.exchange(`GET /slow.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\n\r\n`, 'GET');
    while (h.origin.count('/slow.mp3') === 0) await new Promise((r) => setImmediate(r));
    const refused = await client.exchange(`GET /small.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\n\r\n`, 'GET');
    release();
    assert.match(await slow, /^HTTP\/1.1 200 .*slow$/s);
    for (const c of [client, other]) c.close();
    assert.equal(refused.slice(9, 12), '429', refused);
    assert.equal(h.edge.hitLaneAnswers(), 0);
  });

  it('answers repeated keep-alive hits, ranges and 304s itself, with what the request path sends', async () => {
    const lane = await startHarness({}, ZONE_OPTIONS);
    const path = await startHarness({ hitLane: false }, ZONE_OPTIONS);
    after(() => Promise.all([lane.close(), path.close()]));
    const edges = [lane, path];
    for (const h of edges) routes(h);
    const clients = edges.map((h) => new Client(h.edge.port));
    const asks = [
      `GET /small.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\n\r\n`,
      `GET /small.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\nOrigin: https://radio.example\r\nIf-None-Match: "s1"\r\n\r\n`,
      `GET /a.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\nRange: bytes=1000-1999\r\n\r\n`,
      `GET /a.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\nRange: bytes=2000-2999\r\n\r\n`,
    ];
    for (let round = 0; round < 3; round++) {
      for (const text of asks) {
        const answers = [];
        for (const c of clients) answers.push(await c.exchange(text, 'GET'));
        assert.equal(answers[0], answers[1]);
      }
    }
    for (const c of clients) c.close();
    // The first of each shape fills or plans; the lane answers the rest (the second range shares the first's plan).
    assert.ok(lane.edge.hitLaneAnswers() >= 7, `the lane answered ${lane.edge.hitLaneAnswers()}`);
    assert.equal(path.edge.hitLaneAnswers(), 0);
    assert.deepEqual(await counted(lane), await counted(path));
  });

  it('sends ranges of 64 KiB and more with sendfile, each with the head the request path sends, as the clock moves', async () => {
    const lane = await startHarness({ sendfile: true }, ZONE_OPTIONS);
    const path = await startHarness({ hitLane: false }, ZONE_OPTIONS);
    after(() => Promise.all([lane.close(), path.close()]));
    const edges = [lane, path];
    const big = bytes(2 * 1024 * 1024 + 123, 9);
    for (const h of edges) h.origin.route('/big.mp3', { headers: { 'content-type': 'audio/mpeg', 'cache-control': 'max-age=100000', etag: '"b1"' }, body: big });
    const clients = edges.map((h) => new Client(h.edge.port));
    const KiB = 1024;
    // Consecutive 256 KiB ranges as a listener reads them, the last one short, and ranges at the limits.
    const ranges = [[0, 256 * KiB - 1], [256 * KiB, 512 * KiB - 1], [512 * KiB, 768 * KiB - 1], [2 * 1024 * KiB, big.length - 1 + 500], [7, 7 + 64 * KiB - 1], [100, 100 + 512 * KiB - 1], [0, 256 * KiB - 1]];
    for (let round = 0; round < 3; round++) {
      for (const [a, b] of ranges) {
        const text = `GET /big.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\nOrigin: https://radio.example\r\nRange: bytes=${a}-${b}\r\n\r\n`;
        const answers = [];
        for (const [i, c] of clients.entries()) {
          answers.push(await c.exchange(text, 'GET'));
          // The first range's fill goes on after its answer: stored before the next request, on both edges alike.
          await stored(edges[i]);
        }
        assert.equal(answers[0], answers[1]);
      }
      for (const h of edges) h.clock.advance(round === 0 ? 1 : 3600);
    }
    for (const c of clients) c.close();
    assert.ok(lane.edge.hitLaneAnswers() >= 12, `the lane answered ${lane.edge.hitLaneAnswers()}`);
    assert.ok(lane.edge.openBodies() > 0, 'no hit went out from the disk tier');
    assert.deepEqual(await counted(lane), await counted(path));
  });
});

/** Until the edge's tiers hold what its fills brought (a fill goes on after the answer that started it). */
async function stored(h: Harness): Promise<void> {
  for (;;) {
    const u = h.edge.usage();
    if ((u.memory === undefined || u.memory.entries > 0) && (u.disk === undefined || u.disk.entries > 0)) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  await h.edge.idle();
}
