import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionLimiter, RateLimiter } from './rate-limit.ts';
import type { TakeResult } from './rate-limit.ts';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void; set: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (ms) => void (t = ms) };
}

const OK: TakeResult = { ok: true };
const WAIT = (s: number): TakeResult => ({ ok: false, retryAfterSeconds: s });

test('RateLimiter: token bucket timeline', async (t) => {
  // Each row: [description, ratePerSecond, burst, steps of [advance ms, expected answer]]
  const rows: Array<[string, number, number, Array<[number, TakeResult]>]> = [
    ['burst then refused', 1, 3, [[0, OK], [0, OK], [0, OK], [0, WAIT(1)], [0, WAIT(1)]]],
    ['refills at the rate', 2, 1, [[0, OK], [0, WAIT(1)], [499, WAIT(1)], [1, OK], [0, WAIT(1)]]],
    ['never above burst after a long pause', 10, 2, [[0, OK], [3_600_000, OK], [0, OK], [0, WAIT(1)]]],
    ['slow rate: Retry-After rounds up to whole seconds', 0.1, 1, [[0, OK], [0, WAIT(10)], [5_000, WAIT(5)], [4_999, WAIT(1)], [1, OK]]],
    ['fast rate: Retry-After is at least 1', 1000, 5, [[0, OK], [0, OK], [0, OK], [0, OK], [0, OK], [0, WAIT(1)], [1, OK]]],
    ['refused takes cost nothing', 1, 1, [[0, OK], [0, WAIT(1)], [0, WAIT(1)], [0, WAIT(1)], [1000, OK]]],
    ['fractional refill accumulates', 1, 1, [[0, OK], [400, WAIT(1)], [400, WAIT(1)], [200, OK]]],
    ['clock stepping back refills nothing', 1, 1, [[0, OK], [-10_000, WAIT(1)], [999, WAIT(1)], [1, OK]]],
  ];
  for (const [name, ratePerSecond, burst, steps] of rows) {
    await t.test(name, () => {
      const c = clock();
      const limiter = new RateLimiter({ ratePerSecond, burst, now: c.now });
      steps.forEach(([advance, expected], i) => {
        c.advance(advance);
        assert.deepEqual(limiter.take('203.0.113.1'), expected, `step ${i}`);
      });
    });
  }
});

test('RateLimiter: keys are independent', () => {
  const c = clock();
  const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, now: c.now });
  assert.deepEqual(limiter.take('a'), OK);
  assert.deepEqual(limiter.take('b'), OK);
  assert.deepEqual(limiter.take('a'), WAIT(1));
  assert.deepEqual(limiter.take('b'), WAIT(1));
});

test('RateLimiter: idle buckets are evicted, and eviction changes no answer', () => {
  const c = clock();
  const limiter = new RateLimiter({ ratePerSecond: 10, burst: 5, now: c.now }); // full again after 500 ms
  for (let i = 0; i < 100; i++) limiter.take(`client-${i}`);
  assert.equal(limiter.size, 100);
  c.advance(500);
  for (let i = 0; i < 60; i++) limiter.take('busy');
  assert.equal(limiter.size, 1, 'only the busy key is left');
  // A returning client starts with a full bucket, which is what it would have had anyway.
  for (let i = 0; i < 5; i++) assert.deepEqual(limiter.take('client-0'), OK);
  assert.deepEqual(limiter.take('client-0'), WAIT(1));
});

test('RateLimiter: buckets still refilling are not evicted', () => {
  const c = clock();
  const limiter = new RateLimiter({ ratePerSecond: 1, burst: 2, now: c.now }); // refill takes 2 s
  limiter.take('a');
  limiter.take('a');
  c.advance(1_000);
  for (let i = 0; i < 10; i++) limiter.take(`other-${i}`);
  assert.deepEqual(limiter.take('a'), OK);
  assert.deepEqual(limiter.take('a'), WAIT(1), 'a kept its partly empty bucket');
});

test('RateLimiter: at most maxKeys tracked; the least recently seen is forgotten', () => {
  const c = clock();
  const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, now: c.now, maxKeys: 3 });
  for (const k of ['a', 'b', 'c']) limiter.take(k);
  limiter.take('a'); // a is now the most recently seen
  limiter.take('d');
  assert.equal(limiter.size, 3);
  assert.deepEqual(limiter.take('a'), WAIT(1), 'a was kept');
  assert.deepEqual(limiter.take('b'), OK, 'b was forgotten and starts full');
  for (let i = 0; i < 10_000; i++) limiter.take(`flood-${i}`);
  assert.equal(limiter.size, 3);
});

test('RateLimiter: rejects nonsense options', () => {
  const now = () => 0;
  assert.throws(() => new RateLimiter({ ratePerSecond: 0, burst: 1, now }), RangeError);
  assert.throws(() => new RateLimiter({ ratePerSecond: Number.NaN, burst: 1, now }), RangeError);
  assert.throws(() => new RateLimiter({ ratePerSecond: 1, burst: 0.5, now }), RangeError);
  assert.throws(() => new RateLimiter({ ratePerSecond: 1, burst: 1, now, maxKeys: 0 }), RangeError);
});

test('ConnectionLimiter: acquire up to the maximum, release frees a slot once', () => {
  const limiter = new ConnectionLimiter({ maxPerKey: 2 });
  const r1 = limiter.acquire('a');
  const r2 = limiter.acquire('a');
  assert.ok(r1 && r2);
  assert.equal(limiter.acquire('a'), undefined);
  assert.ok(limiter.acquire('b'), 'other keys are independent');
  assert.equal(limiter.count('a'), 2);
  r1();
  r1(); // idempotent: a second release must not free another slot
  assert.equal(limiter.count('a'), 1);
  const r3 = limiter.acquire('a');
  assert.ok(r3);
  assert.equal(limiter.acquire('a'), undefined);
  r2();
  r3();
  assert.equal(limiter.count('a'), 0);
  assert.equal(limiter.size, 1, 'keys without holders are not stored');
  assert.throws(() => new ConnectionLimiter({ maxPerKey: 0 }), RangeError);
});
