// Property tests of what the header parsers mean, beyond "never throws" (hostile-input.test.ts):
// round trips where a formatter exists, and the RFC 9110 rules as properties over generated input.
// Seeded (FC_SEED replays a run; the seed is in every failure), bounded in runs and time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkProperty } from '../../test/helpers/property.ts';
import { formatCacheControl, parseCacheControl } from './cache-control.ts';
import { evaluatePreconditions, ifRangeAllowsPartial } from './conditional.ts';
import { formatEntityTag, parseEntityTag, parseEntityTagList, type EntityTag } from './etag.ts';
import { formatHttpDate } from './http-date.ts';
import { parseRange, type ByteRange } from './range.ts';
import { planResponse, type BodySegment } from './representation.ts';

const LIMITS = { numRuns: 300, timeLimitMs: 10_000 };

/** Ascending, disjoint, non-adjacent ranges inside [0, size): what parseRange returns for them unchanged. */
const canonicalRanges = fc
  .tuple(fc.integer({ min: 1, max: 5000 }), fc.array(fc.tuple(fc.nat({ max: 200 }), fc.nat({ max: 200 })), { minLength: 1, maxLength: 20 }))
  .map(([size, steps]) => {
    const ranges: ByteRange[] = [];
    let at = 0;
    for (const [gap, len] of steps) {
      const start = at + (ranges.length ? gap + 1 : gap);
      const end = start + len;
      if (end >= size) break;
      ranges.push({ start, end });
      at = end + 1;
    }
    return { size, ranges };
  })
  .filter((x) => x.ranges.length > 0);

const ows = fc.constantFrom('', ' ', '\t', ' \t ');

test('parseRange round trip: canonical range sets come back as written, whatever the OWS and unit case', () => {
  checkProperty(
    fc.property(canonicalRanges, ows, ows, fc.constantFrom('bytes', 'BYTES', 'Bytes'), ({ size, ranges }, before, after, unit) => {
      const header = `${unit}=${ranges.map((r) => `${r.start}-${r.end}`).join(`${before},${after}`)}`;
      assert.deepEqual(parseRange(header, size, { maxRanges: 20 }), { kind: 'ranges', ranges });
    }),
    LIMITS,
  );
});

test('parseRange: the bytes selected are exactly the union of the satisfiable specs, clipped to the size', () => {
  const spec = fc.oneof(
    fc.tuple(fc.nat({ max: 120 }), fc.option(fc.nat({ max: 120 }), { nil: undefined })).map(([a, b]) => (b === undefined ? `${a}-` : `${Math.min(a, b)}-${Math.max(a, b)}`)),
    fc.nat({ max: 120 }).map((n) => `-${n}`),
  );
  checkProperty(
    fc.property(fc.array(spec, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 100 }), (specs, size) => {
      const r = parseRange(`bytes=${specs.join(',')}`, size, { maxRanges: 100, maxUnorderedRanges: 100 });
      const want = new Array<boolean>(size).fill(false);
      for (const s of specs) {
        const [a, b] = s.split('-');
        if (a === '') for (let i = Math.max(0, size - Number(b)); i < size && Number(b) > 0; i++) want[i] = true;
        else for (let i = Number(a); i <= (b === '' ? size - 1 : Math.min(Number(b), size - 1)); i++) want[i] = true;
      }
      if (!want.includes(true)) return assert.equal(r.kind, 'unsatisfiable', specs.join(','));
      assert.equal(r.kind, 'ranges', specs.join(','));
      const got = new Array<boolean>(size).fill(false);
      if (r.kind === 'ranges') for (const x of r.ranges) for (let i = x.start; i <= x.end; i++) got[i] = true;
      assert.deepEqual(got, want, specs.join(','));
    }),
    LIMITS,
  );
});

const token = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.!#$%&*+^`|~'), minLength: 1, maxLength: 12 });
const qdtext = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '\t', '"', '\\', ',', ';', '=', '\u00e9'), maxLength: 12 });

