// Restores that put back every row and every byte: same dialect after a wipe, across dialects, and
// never over a non-empty target unless forced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createSnapshot } from '../src/backup/create.ts';
import { restoreSnapshot } from '../src/backup/restore.ts';
import { SCHEMA_VERSION } from '../src/db/migrations.ts';
import { deleteMedia } from '../src/media/catalog.ts';
import { checkLibrary } from '../src/media/check.ts';
import { ingest } from '../src/media/ingest.ts';
import { makeTestDatabase } from './helpers/db.ts';
import { FIXTURES, makeTestLibrary } from './helpers/library.ts';
import { addFixtures, fakeClock, folderHashes, makeRepo, openLibraryAt, tableRows, tempDir, wipeDatabase } from './helpers/backup.ts';

test('create, wipe the data folder and the database, restore: every row and every byte is back', async (t) => {
  const clock = fakeClock();
  const tl = await makeTestLibrary({ now: clock.now });
  const r = await makeRepo();
  t.after(async () => {
    await tl.close();
    await r.close();
  });
  const items = await addFixtures(tl.lib);
  // A deleted record leaves a gap in the ids: restored sequences must not hand its id out again.
  await deleteMedia(tl.lib, items[4].id, { force: true });
  const rowsBefore = await tableRows(tl.db);
  const filesBefore = await folderHashes(tl.mediaDir);
  assert.equal(Object.keys(filesBefore).length, 4);

  const snap = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test' });
  assert.equal(snap.id, '20260101T041500Z');
  assert.equal(snap.manifest.database.dialect, tl.testDb.dialect);
  assert.equal(snap.manifest.database.schemaVersion, SCHEMA_VERSION);
  assert.deepEqual(snap.manifest.rows, { media: 4, songs: 2, announcements: 1, backgrounds: 1 });
  assert.deepEqual(new Map(snap.manifest.files.map((f) => [f.name, f.sha256])), new Map(Object.entries(filesBefore)));

  await tl.db.close();
  await wipeDatabase(tl.testDb.target);
  await rm(tl.dir, { recursive: true, force: true });
  await mkdir(tl.dir);

  const result = await restoreSnapshot(r.repo, snap.id, { database: tl.testDb.target, mediaDir: tl.mediaDir });
  assert.deepEqual(result.rows, snap.manifest.rows);
  const back = await openLibraryAt(tl.testDb.target, tl.mediaDir);
  t.after(() => back.close());
  assert.deepEqual(await tableRows(back.db), rowsBefore);
  assert.deepEqual(await folderHashes(tl.mediaDir), filesBefore);
  assert.deepEqual((await checkLibrary(back.lib)).problems, []);
  const next = await ingest(back.lib, { source: createReadStream(path.join(FIXTURES, 'loop.gif')) });
  assert.equal(next.id, items[4].id + 1, 'ids continue after the highest ever handed out');
});

test('restore crosses dialects: SQLite to the suite database and the suite database to SQLite', async (t) => {
  // On the PostgreSQL run these are SQLite→PostgreSQL and PostgreSQL→SQLite; on the SQLite run both sides are SQLite.
  const r = await makeRepo();
  const work = await tempDir('mediacdn-cross-');
  t.after(async () => {
    await r.close();
    await work.close();
  });
  const sqliteA = { kind: 'sqlite' as const, path: path.join(work.dir, 'a', 'mediacdn.db') };
  const source = await openLibraryAt(sqliteA, path.join(work.dir, 'a', 'media'));
  await addFixtures(source.lib);
  const rowsA = await tableRows(source.db);
  const snapA = await createSnapshot(source.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-02-01T00:00:00Z') });
  await source.close();
  assert.equal(snapA.manifest.database.dialect, 'sqlite');

  const suiteDb = await makeTestDatabase();
  t.after(() => suiteDb.cleanup());
  const mediaB = path.join(work.dir, 'b', 'media');
  await restoreSnapshot(r.repo, snapA.id, { database: suiteDb.target, mediaDir: mediaB });
  const b = await openLibraryAt(suiteDb.target, mediaB);
  assert.deepEqual(await tableRows(b.db), rowsA);
  assert.deepEqual((await checkLibrary(b.lib)).problems, []);
  // Changes made on the new side travel back.
  const extra = await ingest(b.lib, { source: createReadStream(path.join(FIXTURES, 'loop.gif')), metadata: { kind: 'background', title: 'added after the move' } });
  assert.equal(extra.id, 6);
  const rowsB = await tableRows(b.db);
  const snapB = await createSnapshot(b.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-02-02T00:00:00Z') });
  await b.close();
  assert.equal(snapB.manifest.database.dialect, suiteDb.dialect);

  const sqliteC = { kind: 'sqlite' as const, path: path.join(work.dir, 'c', 'mediacdn.db') };
  const mediaC = path.join(work.dir, 'c', 'media');
  await restoreSnapshot(r.repo, snapB.id, { database: sqliteC, mediaDir: mediaC });
  const c = await openLibraryAt(sqliteC, mediaC);
  t.after(() => c.close());
  assert.deepEqual(await tableRows(c.db), rowsB);
  assert.deepEqual(await folderHashes(mediaC), await folderHashes(mediaB));
  assert.deepEqual((await checkLibrary(c.lib)).problems, []);
});

test('restore refuses a target with rows or media files unless forced, and --force replaces it', async (t) => {
  const tl = await makeTestLibrary();
  const r = await makeRepo();
  const other = await tempDir('mediacdn-target-');
  t.after(async () => {
    await tl.close();
    await r.close();
    await other.close();
  });
  await addFixtures(tl.lib);
  const snap = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-03-01T00:00:00Z') });
  const rows = await tableRows(tl.db);

  // Rows in the database.
  await assert.rejects(restoreSnapshot(r.repo, snap.id, { database: tl.testDb.target, mediaDir: path.join(other.dir, 'media') }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'target_not_empty');
    assert.match(err.message, /5 row\(s\) in media/);
    return true;
  });
  // Only a stray file in the media folder, empty database.
  const strayMedia = path.join(other.dir, 'media2');
  await mkdir(strayMedia);
  await writeFile(path.join(strayMedia, 'abcdefghijabcdefghij.mp3'), 'x');
  const sqliteTarget = { kind: 'sqlite' as const, path: path.join(other.dir, 'mediacdn.db') };
  await assert.rejects(restoreSnapshot(r.repo, snap.id, { database: sqliteTarget, mediaDir: strayMedia }), { code: 'target_not_empty' });
  assert.deepEqual(Object.keys(await folderHashes(strayMedia)), ['abcdefghijabcdefghij.mp3'], 'a refused restore writes nothing');

  // --force over the live library after changes: the snapshot's state comes back, the extra file goes.
  await ingest(tl.lib, { source: createReadStream(path.join(FIXTURES, 'loop.gif')) });
  const filesAtSnapshot = Object.fromEntries(snap.manifest.files.map((f) => [f.name, f.sha256]));
  await tl.db.close();
  await restoreSnapshot(r.repo, snap.id, { database: tl.testDb.target, mediaDir: tl.mediaDir }, { force: true });
  const back = await openLibraryAt(tl.testDb.target, tl.mediaDir);
  t.after(() => back.close());
  assert.deepEqual(await tableRows(back.db), rows);
  assert.deepEqual(await folderHashes(tl.mediaDir), filesAtSnapshot);
});
