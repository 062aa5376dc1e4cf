import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDictionary } from './structured-fields.ts';
import type { Dictionary } from './structured-fields.ts';
import { parseTargetedCacheControl } from './cache-control.ts';

/** A compact view of a dictionary: key → value (parameters as ;k=v), inner lists as (a b). */
function show(d: Dictionary | undefined): string | undefined {
  if (d === undefined) return undefined;
  const bare = (v: { type: string; value: unknown }) =>
    v.type === 'string' ? JSON.stringify(v.value) : v.type === 'boolean' ? (v.value ? '?1' : '?0') : v.type === 'byte-sequence' ? `:${(v.value as Buffer).toString('base64')}:` : String(v.value);
  const params = (p: ReadonlyMap<string, { type: string; value: unknown }>) => [...p].map(([k, v]) => `;${k}=${bare(v)}`).join('');
  return [...d]
    .map(([k, m]) => `${k}=${m.kind === 'item' ? bare(m.value) + params(m.params) : `(${m.items.map((i) => bare(i.value) + params(i.params)).join(' ')})${params(m.params)}`}`)
    .join(', ');
}

test('parseDictionary: RFC 8941 §4.2 examples and edge cases', async (t) => {
  const rows: Array<[string | string[] | undefined, string | undefined]> = [
    ['en="Applepie", da=:w4ZibGV0w6ZydGU=:', 'en="Applepie", da=:w4ZibGV0w6ZydGU=:'],
    ['a=?0, b, c; foo=bar', 'a=?0, b=?1, c=?1;foo=bar'],
    ['rating=1.5, feelings=(joy sadness)', 'rating=1.5, feelings=(joy sadness)'],
    ['a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid', 'a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid=?1'],
    ['max-age=3600', 'max-age=3600'],
    ['foobar, max-age=3600', 'foobar=?1, max-age=3600'],
    ['a=1,b=2', 'a=1, b=2'],
    ['a=1 ,\tb=2', 'a=1, b=2'],
    ['  a=1  ', 'a=1'],
    [['a=1', 'b=2'], 'a=1, b=2'], // field lines combined
    ['a=1, a=2', 'a=2'], // a repeated key overwrites
    ['*x=1', '*x=1'],
    ['a=-12, b=-1.5, c=0.001', 'a=-12, b=-1.5, c=0.001'],
    ['a=999999999999999', 'a=999999999999999'],
    ['a="q\\"\\\\"', 'a="q\\"\\\\"'],
    ['a=tok:en/x', 'a=tok:en/x'],
    ['a=()', 'a=()'],
    ['', ''],
    [undefined, undefined],
    // failures: the whole field is ignored
    ['max-age=10000, &&&&&', undefined],
    ['max-age =100', undefined],
    ['max-age= 100', undefined],
    ['MaX-aGe=3600', undefined],
    ['a=1,', undefined],
    [',a=1', undefined],
    ['a=1,,b=2', undefined],
    ['a=1 b=2', undefined],
    ['a=1000000000000000', undefined], // 16 digits
    ['a=1234567890123.1', undefined], // 13 integer digits in a decimal
    ['a=1.1234', undefined],
    ['a=1.', undefined],
    ['a=-', undefined],
    ['a=--1', undefined],
    ['a="unterminated', undefined],
    ['a="\\x"', undefined],
    ['a="caf\u00e9"', undefined],
    ['a="tab\there"', undefined],
    ['a=:not base64!:', undefined],
    ['a=:abc', undefined],
    ['a=?2', undefined],
    ['a=?', undefined],
    ['a=(1 2', undefined],
    ['a=(1,2)', undefined],
    ['a=1;', undefined],
    ['a=1;B=2', undefined],
    ['a=@1659578233', undefined], // a Date is RFC 9651, not RFC 8941
    ['\u0000a=1', undefined],
  ];
  for (const [input, want] of rows) await t.test(JSON.stringify(input), () => assert.equal(show(parseDictionary(input)), want));
});

test('parseDictionary never throws and round-trips what it accepts (generated input)', () => {
  const piece = fc.constantFrom('a', 'b', 'max-age', '=', ',', ', ', ' ', '\t', ';', '(', ')', '"', '\\', '?1', '?0', ':', 'AQ==', '1', '-', '.', '*', '&', 'Z', 'é', '99999999999999999');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 30 }), (parts) => {
      const input = parts.join('');
      const d = parseDictionary(input);
      if (d === undefined) return;
      // What parsed once parses again to the same thing from its own serialisation.
      const again = parseDictionary(show(d));
      assert.equal(show(again), show(d), input);
    }),
    { numRuns: 2000 },
  );
});

test('parseTargetedCacheControl: RFC 9213 §2.1 types', async (t) => {
  const rows: Array<[string, Array<[string, string | true]> | undefined]> = [
    ['max-age=3600', [['max-age', '3600']]],
    ['max-age=99999999999', [['max-age', String(2 ** 31)]]],
    ['no-store', [['no-store', true]]],
    ['private, max-age=60', [['private', true], ['max-age', '60']]],
    ['no-cache="set-cookie"', [['no-cache', 'set-cookie']]],
    ['none', [['none', true]]],
    ['foobar, max-age=3600', [['foobar', true], ['max-age', '3600']]],
    ['s-maxage=10;extension', [['s-maxage', '10']]], // parameters ignored
    ['no-store=?0, max-age=5', [['max-age', '5']]],
    ['ext=(a b), max-age=5', [['max-age', '5']]],
    // the field is ignored: invalid, empty, or a known directive of the wrong type
    ['', undefined],
    ['max-age=10000, &&&&&', undefined],
    ['max-age="10000"', undefined],
    ['max-age=1.5', undefined],
    ['max-age=-1', undefined],
    ['max-age', undefined],
    ['max-age=(1 2)', undefined],
    ['no-store=1', undefined],
    ['private=1', undefined],
    ['must-understand="x"', undefined],
  ];
  for (const [input, want] of rows) {
    await t.test(input, () => {
      const got = parseTargetedCacheControl(input);
      assert.deepEqual(got === undefined ? undefined : [...got], want);
    });
  }
});
