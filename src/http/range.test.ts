import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRange, parseRangeSet } from './range.ts';
import type { RangeResult } from './range.ts';

const R = (...pairs: Array<[number, number]>): RangeResult => ({ kind: 'ranges', ranges: pairs.map(([start, end]) => ({ start, end })) });
const IGNORE: RangeResult = { kind: 'ignore' };
const UNSAT: RangeResult = { kind: 'unsatisfiable' };

test('parseRange', async (t) => {
  const rows: Array<[string | string[] | undefined, number, RangeResult, number?]> = [
    [undefined, 100, { kind: 'none' }],
    [[], 100, { kind: 'none' }],
    ['bytes=0-1', 100, R([0, 1])], // Safari's probe
    ['bytes=0-', 100, R([0, 99])],
    ['bytes=0-0', 100, R([0, 0])],
    ['bytes=50-', 100, R([50, 99])],
    ['bytes=99-', 100, R([99, 99])],
    ['bytes=-10', 100, R([90, 99])],
    ['bytes=-100', 100, R([0, 99])],
    ['bytes=-1000', 100, R([0, 99])], // suffix longer than size
    ['bytes=10-1000', 100, R([10, 99])], // clipped
    ['bytes=10-99999999999999999999999', 100, R([10, 99])], // huge last-pos
    ['bytes=00010-00020', 100, R([10, 20])],
    ['Bytes=0-1', 100, R([0, 1])], // unit is case-insensitive
    ['  bytes=0-1  ', 100, R([0, 1])],
    ['bytes= 0-1 , 5-6', 100, R([0, 1], [5, 6])],
    ['bytes=0-1,,5-6,', 100, R([0, 1], [5, 6])], // empty list elements
    [['bytes=0-1'], 100, R([0, 1])],
    // coalescing, order kept
    ['bytes=0-10,5-20', 100, R([0, 20])],
    ['bytes=0-10,11-20', 100, R([0, 20])], // adjacent
    ['bytes=50-60,0-10', 100, R([50, 60], [0, 10])], // request order kept
    ['bytes=50-60,0-10,55-70', 100, R([50, 70], [0, 10])],
    ['bytes=0-0,0-0,0-0,0-0,0-0,0-0,0-0', 100, R([0, 0])],
    ['bytes=-10,90-', 100, R([90, 99])],
    ['bytes=0-,-1', 100, R([0, 99])],
    // unsatisfiable
    ['bytes=100-', 100, UNSAT],
    ['bytes=100-200', 100, UNSAT],
    ['bytes=-0', 100, UNSAT],
    ['bytes=-0,100-', 100, UNSAT],
    ['bytes=99999999999999999999999-', 100, UNSAT],
    ['bytes=0-', 0, UNSAT],
    ['bytes=0-0', 0, UNSAT],
    ['bytes=-0', 0, UNSAT],
    ['bytes=100-,5-6', 100, R([5, 6])], // unsatisfiable members are dropped
    // size 0 with a non-zero suffix: satisfiable per RFC but selects nothing → serve 200
    ['bytes=-5', 0, IGNORE],
    ['bytes=0-,-5', 0, IGNORE],
    // invalid → ignore
    ['bytes=5-1', 100, IGNORE],
    ['bytes=99999999999999999999999-99999999999999999999998', 100, IGNORE],
    ['bytes=9007199254740993-9007199254740992', 100, IGNORE], // exact compare beyond 2^53
    ['bytes=0-1,5-1', 100, IGNORE],
    ['bytes=', 100, IGNORE],
    ['bytes=,', 100, IGNORE],
    ['bytes=-', 100, IGNORE],
    ['bytes=a-b', 100, IGNORE],
    ['bytes=1-2-3', 100, IGNORE],
    ['bytes=+1-2', 100, IGNORE],
    ['bytes=1.5-2', 100, IGNORE],
    ['bytes=0x10-20', 100, IGNORE],
    ['bytes=0 - 1', 100, IGNORE],
    ['bytes =0-1', 100, IGNORE],
    ['bytes=\u0661-\u0662', 100, IGNORE], // Arabic-Indic digits
    ['bytes=０-１', 100, IGNORE],
    ['items=0-1', 100, IGNORE],
    ['none', 100, IGNORE],
    ['0-1', 100, IGNORE],
    ['', 100, IGNORE],
    [['bytes=0-1', 'bytes=2-3'], 100, IGNORE], // several Range lines
    ['bytes=0-1', -1, IGNORE], // nonsense size from the caller
    ['bytes=0-1', NaN, IGNORE],
    // amplification defences
    [Array.from({ length: 20 }, (_, i) => `${i * 2}-${i * 2}`).join(',').replace(/^/, 'bytes='), 100, R(...Array.from({ length: 20 }, (_, i) => [i * 2, i * 2] as [number, number]))],
    [Array.from({ length: 21 }, (_, i) => `${i * 2}-${i * 2}`).join(',').replace(/^/, 'bytes='), 100, IGNORE],
    ['bytes=0-1,3-4,6-7', 100, IGNORE, 2], // custom maxRanges
    ['bytes=8-8,6-6,4-4,2-2,0-0', 100, R([8, 8], [6, 6], [4, 4], [2, 2], [0, 0])], // 5 out of order: ok
    ['bytes=10-10,8-8,6-6,4-4,2-2,0-0', 100, IGNORE], // 6 out of order: ignore
    ['bytes=' + '0-0,'.repeat(10000), 100, IGNORE], // header too long
  ];
  for (const [header, size, want, maxRanges] of rows) {
    const name = `${JSON.stringify(header)?.slice(0, 80)} size=${size}`;
    await t.test(name, () => assert.deepEqual(parseRange(header, size, maxRanges === undefined ? undefined : { maxRanges }), want));
  }
});

