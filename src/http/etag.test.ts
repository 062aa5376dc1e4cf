import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEntityTag, parseEntityTag, parseEntityTagList, strongEtagFromHash, strongMatch, weakMatch } from './etag.ts';

test('parseEntityTag', async (t) => {
  const rows: Array<[string | undefined, ReturnType<typeof parseEntityTag>]> = [
    ['"abc"', { weak: false, opaque: '"abc"' }],
    ['W/"abc"', { weak: true, opaque: '"abc"' }],
    ['""', { weak: false, opaque: '""' }],
    [' "a,b" ', { weak: false, opaque: '"a,b"' }],
    ['"a\\"', { weak: false, opaque: '"a\\"' }], // backslash is a plain etagc
    ['"caf\u00e9"', { weak: false, opaque: '"caf\u00e9"' }], // obs-text
    ['w/"abc"', undefined], // %s"W/" is case-sensitive
    ['abc', undefined],
    ['"abc', undefined],
    ['"a"b"', undefined],
    ['"a b"', undefined], // SP is not an etagc
    ['"\u20ac"', undefined], // beyond obs-text
    ['*', undefined],
    ['W/ "abc"', undefined],
    [undefined, undefined],
  ];
  for (const [input, want] of rows) await t.test(JSON.stringify(input), () => assert.deepEqual(parseEntityTag(input), want));
});

test('parseEntityTagList', async (t) => {
  const s = (o: string) => ({ weak: false, opaque: o });
  const rows: Array<[string | string[] | undefined, ReturnType<typeof parseEntityTagList>]> = [
    ['*', { kind: 'any' }],
    [' * ', { kind: 'any' }],
    ['"a"', { kind: 'list', tags: [s('"a"')] }],
    ['"a", W/"b" ,"c"', { kind: 'list', tags: [s('"a"'), { weak: true, opaque: '"b"' }, s('"c"')] }],
    ['"a,b", "c"', { kind: 'list', tags: [s('"a,b"'), s('"c"')] }],
    ['"a\\", "b"', { kind: 'list', tags: [s('"a\\"'), s('"b"')] }],
    [', ,"a",,', { kind: 'list', tags: [s('"a"')] }],
    [['"a"', '"b"'], { kind: 'list', tags: [s('"a"'), s('"b"')] }],
    ['', { kind: 'list', tags: [] }],
    [undefined, { kind: 'list', tags: [] }],
    ['*, "a"', { kind: 'invalid' }],
    [['*', '"a"'], { kind: 'invalid' }],
    ['a', { kind: 'invalid' }],
    ['"a" "b"', { kind: 'invalid' }],
    ['"a", b', { kind: 'invalid' }],
  ];
  for (const [input, want] of rows) await t.test(JSON.stringify(input), () => assert.deepEqual(parseEntityTagList(input), want));
});

test('strong and weak comparison (RFC 9110 §8.8.3.2 table)', async (t) => {
  const rows: Array<[string, string, boolean, boolean]> = [
    ['W/"1"', 'W/"1"', false, true],
    ['W/"1"', 'W/"2"', false, false],
    ['W/"1"', '"1"', false, true],
    ['"1"', '"1"', true, true],
    ['"1"', '"2"', false, false],
    ['garbage', 'garbage', false, false],
  ];
  for (const [a, b, strong, weak] of rows) {
    await t.test(`${a} vs ${b}`, () => {
      assert.equal(strongMatch(a, b), strong);
      assert.equal(strongMatch(b, a), strong);
      assert.equal(weakMatch(a, b), weak);
      assert.equal(weakMatch(parseEntityTag(a) ?? a, b), weak);
    });
  }
});

test('formatEntityTag', () => {
  assert.equal(formatEntityTag({ weak: false, opaque: '"x"' }), '"x"');
  assert.equal(formatEntityTag({ weak: true, opaque: '"x"' }), 'W/"x"');
  assert.throws(() => formatEntityTag({ weak: false, opaque: 'x' }), { code: 'ERR_HTTP_INVALID_ARGUMENT' });
  assert.throws(() => formatEntityTag({ weak: false, opaque: '"x"\r\nSet-Cookie: a' }), { code: 'ERR_HTTP_INVALID_ARGUMENT' });
});

test('strongEtagFromHash', async (t) => {
  const ok = ['9f86d081884c7d65', 'n4bQgYhMfWU=', 'n4bQgYhMfW-_', 'ab+/cd=='];
  for (const h of ok) await t.test(h, () => assert.equal(strongEtagFromHash(h), `"${h}"`));
  for (const bad of ['', '"abc"', 'a b', 'abc\r\n', 'ab===', 'é']) {
    await t.test(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => strongEtagFromHash(bad), { code: 'ERR_HTTP_INVALID_ARGUMENT' }));
  }
  assert.deepEqual(parseEntityTag(strongEtagFromHash('abc')), { weak: false, opaque: '"abc"' });
});
