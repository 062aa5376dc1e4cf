import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { cacheKey, methodClass, normaliseTarget, parseCacheKey, primaryOfVariant, requestKey, variantKey } from './cache-key.ts';
import type { Zone } from '../zone/zone.ts';

describe('cache key', () => {
  const rows: { name: string; a: [string, string]; b: [string, string]; same: boolean }[] = [
    { name: 'same zone and target', a: ['cdn.a', '/x'], b: ['cdn.a', '/x'], same: true },
    { name: 'zones differ', a: ['cdn.a', '/x'], b: ['cdn.b', '/x'], same: false },
    { name: 'query differs', a: ['cdn.a', '/x?a=1'], b: ['cdn.a', '/x?a=2'], same: false },
    { name: 'a delimiter inside a part cannot forge another key', a: ['cdn.a', '/x|cdn.b|/y'], b: ['cdn.a|/x|cdn.b', '/y'], same: false },
    { name: 'JSON-looking paths stay distinct', a: ['cdn.a', '/"],["b'], b: ['cdn.a', '/'], same: false },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const ka = cacheKey({ zone: row.a[0], method: 'GET', target: row.a[1] });
      const kb = cacheKey({ zone: row.b[0], method: 'GET', target: row.b[1] });
      assert.equal(ka === kb, row.same);
    });
  }

  it('round-trips through parseCacheKey', () => {
    const parts = { zone: 'cdn.a', method: 'GET' as const, target: '/a b/ü?x="1"' };
    assert.deepEqual(parseCacheKey(cacheKey(parts)), parts);
    assert.equal(parseCacheKey('nonsense'), undefined);
    assert.equal(parseCacheKey('[2,"a","GET","/"]'), undefined);
  });

  it('variant keys carry their primary key', () => {
    const p = cacheKey({ zone: 'cdn.a', method: 'GET', target: '/x' });
    assert.equal(primaryOfVariant(variantKey(p, '[["accept-language","fr"]]')), p);
    assert.notEqual(variantKey(p, 'a'), variantKey(p, 'b'));
  });

  it('HEAD shares the GET entry; other methods are not looked up', () => {
    assert.equal(methodClass('GET'), 'GET');
    assert.equal(methodClass('HEAD'), 'GET');
    assert.equal(methodClass('POST'), undefined);
    assert.equal(methodClass('get'), undefined);
  });
});

describe('query string handling (zone option queryString)', () => {
  const rows: [mode: 'keep' | 'ignore' | 'sort', input: string, expected: string][] = [
    ['keep', '/a?b=1&a=2', '/a?b=1&a=2'],
    ['keep', '/a', '/a'],
    ['ignore', '/a?b=1&a=2', '/a'],
    ['ignore', '/a?', '/a'],
    ['ignore', '/a', '/a'],
    ['sort', '/a?b=1&a=2', '/a?a=2&b=1'],
    ['sort', '/a?a=2&b=1', '/a?a=2&b=1'],
    ['sort', '/a?x=2&x=1&a', '/a?a&x=2&x=1'],
    ['sort', '/a?&&b=1&', '/a?b=1'],
    ['sort', '/a?', '/a'],
    ['sort', '/a?q=%20&p=a+b', '/a?p=a+b&q=%20'],
    ['sort', '/a?B=1&a=1', '/a?B=1&a=1'],
  ];
  for (const [mode, input, expected] of rows) {
    it(`${mode}: ${input} → ${expected}`, () => assert.equal(normaliseTarget(input, mode), expected));
  }
});

test('requestKey: made once per zone and target, as normaliseTarget and cacheKey make it, also past the bound', () => {
  const zone = (host: string, queryString: Zone['queryString']) => ({ host, queryString }) as Zone;
  const sorted = zone('a.example', 'sort');
  const ignored = zone('b.example', 'ignore');
  const expect = (z: Zone, t: string) => {
    const target = normaliseTarget(t, z.queryString);
    return { target, primary: cacheKey({ zone: z.host, method: 'GET', target }) };
  };
  const first = requestKey(sorted, '/a.mp3?b=2&a=1');
  assert.deepEqual(first, expect(sorted, '/a.mp3?b=2&a=1'));
  assert.equal(first.target, '/a.mp3?a=1&b=2');
  assert.equal(requestKey(sorted, '/a.mp3?b=2&a=1'), first, 'the same key object again');
  // The same target in another zone is another key.
  assert.deepEqual(requestKey(ignored, '/a.mp3?b=2&a=1'), expect(ignored, '/a.mp3?b=2&a=1'));
  for (let i = 0; i < 10_000; i++) {
    const t = `/s/${i}.mp3?z=${i}&a=${i % 7}`;
    assert.deepEqual(requestKey(sorted, t), expect(sorted, t), t);
  }
  assert.deepEqual(requestKey(sorted, '/a.mp3?b=2&a=1'), expect(sorted, '/a.mp3?b=2&a=1'));
  // A long target is worked out each time (not kept), with the same answer.
  const long = `/${'x'.repeat(600)}.mp3?b=1&a=2`;
  assert.deepEqual(requestKey(sorted, long), expect(sorted, long));
  assert.notEqual(requestKey(sorted, long), requestKey(sorted, long));
});
