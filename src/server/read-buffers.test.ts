import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ReadBuffers } from './read-buffers.ts';

test('a buffer given back is taken again for any length of its size class; the free pool is bounded', () => {
  const pool = new ReadBuffers({ maxFreeBytes: 512 * 1024 });
  const a = pool.take(200_000);
  assert.equal(a.length, 256 * 1024, 'rounded up to a power of two');
  pool.give(a);
  assert.equal(pool.freeBytes, 256 * 1024);
  assert.equal(pool.take(131_073), a, 'any length of the same class');
  assert.equal(pool.freeBytes, 0);
  assert.notEqual(pool.take(200_000), a, 'taken once, not twice');
  const [b, c, d] = [pool.take(256 * 1024), pool.take(256 * 1024), pool.take(256 * 1024)];
  for (const x of [a, b, c, d]) pool.give(x);
  assert.equal(pool.freeBytes, 512 * 1024, 'two kept, the others left to the garbage collector');
  pool.give(Buffer.alloc(300_000));
  assert.equal(pool.freeBytes, 512 * 1024, 'a buffer that is not of a class is not kept');
});

test('property: a taken buffer is never handed out again before it is given back', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ take: fc.boolean(), length: fc.integer({ min: 1, max: 1 << 20 }), pick: fc.nat() }), { maxLength: 200 }), (ops) => {
      const pool = new ReadBuffers({ maxFreeBytes: 4 << 20 });
      const out = new Set<Buffer>();
      for (const op of ops) {
        if (op.take || out.size === 0) {
          const b = pool.take(op.length);
          assert.ok(b.length >= op.length);
          assert.ok(!out.has(b));
          out.add(b);
        } else {
          const b = [...out][op.pick % out.size];
          out.delete(b);
          pool.give(b);
        }
      }
      assert.ok(pool.freeBytes <= 4 << 20);
    }),
  );
});

test('a trim lets go of the buffers that stayed free since the previous trim, and only of those', () => {
  const pool = new ReadBuffers({ maxFreeBytes: 8 << 20, trimEveryMs: 0 });
  const burst = Array.from({ length: 6 }, () => pool.take(256 * 1024));
  for (const b of burst) pool.give(b);
  const small = pool.take(64 * 1024);
  pool.give(small);
  assert.equal(pool.trim(), 0, 'nothing has sat through a whole period yet');
  assert.equal(pool.freeBytes, 6 * 256 * 1024 + 64 * 1024);
  // In the next period two 256 KiB buffers are in use at once; the other four and the 64 KiB one are not.
  const [x, y] = [pool.take(200_000), pool.take(200_000)];
  pool.give(x);
  pool.give(y);
  assert.equal(pool.trim(), 4 * 256 * 1024 + 64 * 1024, 'what sat unused is let go');
  assert.equal(pool.freeBytes, 2 * 256 * 1024, 'the two the period used are kept');
  assert.equal(pool.take(200_000), y, 'the kept ones are the ones used last');
  pool.give(y);
  assert.equal(pool.trim(), 256 * 1024, 'one of the two was not taken in this period');
  assert.equal(pool.trim(), 256 * 1024, 'and then the last one');
  assert.equal(pool.freeBytes, 0);
});

test('property: trims never let go of a buffer in use; what the pool counts as free is what it hands out again', () => {
  const op = fc.oneof(
    fc.record({ op: fc.constant('take' as const), length: fc.integer({ min: 1, max: 1 << 19 }) }),
    fc.record({ op: fc.constant('give' as const), pick: fc.nat() }),
    fc.constant({ op: 'trim' as const }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const pool = new ReadBuffers({ maxFreeBytes: 4 << 20, trimEveryMs: 0 });
      const out = new Set<Buffer>();
      const seen = new Set<Buffer>();
      let takesSinceTrim = 0;
      for (const o of ops) {
        if (o.op === 'take') {
          const b = pool.take(o.length);
          assert.ok(!out.has(b), 'a buffer in use is never handed out');
          out.add(b);
          seen.add(b);
          takesSinceTrim++;
        } else if (o.op === 'give' && out.size > 0) {
          const b = [...out][o.pick % out.size];
          out.delete(b);
          pool.give(b);
        } else if (o.op === 'trim') {
          const before = pool.freeBytes;
          const released = pool.trim();
          assert.equal(pool.freeBytes, before - released);
          if (takesSinceTrim === 0) {
            // A second trim with no take since the first lets go of everything still free.
            assert.equal(pool.trim(), before - released);
            assert.equal(pool.freeBytes, 0);
          }
          takesSinceTrim = 0;
        }
      }
      // Drain the pool: exactly its free bytes come back as buffers it had handed out before.
      const free = pool.freeBytes;
      let old = 0;
      for (const size of [4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288]) {
        for (;;) {
          const b = pool.take(size);
          assert.ok(!out.has(b));
          if (!seen.has(b)) break;
          old += b.length;
          out.add(b);
        }
      }
      assert.equal(old, free);
      assert.equal(pool.freeBytes, 0);
    }),
  );
});
