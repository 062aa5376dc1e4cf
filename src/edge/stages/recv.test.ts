import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isControlUrl } from './recv.ts';

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
