// The one test suite every cache tier passes (memory-store.test.ts, disk-store.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheKey, variantKey } from './cache-key.ts';
import { metaBytes, readBody } from './store.ts';
import type { CacheStore, EntryMeta, StoreOptions } from './store.ts';

type StoreFactory = {
  /** A fresh, empty store. */
  open(opts: StoreOptions): Promise<CacheStore>;
  /** For persistent stores: the same store again, as after a restart. */
  reopen?(opts: StoreOptions): Promise<CacheStore>;
  cleanup(): Promise<void>;
};

export function sampleMeta(target: string, size: number, over: Partial<EntryMeta> = {}): EntryMeta {
  const primaryKey = cacheKey({ zone: 'cdn.example.com', method: 'GET', target });
  return {
    key: variantKey(primaryKey, ''),
    primaryKey,
    zone: 'cdn.example.com',
    status: 200,
    headers: { 'content-type': 'application/octet-stream', etag: '"v1"', 'cache-control': 'max-age=60' },
    vary: [],
    varySecondary: '',
    requestTime: 1_000,
    responseTime: 1_010,
    size,
    ...over,
  };
}

function bodyOf(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

async function body(store: CacheStore, key: string): Promise<Buffer | undefined> {
  const hit = await store.get(key);
  return hit ? readBody(hit.body) : undefined;
}

export function describeStoreContract(name: string, makeFactory: () => Promise<StoreFactory>): void {
  describe(`${name} store contract`, () => {
    const withStore = (opts: StoreOptions, fn: (s: CacheStore, f: StoreFactory) => Promise<void>) => async () => {
      const f = await makeFactory();
      const s = await f.open(opts);
      try {
        await fn(s, f);
      } finally {
        await s.close();
        await f.cleanup();
      }
    };

    it('returns what was put, body and metadata', withStore({ maxBytes: 1 << 20 }, async (s) => {
      const meta = sampleMeta('/a.mp3', 1000);
      const data = bodyOf(1000, 1);
      assert.equal(await s.put(meta, [data.subarray(0, 300), data.subarray(300)]), true);
      const hit = await s.get(meta.key);
      assert.ok(hit);
      assert.deepEqual(hit.meta, meta);
      assert.deepEqual(await readBody(hit.body), data);
      assert.deepEqual(s.peek(meta.key), meta);
      assert.equal(s.usage().entries, 1);
    }));

    it('misses an unknown key', withStore({ maxBytes: 1 << 20 }, async (s) => {
      assert.equal(await s.get('nope'), undefined);
      assert.equal(s.peek('nope'), undefined);
    }));

    it('replaces an entry put again under the same key', withStore({ maxBytes: 1 << 20 }, async (s) => {
      await s.put(sampleMeta('/a', 10), [bodyOf(10, 1)]);
      await s.put(sampleMeta('/a', 20, { headers: { etag: '"v2"' } }), [bodyOf(20, 2)]);
      const hit = await s.get(sampleMeta('/a', 0).key);
      assert.equal(hit?.meta.headers.etag, '"v2"');
      assert.deepEqual(hit && (await readBody(hit.body)), bodyOf(20, 2));
      assert.equal(s.usage().entries, 1);
    }));

    it('deletes', withStore({ maxBytes: 1 << 20 }, async (s) => {
      const meta = sampleMeta('/a', 10);
      await s.put(meta, [bodyOf(10, 1)]);
      assert.equal(await s.delete(meta.key), true);
      assert.equal(await s.delete(meta.key), false);
      assert.equal(await s.get(meta.key), undefined);
      assert.deepEqual(s.usage(), { bytes: 0, entries: 0 });
    }));

    it('updates metadata and keeps the body', withStore({ maxBytes: 1 << 20 }, async (s) => {
      const meta = sampleMeta('/a', 10);
      await s.put(meta, [bodyOf(10, 1)]);
      const updated = { ...meta, headers: { ...meta.headers, 'cache-control': 'max-age=600' }, responseTime: 5_000 };
      assert.equal(await s.updateMeta(updated), true);
      assert.deepEqual(s.peek(meta.key), updated);
      assert.deepEqual(await body(s, meta.key), bodyOf(10, 1));
      assert.equal(await s.updateMeta(sampleMeta('/absent', 1)), false);
    }));

    it('refuses an object larger than the whole tier', withStore({ maxBytes: 4096 }, async (s) => {
      const meta = sampleMeta('/big', 8192);
      assert.equal(await s.put(meta, [bodyOf(8192, 1)]), false);
      assert.equal(await s.get(meta.key), undefined);
      assert.equal(s.usage().entries, 0);
    }));

    it('evicts least recently used first and stays within its byte bound', async () => {
      const evicted: string[] = [];
      const per = 1000 + metaBytes(sampleMeta('/x0', 1000));
      const f = await makeFactory();
      const s = await f.open({ maxBytes: per * 3 + 10, onEvict: (k) => evicted.push(k) });
      try {
        for (const n of [0, 1, 2]) await s.put(sampleMeta(`/x${n}`, 1000), [bodyOf(1000, n)]);
        assert.ok(await body(s, sampleMeta('/x0', 0).key), 'x0 used: now most recent');
        await s.put(sampleMeta('/x3', 1000), [bodyOf(1000, 3)]);
        assert.deepEqual(evicted, [sampleMeta('/x1', 0).key]);
        assert.equal(s.peek(sampleMeta('/x1', 0).key), undefined);
        assert.ok(s.peek(sampleMeta('/x0', 0).key));
        for (let n = 4; n < 40; n++) {
          await s.put(sampleMeta(`/x${n}`, 1000), [bodyOf(1000, n)]);
          assert.ok(s.usage().bytes <= per * 3 + 10);
        }
        assert.equal(s.usage().entries, 3);
        assert.deepEqual(await body(s, sampleMeta('/x39', 0).key), bodyOf(1000, 39));
      } finally {
        await s.close();
        await f.cleanup();
      }
    });

    it('lists its entries', withStore({ maxBytes: 1 << 20 }, async (s) => {
      await s.put(sampleMeta('/a', 1), [bodyOf(1, 1)]);
      await s.put(sampleMeta('/b', 1), [bodyOf(1, 1)]);
      assert.deepEqual([...s.entries()].map((m) => m.key).sort(), [sampleMeta('/a', 0).key, sampleMeta('/b', 0).key].sort());
    }));

    it('keeps entries across a restart when it says it is persistent', async () => {
      const f = await makeFactory();
      const s = await f.open({ maxBytes: 1 << 20 });
      try {
        const meta = sampleMeta('/keep', 500);
        await s.put(meta, [bodyOf(500, 7)]);
        await s.close();
        if (!s.persistent) {
          assert.equal(f.reopen, undefined, 'a store that reopens must declare itself persistent');
          return;
        }
        assert.ok(f.reopen, 'a persistent store needs a reopen in its factory');
        const again = await f.reopen({ maxBytes: 1 << 20 });
        try {
          assert.deepEqual(again.peek(meta.key), meta);
          assert.deepEqual(await body(again, meta.key), bodyOf(500, 7));
        } finally {
          await again.close();
        }
      } finally {
        await f.cleanup();
      }
    });
  });
}