test('Cache-Control round trip: formatCacheControl then parseCacheControl gives the same directives', () => {
  checkProperty(
    fc.property(fc.uniqueArray(fc.tuple(token, fc.oneof(fc.constant(true as const), token, qdtext)), { selector: ([k]) => k, maxLength: 8 }), (entries) => {
      const parsed = parseCacheControl(formatCacheControl(new Map(entries)));
      assert.deepEqual([...parsed], entries);
    }),
    LIMITS,
  );
});

test('Cache-Control: several field lines parse as their comma-joined value; the first of a repeated directive wins', () => {
  checkProperty(
    fc.property(fc.array(fc.uniqueArray(fc.tuple(token, fc.oneof(fc.constant(true as const), token)), { selector: ([k]) => k, maxLength: 4 }), { minLength: 1, maxLength: 3 }), (lines) => {
      const values = lines.map((l) => formatCacheControl(new Map(l)));
      const cc = parseCacheControl(values);
      assert.deepEqual([...cc], [...parseCacheControl(values.filter((v) => v !== '').join(', '))]);
      const first = new Map<string, string | true>();
      for (const [k, v] of lines.flat()) if (!first.has(k)) first.set(k, v);
      assert.deepEqual([...cc], [...first]);
    }),
    LIMITS,
  );
});

const opaque = fc.string({ unit: fc.constantFrom('a', 'b', '0', '/', '=', '-', '\u00e9', "'"), maxLength: 10 }).map((s) => `"${s}"`);
const entityTag: fc.Arbitrary<EntityTag> = fc.record({ weak: fc.boolean(), opaque }, { noNullPrototype: true });

test('entity tags round trip through formatEntityTag / parseEntityTag, alone and as a list', () => {
  checkProperty(
    fc.property(fc.array(entityTag, { minLength: 1, maxLength: 5 }), ows, (tags, space) => {
      for (const tag of tags) assert.deepEqual(parseEntityTag(`${space}${formatEntityTag(tag)}${space}`), tag);
      assert.deepEqual(parseEntityTagList(tags.map(formatEntityTag).join(`${space},${space}`)), { kind: 'list', tags });
    }),
    LIMITS,
  );
});

const second = 1000;
const lastModified = fc.integer({ min: 0, max: 4e9 }).map((s) => s * second + 500);

test('If-None-Match: 304 for GET/HEAD exactly when a listed tag weakly matches the current one; If-Modified-Since is then ignored', () => {
  checkProperty(
    fc.property(opaque, fc.array(entityTag, { maxLength: 4 }), fc.boolean(), fc.boolean(), fc.constantFrom('GET', 'HEAD'), lastModified, fc.integer({ min: -5, max: 5 }), (current, others, listed, weakForm, method, lm, ims) => {
      const tags = [...others];
      if (listed) tags.splice(others.length >> 1, 0, { weak: weakForm, opaque: current });
      const header = tags.length ? tags.map(formatEntityTag).join(', ') : '"never-matches"';
      const matches = tags.some((t) => t.opaque === current);
      const v = { etag: current, lastModified: lm };
      const r = evaluatePreconditions(method, { 'if-none-match': header }, v);
      assert.equal(r.kind, matches ? 'not-modified' : 'proceed');
      // §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
      assert.deepEqual(evaluatePreconditions(method, { 'if-none-match': header, 'if-modified-since': formatHttpDate(lm + ims * 3600 * second) }, v), r);
    }),
    LIMITS,
  );
});

test('If-Match uses the strong comparison: only the strong current tag passes; If-Unmodified-Since is then ignored', () => {
  checkProperty(
    fc.property(opaque, entityTag, fc.boolean(), lastModified, (current, other, weakCurrent, lm) => {
      const etag = formatEntityTag({ weak: weakCurrent, opaque: current });
      const v = { etag, lastModified: lm };
      const strongSame = `"${current.slice(1, -1)}"`;
      const pass = evaluatePreconditions('GET', { 'if-match': strongSame }, v).kind;
      assert.equal(pass, weakCurrent ? 'precondition-failed' : 'proceed');
      assert.equal(evaluatePreconditions('GET', { 'if-match': `W/${strongSame}` }, v).kind, 'precondition-failed');
      const otherMatches = !other.weak && !weakCurrent && other.opaque === current;
      assert.equal(evaluatePreconditions('GET', { 'if-match': formatEntityTag(other) }, v).kind, otherMatches ? 'proceed' : 'precondition-failed');
      // An old If-Unmodified-Since does not count once If-Match is there.
      assert.equal(evaluatePreconditions('GET', { 'if-match': strongSame, 'if-unmodified-since': formatHttpDate(0) }, v).kind, pass);
    }),
    LIMITS,
  );
});

