import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheKey, methodClass, normaliseTarget, parseCacheKey, primaryOfVariant, variantKey } from './cache-key.ts';

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
