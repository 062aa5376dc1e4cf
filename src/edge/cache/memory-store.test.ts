import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { roomyBuffer } from '../../server/http1/message.ts';
import { MemoryStore } from './memory-store.ts';
import { metaBytes } from './store.ts';
import { describeStoreContract, sampleMeta } from './store-contract.ts';

describeStoreContract('memory', async () => ({
  open: async (opts) => new MemoryStore(opts),
  cleanup: async () => {},
}));

describe('memory store: recency against a model', () => {
  it('keeps, evicts and lists objects as a plain least-recently-used list does, for generated operations', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), name: fc.integer({ min: 0, max: 7 }), size: fc.integer({ min: 0, max: 3000 }) }),
      fc.record({ kind: fc.constant('get' as const), name: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('delete' as const), name: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('update' as const), name: fc.integer({ min: 0, max: 7 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), fc.integer({ min: 500, max: 8000 }), async (ops, maxBytes) => {
        const evicted: string[] = [];
        const store = new MemoryStore({ maxBytes, onEvict: (k) => evicted.push(k) });
        // The model: least recently used first, with each object's bytes as the store counts them.
        let model: Array<{ key: string; bytes: number }> = [];
        const modelEvicted: string[] = [];
        const fit = () => {
          while (model.reduce((n, e) => n + e.bytes, 0) > maxBytes && model.length > 0) modelEvicted.push(model.shift()!.key);
        };
        for (const o of ops) {
          const meta = sampleMeta(`/o${o.name}`, o.kind === 'put' ? o.size : 0);
          const at = model.findIndex((e) => e.key === meta.key);
          if (o.kind === 'put') {
            const bytes = o.size + metaBytes(meta);
            const kept = await store.put(meta, [Buffer.alloc(o.size, o.name)]);
            model = model.filter((e) => e.key !== meta.key);
            if (bytes <= maxBytes) {
              model.push({ key: meta.key, bytes });
              fit();
            }
            assert.equal(kept, bytes <= maxBytes);
          } else if (o.kind === 'get') {
            const hit = store.getSync(meta.key);
            assert.equal(hit !== undefined, at >= 0);
            if (hit) {
              assert.equal(hit.meta.key, meta.key);
              assert.equal(hit.body.kind === 'buffer' && hit.body.buffer.every((b) => b === (o.name & 0xff)), true);
              model.push(...model.splice(at, 1));
            }
          } else if (o.kind === 'delete') {
            assert.equal(await store.delete(meta.key), at >= 0);
            if (at >= 0) model.splice(at, 1);
          } else if (at >= 0) {
            // New metadata for a stored object: its byte count changes, its recency does not.
            const updated = { ...model[at] };
            const old = store.getSync(meta.key)!;
            model.push(...model.splice(at, 1));
            const next = { ...old.meta, requestTime: old.meta.requestTime + 1, headers: { ...old.meta.headers, 'x-more': 'y'.repeat(o.name * 100) } };
            assert.equal(await store.updateMeta(next), true);
            updated.bytes = (old.body.kind === 'buffer' ? old.body.buffer.length : 0) + metaBytes(next);
            model[model.length - 1] = updated;
            fit();
            const after = store.getSync(meta.key);
            if (after) {
              assert.equal(after.meta.requestTime, next.requestTime);
              model.push(...model.splice(model.findIndex((e) => e.key === meta.key), 1));
            }
          }
          assert.deepEqual([...store.entries()].map((m) => m.key), model.map((e) => e.key));
          assert.deepEqual(evicted, modelEvicted);
          assert.deepEqual(store.usage(), { bytes: model.reduce((n, e) => n + e.bytes, 0), entries: model.length });
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('memory store: room for a head', () => {
  it('keeps a body larger than 16 KiB with room for a response head in front of it, counted in its bytes; a small one as it is', async () => {
    const store = new MemoryStore({ maxBytes: 1 << 20 });
    const meta = sampleMeta('/big', 20_000);
    assert.equal(await store.put(meta, [Buffer.alloc(12_000, 1), Buffer.alloc(8_000, 2)]), true);
    const hit = store.getSync(meta.key)!;
    assert.ok(hit.body.kind === 'buffer' && hit.body.room !== undefined);
    const { buffer, room } = hit.body;
    assert.equal(buffer.length, 20_000);
    assert.ok(buffer.subarray(0, 12_000).every((b) => b === 1) && buffer.subarray(12_000).every((b) => b === 2));
    assert.ok(room.bytes >= 512 && buffer.byteOffset >= room.bytes);
    const small = sampleMeta('/small', 3000);
    assert.equal(await store.put(small, [Buffer.alloc(3000, 3)]), true);
    const smallHit = store.getSync(small.key)!;
    assert.ok(smallHit.body.kind === 'buffer' && smallHit.body.room === undefined);
    assert.deepEqual(store.usage(), { bytes: 20_000 + room.bytes + metaBytes(meta) + 3000 + metaBytes(small), entries: 2 });
    // New metadata keeps the body and its room.
    const next = { ...meta, requestTime: meta.requestTime + 1 };
    assert.equal(await store.updateMeta(next), true);
    const after = store.getSync(meta.key)!;
    assert.ok(after.body.kind === 'buffer' && after.body.room === room && after.body.buffer === buffer);
    assert.deepEqual(store.usage(), { bytes: 20_000 + room.bytes + metaBytes(next) + 3000 + metaBytes(small), entries: 2 });
  });

  it('keeps a body that comes with room as it is, and copies one whose room does not match', async () => {
    const store = new MemoryStore({ maxBytes: 1 << 20 });
    const given = roomyBuffer(20_000);
    given.buffer.fill(7);
    const meta = sampleMeta('/given', 20_000);
    assert.equal(await store.put(meta, [given.buffer], given.room), true);
    const hit = store.getSync(meta.key)!;
    assert.ok(hit.body.kind === 'buffer');
    assert.equal(hit.body.buffer, given.buffer);
    assert.equal(hit.body.room, given.room);
    assert.deepEqual(store.usage(), { bytes: 20_000 + given.room.bytes + metaBytes(meta), entries: 1 });
    // Room that belongs to another buffer (or a body in parts) is not trusted: the body is copied.
    const other = roomyBuffer(20_000);
    const plain = Buffer.alloc(20_000, 9);
    const meta2 = sampleMeta('/other', 20_000);
    assert.equal(await store.put(meta2, [plain], other.room), true);
    const hit2 = store.getSync(meta2.key)!;
    assert.ok(hit2.body.kind === 'buffer' && hit2.body.room !== undefined);
    assert.notEqual(hit2.body.buffer, plain);
    assert.notEqual(hit2.body.room, other.room);
    assert.ok(hit2.body.buffer.equals(plain));
    const meta3 = sampleMeta('/parts', 20_000);
    assert.equal(await store.put(meta3, [given.buffer.subarray(0, 10_000), given.buffer.subarray(10_000)], given.room), true);
    const hit3 = store.getSync(meta3.key)!;
    assert.ok(hit3.body.kind === 'buffer' && hit3.body.room !== given.room && hit3.body.buffer.equals(given.buffer));
  });
});
