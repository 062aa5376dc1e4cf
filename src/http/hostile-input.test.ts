// Property tests: hostile header values must never throw and must keep each parser's invariants.
// (sirv 3.0.2 dies on a single `Range: bytes=5-1`; tables catch the cases we thought of, these the rest.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkProperty } from '../../test/helpers/property.ts';
import { ccFieldNames, ccSeconds, parseCacheControl } from './cache-control.ts';
import { evaluatePreconditions, ifRangeAllowsPartial } from './conditional.ts';
import { parseEntityTag, parseEntityTagList } from './etag.ts';
import { formatHttpDate, parseHttpDate } from './http-date.ts';
import { parseRange } from './range.ts';
import { planResponse } from './representation.ts';
import type { BodySegment } from './representation.ts';
import { stripHopByHop } from './hop-by-hop.ts';
import { parseVary, varyKey } from './vary.ts';

// Seeded (FC_SEED replays a run; the seed is in every failure), bounded in runs and in time.
const RUNS = { numRuns: 400, timeLimitMs: 10_000 };

// Header-ish text: the characters the grammars care about, plus anything at all.
const piece = fc.oneof(
  fc.constantFrom('bytes=', 'Bytes=', 'bytes =', '-', ',', ', ', ',,', ' ', '\t', '=', '"', 'W/', '*', '\\', ';', ':', 'GMT', 'Sun, ', 'Nov', '\r\n', '\u0000', '\u00e9', '\u{1F600}', '\u0661', '０'),
  fc.nat({ max: 200 }).map(String),
  fc.bigInt({ min: 0n, max: 10n ** 40n }).map(String),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 8 }),
);
const hostile = fc.array(piece, { maxLength: 24 }).map((parts) => parts.join(''));
const headerValue = fc.oneof(fc.constant(undefined), hostile, fc.array(hostile, { maxLength: 3 }));

// Structurally plausible Range values: the corner cases of the real grammar are dense here.
const pos = fc.oneof(fc.constant(''), fc.nat({ max: 300 }).map(String), fc.constantFrom('0', '00', '9007199254740993', '1' + '0'.repeat(30)));
const rangeValue = fc
  .tuple(fc.constantFrom('bytes=', 'BYTES=', 'bytes=', 'items=', ''), fc.array(fc.tuple(pos, pos), { maxLength: 30 }), fc.constantFrom(',', ', ', ' ,', ',,'))
  .map(([unit, specs, sep]) => unit + specs.map(([a, b]) => `${a}-${b}`).join(sep));
const size = fc.oneof(fc.nat({ max: 300 }), fc.constant(0), fc.constant(Number.MAX_SAFE_INTEGER));

test('parseRange: never throws; ranges are in bounds, disjoint, non-adjacent, few, and never more than size bytes', () => {
  checkProperty(
    fc.property(fc.oneof(hostile, rangeValue), size, fc.integer({ min: 0, max: 30 }), (header, n, maxRanges) => {
      const r = parseRange(header, n, { maxRanges });
      assert.ok(['none', 'ignore', 'unsatisfiable', 'ranges'].includes(r.kind));
      if (r.kind !== 'ranges') return;
      assert.ok(r.ranges.length >= 1 && r.ranges.length <= maxRanges);
      let total = 0;
      const sorted = [...r.ranges].sort((a, b) => a.start - b.start);
      sorted.forEach((x, i) => {
        assert.ok(Number.isSafeInteger(x.start) && Number.isSafeInteger(x.end) && x.start >= 0 && x.start <= x.end && x.end < n);
        if (i > 0) assert.ok(sorted[i - 1].end + 1 < x.start, 'disjoint and not adjacent');
        total += x.end - x.start + 1;
      });
      assert.ok(total <= n);
    }),
    RUNS,
  );
});

test('parseRange: a single well-formed int-range agrees with a direct computation', () => {
  checkProperty(
    fc.property(fc.nat({ max: 500 }), fc.option(fc.nat({ max: 500 })), fc.nat({ max: 300 }), (first, last, n) => {
      const r = parseRange(`bytes=${first}-${last ?? ''}`, n);
      if (last !== null && last < first) return assert.deepEqual(r, { kind: 'ignore' });
      if (first >= n) return assert.deepEqual(r, { kind: 'unsatisfiable' });
      assert.deepEqual(r, { kind: 'ranges', ranges: [{ start: first, end: Math.min(last ?? n - 1, n - 1) }] });
    }),
    RUNS,
  );
});

const validators = fc.record({
  etag: fc.option(fc.constantFrom('"a"', 'W/"a"', '"b"', '""'), { nil: undefined }),
  lastModified: fc.option(fc.integer({ min: 0, max: 4e12 }), { nil: undefined }),
});
const conditionalHeaders = fc.record(
  {
    'if-match': headerValue,
    'if-none-match': fc.oneof(headerValue, fc.constantFrom('"a"', 'W/"a"', '*', '"a", "b"')),
    'if-modified-since': fc.oneof(headerValue, fc.integer({ min: 0, max: 4e12 }).map(formatHttpDate)),
    'if-unmodified-since': headerValue,
    'if-range': fc.oneof(headerValue, fc.constantFrom('"a"', 'W/"a"')),
    range: fc.oneof(headerValue, rangeValue),
  },
  { requiredKeys: [] },
);

