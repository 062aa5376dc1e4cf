import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replaceDelayMs } from './cluster.ts';

test('a dead worker is replaced at once, then later and later while replacements keep dying, never over 30 s', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(replaceDelayMs), [0, 250, 500, 1000, 2000, 4000]);
  assert.equal(replaceDelayMs(7), 16_000);
  for (let n = 8; n < 200; n++) assert.equal(replaceDelayMs(n), 30_000);
  for (let n = 1; n < 20; n++) assert.ok(replaceDelayMs(n) >= replaceDelayMs(n - 1));
});
