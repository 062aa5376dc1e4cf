import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ccFieldNames, ccSeconds, formatCacheControl, hasConflictingDuplicates, parseCacheControl } from './cache-control.ts';

const asObject = (h: string | string[] | undefined) => Object.fromEntries(parseCacheControl(h));

test('parseCacheControl', async (t) => {
  const rows: Array<[string | string[] | undefined, Record<string, string | true>]> = [
    [undefined, {}],
    ['', {}],
    ['public, max-age=3600', { public: true, 'max-age': '3600' }],
    ['Max-Age=60, NO-STORE', { 'max-age': '60', 'no-store': true }],
    ['no-cache="Set-Cookie, Authorization"', { 'no-cache': 'Set-Cookie, Authorization' }],
    ['private="x", max-age=5', { private: 'x', 'max-age': '5' }],
    ['ext="a\\"b\\\\c"', { ext: 'a"b\\c' }],
    ['max-age=60, max-age=0', { 'max-age': '60' }], // first wins
    ['MAX-AGE=1, max-age=2', { 'max-age': '1' }],
    [['max-age=10', 'public'], { 'max-age': '10', public: true }],
    [',,, public ,,', { public: true }],
    ['max-age = 60', { 'max-age': '60' }], // lenient OWS around "="
    ['max-age=', {}], // empty argument is neither token nor quoted-string
    ['max-age="60', {}], // unterminated quote swallows the rest
    ['max-age=6 0, public', { public: true }],
    ['bad name=1, public', { public: true }],
    ['=1, public', { public: true }],
    ['"quoted", public', { public: true }],
    ['s-maxage=10;foo, public', { public: true }],
    ['caf\u00e9, public', { public: true }],
    ['stale-while-revalidate=30, immutable', { 'stale-while-revalidate': '30', immutable: true }],
  ];
  for (const [input, want] of rows) await t.test(JSON.stringify(input), () => assert.deepEqual(asObject(input), want));
});

test('hasConflictingDuplicates', () => {
  assert.equal(hasConflictingDuplicates('max-age=1, max-age=2'), true);
  assert.equal(hasConflictingDuplicates('max-age=1, max-age=1'), false);
  assert.equal(hasConflictingDuplicates('max-age=1, public'), false);
});

test('ccSeconds', async (t) => {
  const rows: Array<[string, number | undefined]> = [
    ['max-age=0', 0],
    ['max-age=3600', 3600],
    ['max-age="120"', 120],
    ['max-age=0000000000000000000000000000060', 60],
    ['max-age=2147483647', 2147483647],
    ['max-age=2147483648', 2147483648],
    ['max-age=2147483649', 2 ** 31], // clamped
    ['max-age=99999999999999999999999999999', 2 ** 31],
    ['max-age=-1', undefined],
    ['max-age=+1', undefined],
    ['max-age=1.5', undefined],
    ['max-age=1e3', undefined],
    ['max-age=0x10', undefined],
    ['max-age=\u0661', undefined],
    ['max-age', undefined],
    ['max-age=""', undefined],
    ['public', undefined],
  ];
  for (const [header, want] of rows) await t.test(header, () => assert.equal(ccSeconds(parseCacheControl(header), 'max-age'), want));
  assert.equal(ccSeconds(parseCacheControl('S-MAXAGE=5'), 'S-Maxage'), 5);
});

test('ccFieldNames', async (t) => {
  const rows: Array<[string, string[] | true | undefined]> = [
    ['public', undefined],
    ['no-cache', true],
    ['no-cache="Set-Cookie, X-Foo"', ['set-cookie', 'x-foo']],
    ['no-cache=set-cookie', ['set-cookie']],
    ['no-cache=""', []],
    ['no-cache=", ,a b, x"', ['x']],
  ];
  for (const [header, want] of rows) await t.test(header, () => assert.deepEqual(ccFieldNames(parseCacheControl(header), 'no-cache'), want));
  assert.deepEqual(ccFieldNames(parseCacheControl('private="Authorization"'), 'private'), ['authorization']);
});

test('formatCacheControl', async (t) => {
  const rows: Array<[Parameters<typeof formatCacheControl>[0], string]> = [
    [{ public: true, 'max-age': 3600 }, 'public, max-age=3600'],
    [{ 'Max-Age': 1.9, immutable: true, private: false, 'no-store': undefined }, 'max-age=1, immutable'],
    [{ 'no-cache': ['set-cookie', 'authorization'] }, 'no-cache="set-cookie, authorization"'],
    [{ ext: 'a b"c' }, 'ext="a b\\"c"'],
    [{ ext: 'token' }, 'ext=token'],
    [{ 'max-age': 1e12 }, 'max-age=2147483648'],
    [new Map<string, string | true>([['no-store', true], ['x', 'y']]), 'no-store, x=y'],
    [{}, ''],
  ];
  for (const [input, want] of rows) await t.test(want || '(empty)', () => assert.equal(formatCacheControl(input), want));
  for (const bad of [{ 'bad name': true }, { 'max-age': -1 }, { 'max-age': NaN }, { ext: 'a\r\nb' }, { 'no-cache': ['a b'] }]) {
    await t.test(`throws ${JSON.stringify(bad)}`, () => assert.throws(() => formatCacheControl(bad), { code: 'ERR_HTTP_INVALID_ARGUMENT' }));
  }
});

test('round trip: format then parse', () => {
  const cc = parseCacheControl(formatCacheControl({ public: true, 'max-age': 60, 'no-cache': ['a', 'b'], ext: 'x, "y"' }));
  assert.deepEqual(Object.fromEntries(cc), { public: true, 'max-age': '60', 'no-cache': 'a, b', ext: 'x, "y"' });
});