test('coalesced ranges never exceed the size in total and never overlap', () => {
  const r = parseRange('bytes=0-50,25-75,-60,10-20,90-', 100);
  assert.deepEqual(r, R([0, 99]));
});

test('the fast path for one int-range answers as the general parser does', () => {
  const digits = fc.oneof(fc.stringMatching(/^[0-9]{1,3}$/), fc.stringMatching(/^[0-9]{12,18}$/), fc.nat().map(String), fc.constant(''));
  // Mostly the players' shape, with now and then a character that takes it off the fast path.
  const noise = fc.oneof(fc.constant(''), fc.constantFrom(' ', '\t', ',', '-', '=', 'x', '0', 'Bytes=', ', 5-6'));
  const value = fc.tuple(fc.constantFrom('bytes=', 'bytes=', 'bytes=', 'BYTES=', 'bytes =', 'byte='), digits, noise, fc.constantFrom('-', '-', '--', ''), digits, noise)
    .map((parts) => parts.join(''));
  const size = fc.oneof(fc.constant(0), fc.nat(200), fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER));
  // A configured range limit (0 refuses every range) holds on the fast path as in the general parser.
  const opts = fc.oneof(fc.constant(undefined), fc.record({ maxRanges: fc.nat(3) }));
  fc.assert(fc.property(value, size, opts, (v, n, o) => {
    assert.deepEqual(parseRange(v, n, o), parseRangeSet(v, n, o), `${JSON.stringify(v)} of ${n} with ${JSON.stringify(o)}`);
  }), { numRuns: 5000 });
});

test('the fast path: long digit strings, leading zeros and sizes at the edges', () => {
  for (const [v, n] of [
    ['bytes=000000000000010-000000000000020', 100], ['bytes=999999999999999-', 10], ['bytes=1234567890123456-', 2 ** 53 - 1],
    ['bytes=90071992547409930-90071992547409929', Number.MAX_SAFE_INTEGER], ['bytes=0-', 0], ['bytes=0-0', 1], ['bytes=5-4', 10], ['bytes=9-', 10], ['bytes=10-', 10], ['bytes=0-999999999999999999', 7],
  ] as const) assert.deepEqual(parseRange(v, n), parseRangeSet(v, n), v);
  assert.deepEqual(parseRange('bytes=16777216-16842751', 33554432), R([16777216, 16842751]));
  assert.deepEqual(parseRange('bytes=5-4', 10), IGNORE);
  assert.deepEqual(parseRange('bytes=10-', 10), UNSAT);
  assert.deepEqual(parseRange('bytes=0-0', Number.MAX_SAFE_INTEGER, { maxRanges: 0 }), IGNORE);
  assert.deepEqual(parseRange('bytes=0-', 10, { maxRanges: 0 }), IGNORE);
});
