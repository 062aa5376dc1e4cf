import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stripHopByHop } from './hop-by-hop.ts';
import type { Headers } from './types.ts';

test('stripHopByHop', async (t) => {
  const rows: Array<[string, Headers, Headers]> = [
    ['nothing to strip', { 'content-type': 'a', etag: '"x"' }, { 'content-type': 'a', etag: '"x"' }],
    ['fixed list', {
      connection: 'keep-alive', 'keep-alive': 'timeout=5', 'proxy-connection': 'x', te: 'trailers', trailer: 'x',
      'transfer-encoding': 'chunked', upgrade: 'h2c', 'proxy-authenticate': 'Basic', 'proxy-authorization': 'Basic x', 'x-keep': '1',
    }, { 'x-keep': '1' }],
    ['fields named in Connection', { connection: 'X-Foo, close ,, x-bar', 'x-foo': '1', 'x-bar': '2', 'x-baz': '3' }, { 'x-baz': '3' }],
    ['Connection over several lines', { connection: ['x-a', 'X-B'], 'x-a': '1', 'x-b': '2', 'x-c': '3' }, { 'x-c': '3' }],
    ['upper-case keys too', { Connection: 'x', 'Keep-Alive': '1', 'Content-Length': '3' } as Headers, { 'Content-Length': '3' } as Headers],
    ['undefined values dropped', { a: undefined, b: '1' }, { b: '1' }],
    ['garbage Connection', { connection: '"x, y", ;;', x: '1', y: '2' }, { x: '1', y: '2' }],
  ];
  for (const [name, input, want] of rows) {
    await t.test(name, () => {
      const copy = structuredClone(input);
      assert.deepEqual(stripHopByHop(input), want);
      assert.deepEqual(input, copy, 'input is not modified');
    });
  }
});

test('a field literally named __proto__ stays a plain data field', () => {
  const input: Headers = JSON.parse('{"__proto__": "x", "a": "1"}');
  const out = stripHopByHop(input);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.deepEqual(Object.keys(out), ['__proto__', 'a']);
});
