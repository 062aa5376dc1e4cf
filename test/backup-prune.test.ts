// prune on a real history of 90 daily snapshots: the promised ones stay, the newest verified one stays,
// pooled files survive exactly while some kept snapshot lists them, and a dry run changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import path from 'node:path';
import { createSnapshot } from '../src/backup/create.ts';
import { listPool } from '../src/backup/pool.ts';
import { pruneRepo } from '../src/backup/prune.ts';
import { listSnapshots, writeVerification } from '../src/backup/repo.ts';
import { restoreSnapshot } from '../src/backup/restore.ts';
import { deleteMedia } from '../src/media/catalog.ts';
import { checkLibrary } from '../src/media/check.ts';
import { ingest } from '../src/media/ingest.ts';
import type { MediaItem } from '../src/media/library.ts';
import { backupScene, fakeClock, makeWav, openLibraryAt, tempDir } from './helpers/backup.ts';

async function pooled(repo: Parameters<typeof listPool>[0]): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const p of listPool(repo)) out.add(p.sha256);
  return out;
}

test('prune on 90 daily snapshots keeps what the policy promises and collects unreferenced media', async (t) => {
  const clock = fakeClock('2026-01-01T04:15:00Z');
  const { tl, r, items } = await backupScene(t);
  // Each day has one media file of its own (added that day, deleted the next), so every snapshot
  // pins exactly one pooled file that no other snapshot lists.
  let daily: MediaItem | undefined;
  const dailySha = new Map<string, string>();
  for (let day = 0; day < 90; day++) {
    if (daily) await deleteMedia(tl.lib, daily.id, { force: true });
    daily = await ingest(tl.lib, { source: Readable.from([makeWav(day)]), declaredType: 'audio/wav' });
    if (day === 20) await deleteMedia(tl.lib, items[0].id, { force: true });
    const snap = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: clock.now });
    dailySha.set(snap.id, daily.sha256);
    clock.advance(86_400_000);
  }
  assert.equal((await listSnapshots(r.repo)).length, 90);
  // 2026-01-10 is the only verified snapshot: older than anything the policy keeps.
  await writeVerification(r.repo, '20260110T041500Z', { version: 1, at: '2026-01-10T05:00:00Z', ok: true, filesChecked: 5, filesTotal: 5, problems: [] });
  // A failed verification does not count as verified.
  await writeVerification(r.repo, '20260301T041500Z', { version: 1, at: '2026-03-01T05:00:00Z', ok: false, filesChecked: 5, filesTotal: 5, problems: ['x'] });

  const policy = { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 3 };
  const expectedKept = [
    '20260331T041500Z', '20260330T041500Z', '20260329T041500Z', '20260328T041500Z', '20260327T041500Z', '20260326T041500Z', '20260325T041500Z',
    '20260322T041500Z', '20260315T041500Z', // weekly: Sundays ending ISO weeks 12 and 11
    '20260228T041500Z', '20260131T041500Z', // monthly
    '20260110T041500Z', // newest verified
  ];
  const poolBefore = await pooled(r.repo);
  assert.equal(poolBefore.size, 90 + 5);

  const dry = await pruneRepo(r.repo, policy, { dryRun: true });
  assert.deepEqual(dry.plan.keep.map((k) => k.id), expectedKept);
  assert.deepEqual(dry.plan.keep.at(-1), { id: '20260110T041500Z', reasons: ['newest-verified'] });
  assert.equal(dry.plan.remove.length, 90 - 12);
  // 78 daily files go; the MP3 deleted on day 20 is still listed by the snapshot of 10 January.
  assert.equal(dry.pool.files, 78);
  assert.equal((await listSnapshots(r.repo)).length, 90, 'a dry run removes no snapshot');
  assert.deepEqual(await pooled(r.repo), poolBefore, 'a dry run removes no pooled file');

  const done = await pruneRepo(r.repo, policy);
  assert.deepEqual(done.plan, dry.plan);
  assert.deepEqual(done.pool, dry.pool);
  assert.deepEqual((await readdir(r.repo.snapshotsDir)).sort(), [...expectedKept].sort(), 'nothing else, no temp folders');
  const expectedPool = new Set([...items.map((i) => i.sha256), ...expectedKept.map((id) => dailySha.get(id)!)]);
  assert.deepEqual(await pooled(r.repo), expectedPool);

  // Keeping nothing by policy still keeps the newest verified snapshot, and it still restores.
  const last = await pruneRepo(r.repo, { keepLast: 1 });
  assert.deepEqual(last.plan.keep.map((k) => k.id), ['20260331T041500Z', '20260110T041500Z']);
  const target = await tempDir('mediacdn-pruned-');
  t.after(() => target.close());
  const sqlite = { kind: 'sqlite' as const, path: path.join(target.dir, 'mediacdn.db') };
  await restoreSnapshot(r.repo, '20260110T041500Z', { database: sqlite, mediaDir: path.join(target.dir, 'media') });
  const back = await openLibraryAt(sqlite, path.join(target.dir, 'media'));
  t.after(() => back.close());
  assert.deepEqual((await checkLibrary(back.lib)).problems, []);
  assert.equal((await checkLibrary(back.lib)).records, 6);
});