test('If-Modified-Since / If-Unmodified-Since compare at one-second precision', () => {
  checkProperty(
    fc.property(lastModified, fc.integer({ min: -100_000, max: 100_000 }), fc.constantFrom('GET', 'HEAD'), (lm, deltaMs, method) => {
      const date = formatHttpDate(lm + deltaMs);
      const notNewer = Math.floor(lm / second) <= Math.floor((lm + deltaMs) / second);
      assert.equal(evaluatePreconditions(method, { 'if-modified-since': date }, { lastModified: lm }).kind, notNewer ? 'not-modified' : 'proceed');
      assert.equal(evaluatePreconditions(method, { 'if-unmodified-since': date }, { lastModified: lm }).kind, notNewer ? 'proceed' : 'precondition-failed');
      // Without a modification date both are ignored (§13.1.3, §13.1.4).
      assert.equal(evaluatePreconditions(method, { 'if-modified-since': date, 'if-unmodified-since': date }, {}).kind, 'proceed');
    }),
    LIMITS,
  );
});

test('If-Range: the exact strong ETag or the exact Last-Modified date allows the range; anything weaker does not', () => {
  checkProperty(
    fc.property(opaque, lastModified, fc.boolean(), fc.integer({ min: 1, max: 100_000 }), (tag, lm, weakLm, shift) => {
      const v = { etag: tag, lastModified: lm, lastModifiedWeak: weakLm };
      assert.equal(ifRangeAllowsPartial(tag, v), true);
      assert.equal(ifRangeAllowsPartial(`W/${tag}`, v), false);
      assert.equal(ifRangeAllowsPartial(formatHttpDate(lm), v), !weakLm);
      const other = formatHttpDate(lm + shift * second);
      assert.equal(ifRangeAllowsPartial(other, v), false);
    }),
    LIMITS,
  );
});

test('planResponse: a 200 or 206 never costs more than the whole representation, and a 206 carries exactly the ranges asked for', () => {
  const rangeHeader = fc.oneof(
    canonicalRanges.map(({ ranges }) => `bytes=${ranges.map((r) => `${r.start}-${r.end}`).join(',')}`),
    fc.uniqueArray(fc.nat({ max: 2000 }), { minLength: 2, maxLength: 20 }).map((ps) => `bytes=${ps.map((p) => `${p}-${p}`).join(',')}`),
  );
  checkProperty(
    fc.property(rangeHeader, fc.integer({ min: 1, max: 6000 }), fc.constantFrom('audio/mpeg', 'video/mp4', 'text/plain; charset=utf-8'), (range, size, contentType) => {
      const plan = planResponse('GET', { range }, { size, contentType, etag: '"e"' });
      if (plan.status !== 200 && plan.status !== 206) return;
      const length = plan.body.reduce((n, s: BodySegment) => n + (s.kind === 'text' ? Buffer.byteLength(s.text) : s.end - s.start + 1), 0);
      assert.equal(plan.headers['content-length'], String(length));
      assert.ok(length <= size, `${length} > ${size} for ${range}`);
      if (plan.status === 206) {
        const parsed = parseRange(range, size);
        assert.equal(parsed.kind, 'ranges');
        if (parsed.kind === 'ranges') assert.deepEqual(plan.body.filter((s) => s.kind === 'bytes').map((s) => s.kind === 'bytes' && [s.start, s.end]), parsed.ranges.map((r) => [r.start, r.end]));
      }
    }),
    LIMITS,
  );
});