test('evaluatePreconditions / ifRangeAllowsPartial: never throw; GET/HEAD only fail with If-Match or If-Unmodified-Since', () => {
  checkProperty(
    fc.property(fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE', 'gEt', ''), conditionalHeaders, validators, fc.boolean(), (method, headers, v, exists) => {
      const r = evaluatePreconditions(method, headers, v, exists);
      assert.ok(['proceed', 'not-modified', 'precondition-failed'].includes(r.kind));
      if (r.kind === 'precondition-failed' && (method === 'GET' || method === 'HEAD')) {
        assert.ok(headers['if-match'] !== undefined || headers['if-unmodified-since'] !== undefined);
      }
      if (r.kind === 'not-modified') assert.ok(method === 'GET' || method === 'HEAD');
      const allowed = ifRangeAllowsPartial(headers['if-range'], v);
      assert.equal(typeof allowed, 'boolean');
      if (typeof headers['if-range'] === 'string' && headers['if-range'].trim().startsWith('W/')) assert.equal(allowed, false);
    }),
    RUNS,
  );
});

test('planResponse: never throws on hostile requests; Content-Length always equals the serialised body', () => {
  checkProperty(
    fc.property(fc.constantFrom('GET' as const, 'HEAD' as const), conditionalHeaders, validators, fc.nat({ max: 300 }), (method, headers, v, n) => {
      const plan = planResponse(method, headers, { size: n, contentType: 'video/mp4', ...v }, { boundary: () => 'XYZ' });
      assert.ok([200, 206, 304, 412, 416].includes(plan.status));
      const bodyBytes = plan.body.reduce((sum, s: BodySegment) => sum + (s.kind === 'text' ? Buffer.byteLength(s.text) : s.end - s.start + 1), 0);
      for (const s of plan.body) if (s.kind === 'bytes') assert.ok(s.start >= 0 && s.start <= s.end && s.end < n);
      if (plan.status === 304) assert.equal(plan.headers['content-length'], undefined);
      else if (method === 'GET') assert.equal(plan.headers['content-length'], String(bodyBytes));
      if (plan.status === 200 || plan.status === 206) assert.ok(Number(plan.headers['content-length']) <= n, 'never more than the whole');
      if (method === 'HEAD') assert.deepEqual(plan.body, []);
    }),
    RUNS,
  );
});

test('parseCacheControl: never throws; names are lower-case tokens; ccSeconds is an integer in [0, 2^31]', () => {
  const ccValue = fc.oneof(
    headerValue,
    fc.array(fc.tuple(fc.constantFrom('max-age', 'MAX-AGE', 's-maxage', 'no-cache', 'private', 'x y', ''), fc.option(fc.oneof(hostile, fc.bigInt({ min: -5n, max: 10n ** 30n }).map(String)))), { maxLength: 8 })
      .map((ds) => ds.map(([k, v]) => (v === null ? k : `${k}=${v}`)).join(', ')),
  );
  checkProperty(
    fc.property(ccValue, (h) => {
      const cc = parseCacheControl(h);
      for (const [name, value] of cc) {
        assert.match(name, /^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
        assert.ok(value === true || typeof value === 'string');
      }
      for (const d of ['max-age', 's-maxage', 'stale-while-revalidate']) {
        const s = ccSeconds(cc, d);
        assert.ok(s === undefined || (Number.isInteger(s) && s >= 0 && s <= 2 ** 31));
      }
      const names = ccFieldNames(cc, 'no-cache');
      assert.ok(names === undefined || names === true || Array.isArray(names));
    }),
    RUNS,
  );
});

test('dates, entity tags, Vary and hop-by-hop: never throw on hostile input', () => {
  checkProperty(
    fc.property(headerValue, hostile, (h, s) => {
      const d = parseHttpDate(s);
      assert.ok(d === undefined || Number.isFinite(d));
      parseEntityTag(s);
      assert.ok(['any', 'list', 'invalid'].includes(parseEntityTagList(h).kind));
      const vary = parseVary(h);
      if (vary.kind === 'fields') JSON.parse(varyKey(vary.names, { [vary.names[0] ?? 'x']: h }));
      stripHopByHop({ connection: h, [s]: s, te: h });
    }),
    RUNS,
  );
});

test('HTTP-date round trip for every second in years 0000..9999', () => {
  checkProperty(
    fc.property(fc.integer({ min: -62167219200, max: 253402300799 }), (sec) => {
      assert.equal(parseHttpDate(formatHttpDate(sec * 1000)), sec * 1000);
    }),
    RUNS,
  );
});
