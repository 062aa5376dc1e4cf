// verify proves a snapshot restores, and catches what breaks it: a corrupt or missing pooled file, a
// truncated dump, a truncated export, a manifest of an unknown version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createSnapshot } from '../src/backup/create.ts';
import { listSnapshots, poolPath, readManifest, readVerification } from '../src/backup/repo.ts';
import { verifySnapshot } from '../src/backup/verify.ts';
import { PG_URL } from './helpers/db.ts';
import { backupScene } from './helpers/backup.ts';

const opts = { postgresUrl: PG_URL, now: () => new Date('2026-04-01T12:00:00Z') };

test('a sound snapshot verifies and the result is recorded for list and prune', async (t) => {
  const { tl, r } = await backupScene(t);
  const snap = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-04-01T00:00:00Z') });
  const record = await verifySnapshot(r.repo, snap.id, opts);
  assert.deepEqual(record, { version: 1, at: '2026-04-01T12:00:00.000Z', ok: true, filesChecked: 5, filesTotal: 5, problems: [] });
  assert.deepEqual(await readVerification(r.repo, snap.id), record);
  const [entry] = await listSnapshots(r.repo);
  assert.equal(entry.state === 'complete' && entry.verification?.ok, true);
});

/** Flips one bit in the middle of a file, keeping its size (what `create` compares). */
async function flipBit(file: string): Promise<void> {
  const bytes = await readFile(file);
  bytes[bytes.length >> 1] ^= 0x01;
  await rm(file, { force: true });
  await writeFile(file, bytes);
}

test('a corrupt pooled file is caught, with or without sampling, and set aside; a missing one too', async (t) => {
  const { tl, r, items } = await backupScene(t);
  const snap = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-04-01T00:00:00Z') });
  const victim = poolPath(r.repo, items[1].sha256);
  await flipBit(victim);
  const elsewhere = await verifySnapshot(r.repo, snap.id, { ...opts, sample: 1, randomIndex: () => 3 });
  assert.deepEqual([elsewhere.ok, elsewhere.filesChecked], [true, 1]);
  // A sample of 1 whose random choice lands on the victim (index 1 of the manifest's file list).
  const sampled = await verifySnapshot(r.repo, snap.id, { ...opts, sample: 1, randomIndex: () => 1 });
  assert.deepEqual([sampled.ok, sampled.filesChecked, sampled.filesTotal], [false, 1, 5]);
  assert.equal(sampled.problems.length, 1);
  assert.match(sampled.problems[0], new RegExp(`media ${items[1].fileName}: pooled copy is corrupt: .*; moved to damaged/${items[1].sha256}, the next backup create copies it`));
  assert.equal((await readVerification(r.repo, snap.id))?.ok, false, 'the failure is recorded');
  await assert.rejects(stat(victim), { code: 'ENOENT' });
  assert.equal((await stat(path.join(r.dir, 'damaged', items[1].sha256))).size, items[1].byteSize, 'kept for inspection');

  await rm(poolPath(r.repo, items[4].sha256));
  const full = await verifySnapshot(r.repo, snap.id, opts);
  assert.deepEqual(full.problems, [`media ${items[1].fileName}: pooled file ${items[1].sha256} is missing`, `media ${items[4].fileName}: pooled file ${items[4].sha256} is missing`]);
});

test('after verify found a corrupt pooled file, the next create pools a good copy and every snapshot verifies again', async (t) => {
  const { tl, r, items } = await backupScene(t);
  const first = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-04-01T00:00:00Z') });
  await flipBit(poolPath(r.repo, items[2].sha256));
  // create trusts a pooled file of the right name and size: this snapshot lists the damaged copy.
  const second = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-04-02T00:00:00Z') });
  assert.deepEqual([second.stats.filesCopied, second.stats.filesReused], [0, 5]);
  const found = await verifySnapshot(r.repo, second.id, opts);
  assert.equal(found.ok, false);
  assert.match(found.problems.join('\n'), new RegExp(`media ${items[2].fileName}: pooled copy is corrupt`));

  const third = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-04-03T00:00:00Z') });
  assert.deepEqual([third.stats.filesCopied, third.stats.bytesCopied, third.stats.filesReused], [1, items[2].byteSize, 4]);
  for (const id of [third.id, second.id, first.id]) assert.deepEqual((await verifySnapshot(r.repo, id, opts)).problems, [], `snapshot ${id}`);
});

test('a truncated database dump fails verification', async (t) => {
  const { tl, r } = await backupScene(t);
  const snap = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-04-01T00:00:00Z') });
  const dump = path.join(snap.dir, snap.manifest.database.dump.path);
  await truncate(dump, Math.floor(snap.manifest.database.dump.bytes / 2));
  const record = await verifySnapshot(r.repo, snap.id, opts);
  assert.equal(record.ok, false);
  assert.ok(record.problems.some((p) => p.startsWith(`${snap.manifest.database.dump.path}: `)), 'size and hash differ');
  assert.ok(record.problems.some((p) => p.startsWith('database dump: ')), `the dump does not load: ${record.problems.join('\n')}`);
});

test('a truncated export or a dropped row fails verification even when the dump is fine', async (t) => {
  const { tl, r } = await backupScene(t);
  const snap = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-04-01T00:00:00Z') });
  const media = path.join(snap.dir, 'export', 'media.ndjson');
  const text = await readFile(media, 'utf8');
  await writeFile(media, text.slice(0, text.length - 40));
  const cut = await verifySnapshot(r.repo, snap.id, opts);
  assert.ok(cut.problems.some((p) => p.startsWith('export: ') && /media\.ndjson line 5 is not JSON/.test(p)), cut.problems.join('\n'));
  assert.ok(!cut.problems.some((p) => p.startsWith('database dump')));
  // A whole line dropped keeps every line valid JSON: the row count gives it away.
  await writeFile(media, text.split('\n').slice(1).join('\n'));
  const dropped = await verifySnapshot(r.repo, snap.id, opts);
  assert.ok(dropped.problems.some((p) => p.startsWith('export: ') && /4 rows, the manifest says 5/.test(p)), dropped.problems.join('\n'));
  await writeFile(media, text);
  assert.equal((await verifySnapshot(r.repo, snap.id, opts)).ok, true, 'the original export verifies again');
});

test('a manifest of an unknown version is refused by name, and list marks it unreadable', async (t) => {
  const { tl, r } = await backupScene(t);
  const snap = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-04-01T00:00:00Z') });
  const file = path.join(snap.dir, 'manifest.json');
  const m = JSON.parse(await readFile(file, 'utf8'));
  await writeFile(file, JSON.stringify({ ...m, version: 2 }));
  await assert.rejects(readManifest(r.repo, snap.id), { code: 'manifest_version' });
  await assert.rejects(verifySnapshot(r.repo, snap.id, opts), { code: 'manifest_version' });
  const [entry] = await listSnapshots(r.repo);
  assert.equal(entry.state, 'unreadable');
});
