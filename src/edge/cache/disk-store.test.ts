import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DiskStore } from './disk-store.ts';
import { describeStoreContract, sampleMeta } from './store-contract.ts';
import { readBody } from './store.ts';

describeStoreContract('disk', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-disk-store-'));
  return {
    open: (opts) => DiskStore.open({ ...opts, root }),
    reopen: (opts) => DiskStore.open({ ...opts, root }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  }
  return out.sort();
}

describe('disk store on disk', () => {
  const withRoot = (fn: (root: string) => Promise<void>) => async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-disk-store-'));
    try {
      await fn(root);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  };

  it('lays entries out under <root>/<zone>/ with a versioned record', withRoot(async (root) => {
    const s = await DiskStore.open({ root, maxBytes: 1 << 20 });
    await s.put(sampleMeta('/a', 3), [Buffer.from('abc')]);
    const all = await files(root);
    assert.equal(all.length, 2);
    assert.ok(all.every((f) => f.startsWith(path.join(root, 'cdn.example.com') + path.sep)));
    const record = JSON.parse(await readFile(all.find((f) => f.endsWith('.meta'))!, 'utf8'));
    assert.equal(record.format, 'mediacdn-edge-entry');
    assert.equal(record.version, 1);
    assert.equal(record.body.length, 3);
    assert.match(record.body.sha256, /^[0-9a-f]{64}$/);
  }));

  it('drops a truncated body at restart', withRoot(async (root) => {
    const s = await DiskStore.open({ root, maxBytes: 1 << 20 });
    const meta = sampleMeta('/t', 100);
    await s.put(meta, [Buffer.alloc(100, 1)]);
    await s.close();
    await truncate((await files(root)).find((f) => f.endsWith('.body'))!, 50);
    const again = await DiskStore.open({ root, maxBytes: 1 << 20 });
    assert.equal(again.peek(meta.key), undefined);
    assert.equal(await again.get(meta.key), undefined);
    assert.deepEqual(await files(root), [], 'record and body removed');
  }));

  it('drops a body whose bytes changed (same length) at its first read after restart', withRoot(async (root) => {
    const s = await DiskStore.open({ root, maxBytes: 1 << 20 });
    const meta = sampleMeta('/c', 100);
    await s.put(meta, [Buffer.alloc(100, 1)]);
    await s.close();
    await writeFile((await files(root)).find((f) => f.endsWith('.body'))!, Buffer.alloc(100, 2));
    const again = await DiskStore.open({ root, maxBytes: 1 << 20 });
    assert.equal(await again.get(meta.key), undefined);
    assert.equal(again.usage().entries, 0);
  }));

  it('drops a body truncated while running', withRoot(async (root) => {
    const s = await DiskStore.open({ root, maxBytes: 1 << 20 });
    const meta = sampleMeta('/r', 100);
    await s.put(meta, [Buffer.alloc(100, 1)]);
    await truncate((await files(root)).find((f) => f.endsWith('.body'))!, 10);
    assert.equal(await s.get(meta.key), undefined);
  }));

  it('refuses records of an unknown version and garbage records', withRoot(async (root) => {
    const s = await DiskStore.open({ root, maxBytes: 1 << 20 });
    const meta = sampleMeta('/v', 3);
    await s.put(meta, [Buffer.from('abc')]);
    await s.put(sampleMeta('/g', 3), [Buffer.from('xyz')]);
    await s.close();
    const metas = (await files(root)).filter((f) => f.endsWith('.meta'));
    const rec = JSON.parse(await readFile(metas[0], 'utf8'));
    rec.version = 99;
    await writeFile(metas[0], JSON.stringify(rec));
    await writeFile(metas[1], '{"format":"mediacdn-edge-entry","vers');
    const again = await DiskStore.open({ root, maxBytes: 1 << 20 });
    assert.equal(again.usage().entries, 0);
    assert.deepEqual(await files(root), []);
  }));

  it('removes temp files and unreferenced bodies left by a crash', withRoot(async (root) => {
    const s = await DiskStore.open({ root, maxBytes: 1 << 20 });
    await s.put(sampleMeta('/k', 3), [Buffer.from('abc')]);
    await s.close();
    const dir = path.dirname((await files(root))[0]);
    await writeFile(path.join(dir, 'deadbeef.0000.body.tmp'), 'partial');
    await writeFile(path.join(dir, 'deadbeef.0000.body'), 'orphan');
    const again = await DiskStore.open({ root, maxBytes: 1 << 20 });
    assert.equal(again.usage().entries, 1);
    assert.equal((await files(root)).length, 2);
    const hit = await again.get(sampleMeta('/k', 3).key);
    assert.equal(hit && (await readBody(hit.body)).toString(), 'abc');
  }));

  it('applies a smaller bound at restart', withRoot(async (root) => {
    const s = await DiskStore.open({ root, maxBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) await s.put(sampleMeta(`/n${i}`, 1000), [Buffer.alloc(1000, i)]);
    await s.close();
    const again = await DiskStore.open({ root, maxBytes: 3500 });
    assert.ok(again.usage().bytes <= 3500);
    assert.ok(again.usage().entries >= 1);
    await again.close();
    assert.equal((await files(root)).length, again.usage().entries * 2);
  }));
});
