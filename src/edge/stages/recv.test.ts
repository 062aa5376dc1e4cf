import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isControlUrl, requestKey } from './recv.ts';
import { cacheKey, normaliseTarget } from '../cache/cache-key.ts';
import type { Zone } from '../zone/zone.ts';

test('isControlUrl: the listeners and the purge-log gate take for control exactly what recv serves as control', () => {
  const rows: Array<[string, boolean]> = [
    ['/_mediacdn/purge', true],
    ['/_mediacdn/stats?zone=a', true],
    ['/_mediacdn', true],
    ['http://cdn.example/_mediacdn/purge', true],
    ['HTTPS://cdn.example/_mediacdn/stats', true],
    ['http://cdn.example/a/../_mediacdn/purge', true], // recv serves the normalised path
    ['/_MEDIACDN/purge', false], // a zone path: it waits at the gate like any other
    ['http://cdn.example/_MEDIACDN/purge', false],
    ['/_mediacdnx', false],
    ['/_mediacdn?x', false],
    ['/media/_mediacdn/a.mp3', false],
    ['http://cdn.example', false],
    ['http://[bad/_mediacdn/', false],
    ['*', false],
    ['', false],
  ];
  for (const [url, want] of rows) assert.equal(isControlUrl(url), want, url);
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
