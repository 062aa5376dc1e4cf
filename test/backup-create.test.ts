// Snapshot creation: media stored once in the pool, files deleted mid-run, missing files, one snapshot
// per second, and a process killed just before its snapshot would have been published.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createSnapshot } from '../src/backup/create.ts';
import { listPool } from '../src/backup/pool.ts';
import { listSnapshots } from '../src/backup/repo.ts';
import { deleteMedia } from '../src/media/catalog.ts';
import { ingest } from '../src/media/ingest.ts';
import { FIXTURES } from './helpers/library.ts';
import { backupScene, fakeClock } from './helpers/backup.ts';

async function poolFiles(repo: Parameters<typeof listPool>[0]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const p of listPool(repo)) out.set(p.sha256, (await stat(p.file)).mtimeMs);
  return out;
}

test('a second snapshot copies no media; a new file is copied once', async (t) => {
  const clock = fakeClock();
  const { tl, r, items } = await backupScene(t);
  const total = items.reduce((s, i) => s + i.byteSize, 0);

  const first = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: clock.now });
  assert.deepEqual(first.stats, { filesCopied: 5, bytesCopied: total, filesReused: 0, attempts: 1 });
  const pooled = await poolFiles(r.repo);
  assert.equal(pooled.size, 5);

  clock.advance(1000);
  const second = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: clock.now });
  assert.deepEqual(second.stats, { filesCopied: 0, bytesCopied: 0, filesReused: 5, attempts: 1 });
  assert.deepEqual(await poolFiles(r.repo), pooled, 'pooled files untouched');

  const added = await ingest(tl.lib, { source: createReadStream(path.join(FIXTURES, 'tone-3s.mp3')) });
  clock.advance(1000);
  const third = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: clock.now });
  // Same bytes as the first MP3: one more record, but its content is already pooled.
  assert.deepEqual(third.stats, { filesCopied: 0, bytesCopied: 0, filesReused: 6, attempts: 1 });
  assert.equal(third.manifest.files.length, 6);
  assert.ok(third.manifest.files.some((f) => f.name === added.fileName));

  // A pooled file of the wrong size (a truncated earlier copy) is replaced rather than trusted.
  const victim = [...pooled.keys()][0];
  await rm(path.join(r.repo.poolDir, victim.slice(0, 2), victim));
  clock.advance(1000);
  const fourth = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: clock.now });
  assert.equal(fourth.stats.filesCopied, 1);
  assert.deepEqual((await listSnapshots(r.repo)).map((s) => s.id), ['20260101T041500Z', '20260101T041501Z', '20260101T041502Z', '20260101T041503Z']);
});

test('a media record deleted while the backup runs: the snapshot is retaken from a fresh database copy', async (t) => {
  const { tl, r, items } = await backupScene(t);
  const doomed = items[2];
  let deleted = false;
  const snap = await createSnapshot(tl.lib, r.repo, {
    toolVersion: 'test',
    now: () => new Date('2026-01-05T00:00:00Z'),
    hooks: {
      beforeFile: async (name) => {
        if (!deleted && name === items[1].fileName) {
          deleted = true;
          await deleteMedia(tl.lib, doomed.id, { force: true });
        }
      },
    },
  });
  assert.equal(snap.stats.attempts, 2);
  assert.equal(snap.manifest.rows.media, 4);
  assert.equal(snap.manifest.rows.announcements, 0);
  assert.ok(!snap.manifest.files.some((f) => f.name === doomed.fileName));
  assert.deepEqual((await readdir(r.repo.snapshotsDir)).sort(), [snap.id], 'no temp folder of the first attempt is left');
});

test('a file that stays missing fails the backup and writes no snapshot', async (t) => {
  const { tl, r, items } = await backupScene(t);
  await rm(path.join(tl.mediaDir, items[3].fileName));
  await assert.rejects(createSnapshot(tl.lib, r.repo, { toolVersion: 'test' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'media_missing');
    assert.match(err.message, new RegExp(`${items[3].fileName}.*after 3 fresh database copies.*no snapshot written`));
    return true;
  });
  assert.deepEqual(await readdir(r.repo.snapshotsDir), []);
  assert.deepEqual(await listSnapshots(r.repo), []);
});

test('a corrupt media file fails the backup instead of pooling bad bytes', async (t) => {
  const { tl, r, items } = await backupScene(t);
  const file = path.join(tl.mediaDir, items[0].fileName);
  const bytes = await readFile(file);
  bytes[100] ^= 0xff;
  await writeFile(file, bytes);
  await assert.rejects(createSnapshot(tl.lib, r.repo, { toolVersion: 'test' }), { code: 'media_corrupt' });
  assert.deepEqual(await readdir(r.repo.snapshotsDir), []);
  assert.ok(!(await poolFiles(r.repo)).has(items[0].sha256));
});

test('a second snapshot in the same second is refused, the first is untouched', async (t) => {
  const { tl, r } = await backupScene(t);
  const now = () => new Date('2026-01-05T00:00:00.100Z');
  const first = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now });
  await assert.rejects(createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-01-05T00:00:00.900Z') }), { code: 'snapshot_exists' });
  const all = await listSnapshots(r.repo);
  assert.equal(all.length, 1);
  assert.equal(all[0].state === 'complete' && all[0].manifest.createdAt, first.manifest.createdAt);
});

test('a create killed just before publishing leaves no complete-looking snapshot; list removes its temp', async (t) => {
  const { tl, r } = await backupScene(t);
  const main = path.join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
  const env = { ...process.env, MEDIACDN_DATA: tl.dir, MEDIACDN_BACKUP_REPO: r.dir, MEDIACDN_BACKUP_TEST_HOLD: '1', DATABASE_URL: tl.testDb.url ?? '' };
  const child = spawn(process.execPath, [main, 'backup', 'create'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tempDir = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      err += s;
      const m = /holding before rename: (.+)\n/.exec(err);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code} before holding: ${err}`)));
  });
  // Everything is written: manifest, dump, export. Only the rename is missing.
  assert.ok((await readdir(tempDir)).includes('manifest.json'));
  const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');

  assert.deepEqual((await readdir(r.repo.snapshotsDir)).filter((n) => !n.startsWith('.tmp-')), [], 'no snapshot under a final name');
  assert.equal((await readdir(r.repo.snapshotsDir)).length, 1, 'the temp folder is still there');
  assert.deepEqual(await listSnapshots(r.repo), []);
  assert.deepEqual(await readdir(r.repo.snapshotsDir), [], 'list removed the abandoned temp folder');
  // The dead process's lock does not block the next run.
  const next = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-01-06T00:00:00Z') });
  assert.equal(next.stats.filesReused, 5, 'files pooled before the crash are reused');
});
