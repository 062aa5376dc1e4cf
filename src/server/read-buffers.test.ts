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
