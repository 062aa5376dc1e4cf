import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVary, varyKey } from './vary.ts';

test('parseVary', async (t) => {
  const rows: Array<[string | string[] | undefined, ReturnType<typeof parseVary>]> = [
    [undefined, { kind: 'fields', names: [] }],
    ['', { kind: 'fields', names: [] }],
    ['Accept-Encoding', { kind: 'fields', names: ['accept-encoding'] }],
    ['Origin, accept-encoding, ORIGIN', { kind: 'fields', names: ['accept-encoding', 'origin'] }],
    [['Origin', 'Accept'], { kind: 'fields', names: ['accept', 'origin'] }],
    ['*', { kind: 'any' }],
    ['Accept, *', { kind: 'any' }],
    [['Accept', ' * '], { kind: 'any' }],
    ['Accept, bad name, "q", caf\u00e9', { kind: 'fields', names: ['accept'] }],
    [',,Accept,,', { kind: 'fields', names: ['accept'] }],
  ];
  for (const [input, want] of rows) await t.test(JSON.stringify(input), () => assert.deepEqual(parseVary(input), want));
});

test('varyKey', async (t) => {
  const rows: Array<[string, string[], Record<string, string | string[] | undefined>, string]> = [
    ['no names', [], { accept: 'x' }, '[]'],
    ['absent is null', ['origin'], {}, '[["origin",null]]'],
    ['empty string is kept', ['origin'], { origin: '' }, '[["origin",""]]'],
    ['OWS trimmed', ['accept-encoding'], { 'accept-encoding': ' gzip \t' }, '[["accept-encoding","gzip"]]'],
    ['lines combined', ['accept'], { accept: ['a/b ', ' c/d'] }, '[["accept","a/b, c/d"]]'],
    ['sorted, deduped, case-folded names', ['Origin', 'accept', 'origin'], { origin: 'o', accept: 'a' }, '[["accept","a"],["origin","o"]]'],
    ['delimiters in values cannot collide', ['a', 'b'], { a: '","b', b: 'x' }, '[["a","\\",\\"b"],["b","x"]]'],
  ];
  for (const [name, names, headers, want] of rows) await t.test(name, () => assert.equal(varyKey(names, headers), want));
  // RFC 9111 §4.1 normalisation: values that mean the same select the same variant, others do not.
  const same: Array<[string, string | string[], string | string[]]> = [
    ['accept-encoding', 'gzip, br', 'BR,GZIP'],
    ['accept-encoding', 'gzip;q=0.5, br', ['br', 'Gzip ; Q=0.5']],
    ['accept-encoding', 'gzip,  deflate', 'gzip,deflate'],
    ['accept-language', 'en-US, fr;q=0.5', 'en-us,fr; q=0.5'],
    ['accept', 'Text/HTML; Charset=utf-8, */*;q=0.1', 'text/html;charset=utf-8 , */*; q=0.1'],
    ['accept', 'a/b, c/d', ['a/b', 'c/d']],
  ];
  for (const [field, a, b] of same) {
    await t.test(`${field}: ${JSON.stringify(a)} ≡ ${JSON.stringify(b)}`, () => assert.equal(varyKey([field], { [field]: a }), varyKey([field], { [field]: b })));
  }
  const different: Array<[string, string, string]> = [
    ['accept-encoding', 'gzip', 'br'],
    ['accept-encoding', 'gzip;q=0.5', 'gzip;q=0.6'],
    ['accept-language', 'en, fr', 'fr, en'],
    ['accept', 'text/html, application/json', 'application/json, text/html'],
    ['accept', 'text/plain; format="Flowed"', 'text/plain; format="flowed"'],
    ['x-custom', 'Value', 'value'],
    ['x-custom', 'a,b', 'b,a'],
  ];
  for (const [field, a, b] of different) {
    await t.test(`${field}: ${JSON.stringify(a)} ≢ ${JSON.stringify(b)}`, () => assert.notEqual(varyKey([field], { [field]: a }), varyKey([field], { [field]: b })));
  }
  assert.equal(varyKey(['accept'], { accept: ['a', 'b'] }), varyKey(['accept'], { accept: 'a, b' }));
  assert.notEqual(varyKey(['a', 'b'], { a: 'x', b: undefined }), varyKey(['a', 'b'], { a: undefined, b: 'x' }));
});
