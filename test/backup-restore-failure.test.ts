// A restore that cannot finish leaves its target as it was, says why on one line, and can simply be run
// again: a snapshot the target dialect cannot hold is refused before anything is written (a NUL in a
// SQLite title, bound for PostgreSQL), and a failure after writing began is undone (no media files, rows,
// tables, SQLite file or folders of its own). A forced restore that fails keeps the old library.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import fc from 'fast-check';
import pg from 'pg';
import type { DatabaseTarget } from '../src/config/index.ts';
import { createSnapshot } from '../src/backup/create.ts';
import { splitPgUrl } from '../src/backup/pg-target.ts';
import { poolPath } from '../src/backup/repo.ts';
import { restoreSnapshot } from '../src/backup/restore.ts';
import { verifySnapshot } from '../src/backup/verify.ts';
import { EXIT } from '../src/errors.ts';
import { cliInProcess } from './helpers/cli.ts';
import { makeTestDatabase, makeThrowawayPgDatabase, NEEDS_PG } from './helpers/db.ts';
import { addFixtures, backupScene, folderHashes, makeRepo, openLibraryAt, tableRows, tempDir } from './helpers/backup.ts';

/** Every path below `dir` with the SHA-256 of each file: what a restore may not leave changed. */
async function tree(dir: string): Promise<Record<string, string>> {
  if (!existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const rel of (await readdir(dir, { recursive: true })).sort()) {
    const p = path.join(dir, rel);
    out[rel] = (await readdir(p).then(() => 'dir', () => undefined)) ?? (await folderHashes(path.dirname(p)))[path.basename(p)];
  }
  return out;
}

/** Tables of a target database, without creating it: a SQLite file that does not exist has none. */
async function tablesOf(target: DatabaseTarget): Promise<string[]> {
  if (target.kind === 'sqlite') {
    if (!existsSync(target.path)) return [];
    const db = new DatabaseSync(target.path, { readOnly: true });
    try {
      return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
    } finally {
      db.close();
    }
  }
  const { url, schema } = splitPgUrl(target.url);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ n: string }>('SELECT table_name AS n FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [schema])).rows.map((r) => r.n);
  } finally {
    await c.end();
  }
}

/** A SQLite library whose song title holds a NUL, as the API accepted before text was checked at the door. */
async function nulLibrary(t: { after(fn: () => Promise<void>): void }) {
  const work = await tempDir('mediacdn-nul-');
  const r = await makeRepo();
  t.after(async () => {
    await r.close();
    await work.close();
  });
  const source = await openLibraryAt({ kind: 'sqlite', path: path.join(work.dir, 'src', 'mediacdn.db') }, path.join(work.dir, 'src', 'media'));
  const items = await addFixtures(source.lib);
  await source.db.kysely.updateTable('songs').set({ title: 'Side\u0000A' }).where('media_id', '=', items[0].id).execute();
  const rows = await tableRows(source.db);
  const snap = await createSnapshot(source.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-06-01T00:00:00Z') });
  await source.close();
  return { work, r, snap, rows };
}

test('a NUL in a SQLite title: the snapshot restores into SQLite unchanged', async (t) => {
  const { work, r, snap, rows } = await nulLibrary(t);
  assert.equal((await verifySnapshot(r.repo, snap.id)).ok, true);
  const target = { kind: 'sqlite' as const, path: path.join(work.dir, 'copy', 'mediacdn.db') };
  await restoreSnapshot(r.repo, snap.id, { database: target, mediaDir: path.join(work.dir, 'copy', 'media') });
  const back = await openLibraryAt(target, path.join(work.dir, 'copy', 'media'));
  t.after(() => back.close());
  assert.deepEqual(await tableRows(back.db), rows);
});

test('a NUL in a SQLite title, restored into PostgreSQL in public: refused before anything is written, one line, exit 4, target untouched, same answer again', { skip: NEEDS_PG }, async (t) => {
  const { work, r, snap } = await nulLibrary(t);
  const pgDb = await makeThrowawayPgDatabase();
  t.after(() => pgDb.cleanup());
  const data = path.join(work.dir, 'drill');
  await mkdir(data);
  const mediacdn = cliInProcess({ PATH: process.env.PATH }, work.dir);
  for (let run = 1; run <= 2; run++) {
    const res = await mediacdn('--data', data, 'backup', 'restore', 'latest', '--repo', r.dir, '--database-url', pgDb.url);
    assert.equal(res.code, EXIT.rejected, res.err);
    assert.equal(res.err, `mediacdn: snapshot ${snap.id} cannot be restored into PostgreSQL: songs id 1: title contains a NUL character (U+0000) at character 5, which PostgreSQL cannot store`, `run ${run}`);
    assert.deepEqual(await tree(data), {}, 'no media folder, no files');
    assert.deepEqual(await tablesOf({ kind: 'postgres', url: pgDb.url }), [], 'no tables');
  }
});

test('a restore that fails after it began writing is undone: a corrupt pooled copy, then a row the database refuses', async (t) => {
  const { tl, r, items } = await backupScene(t);
  const snap = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-06-02T00:00:00Z') });
  const rows = await tableRows(tl.db);
  const work = await tempDir('mediacdn-undo-');
  t.after(() => work.close());
  const suiteDb = await makeTestDatabase();
  t.after(() => suiteDb.cleanup());
  // Both kinds of target: the suite's database (a fresh PostgreSQL schema on the PostgreSQL pass) and a
  // SQLite file in a data folder that does not exist yet.
  const targets = [
    { database: suiteDb.target, mediaDir: path.join(work.dir, 'a', 'media'), data: path.join(work.dir, 'a') },
    { database: { kind: 'sqlite' as const, path: path.join(work.dir, 'b', 'data', 'mediacdn.db') }, mediaDir: path.join(work.dir, 'b', 'data', 'media'), data: path.join(work.dir, 'b') },
  ];
  await mkdir(targets[0].data);

  // The last file's pooled copy has one flipped bit: the size check passes, the copy's hash does not,
  // after the other four files were published.
  const victim = poolPath(r.repo, items[4].sha256);
  const good = await readFile(victim);
  const bad = Buffer.from(good);
  bad[bad.length >> 1] ^= 1;
  // A songs row without a title passes the export check but not the database's NOT NULL, after every file.
  const songs = path.join(snap.dir, 'export', 'songs.ndjson');
  const songsText = await readFile(songs, 'utf8');
  const untitled = songsText.replace(/^.+$/gm, (line) => JSON.stringify({ ...JSON.parse(line), title: null }));

  for (const target of targets) {
    const before = { tree: await tree(target.data), tables: await tablesOf(target.database) };
    await writeFile(victim, bad);
    await assert.rejects(restoreSnapshot(r.repo, snap.id, target), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'restore_failed');
      assert.match(err.message, new RegExp(`^restore failed: ${items[4].fileName} does not match its record: .*; the target is as it was$`));
      return true;
    });
    assert.deepEqual({ tree: await tree(target.data), tables: await tablesOf(target.database) }, before, `${target.database.kind}: as it was after a bad file`);
    await writeFile(victim, good);

    await writeFile(songs, untitled);
    await assert.rejects(restoreSnapshot(r.repo, snap.id, target), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'restore_failed');
      assert.match(err.message, /^restore failed: .*(NOT NULL|not-null).*; the target is as it was$/);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    assert.deepEqual({ tree: await tree(target.data), tables: await tablesOf(target.database) }, before, `${target.database.kind}: as it was after a bad row`);
    await writeFile(songs, songsText);

    // Nothing to force: the same restore runs again and succeeds.
    await restoreSnapshot(r.repo, snap.id, target);
    const back = await openLibraryAt(target.database, target.mediaDir);
    assert.deepEqual(await tableRows(back.db), rows);
    await back.close();
  }
});

test('a forced restore that fails keeps the old library: its rows and its files', async (t) => {
  const { tl, r } = await backupScene(t);
  const snap = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-06-03T00:00:00Z') });
  await tl.db.kysely.updateTable('songs').set({ title: 'changed after the snapshot' }).execute();
  // The pooled copy of the snapshot's last file is damaged, so the restore fails after it has met every
  // other file; those hold other bytes in the target than in the snapshot, so each was replaced first.
  const last = snap.manifest.files.at(-1)!;
  for (const f of snap.manifest.files.slice(0, -1)) await writeFile(path.join(tl.mediaDir, f.name), `the target's own ${f.name}`);
  const rows = await tableRows(tl.db);
  const files = await folderHashes(tl.mediaDir);
  const victim = poolPath(r.repo, last.sha256);
  const bytes = await readFile(victim);
  bytes[0] ^= 1;
  await writeFile(victim, bytes);
  await assert.rejects(restoreSnapshot(r.repo, snap.id, { database: tl.testDb.target, mediaDir: tl.mediaDir }, { force: true }), /the target is as it was$/);
  assert.deepEqual(await tableRows(tl.db), rows);
  assert.deepEqual(await folderHashes(tl.mediaDir), files);
});

/** Replaces row `index` of a table's export with `edit(row)` (or drops it for undefined); returns an undo. */
async function editExport(snapDir: string, table: string, index: number, edit: (row: Record<string, unknown>) => Record<string, unknown> | string | undefined): Promise<() => Promise<void>> {
  const file = path.join(snapDir, 'export', `${table}.ndjson`);
  const text = await readFile(file, 'utf8');
  const lines = text.split('\n').filter((l) => l !== '');
  const edited = edit(JSON.parse(lines[index]) as Record<string, unknown>);
  if (edited === undefined) lines.splice(index, 1);
  else lines[index] = typeof edited === 'string' ? edited : JSON.stringify(edited);
  await writeFile(file, `${lines.join('\n')}\n`);
  return () => writeFile(file, text);
}

test('a hostile or damaged export is refused before anything is written, naming the row', async (t) => {
  const { tl, r, items } = await backupScene(t);
  const snap = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-06-04T00:00:00Z') });
  const work = await tempDir('mediacdn-hostile-');
  t.after(() => work.close());
  const song = items[0];
  type Edit = Parameters<typeof editExport>[3];
  const cases: Array<[string, string, number, Edit, RegExp]> = [
    ['a file name outside the media folder', 'media', 0, (row) => ({ ...row, file_name: '../../../etc/passwd' }), /media id 1: file "\.\.\/\.\.\/\.\.\/etc\/passwd" .* is not among the manifest's files/],
    ['a size unlike the pooled copy', 'media', 1, (row) => ({ ...row, byte_size: 1 }), /media id 2: file .* \(1 bytes, .* is not among the manifest's files/],
    ['metadata pointing at no media', 'songs', 0, (row) => ({ ...row, media_id: 999 }), /songs id 1 points at media 999, which the export does not hold/],
    ['an extra column', 'songs', 0, (row) => ({ ...row, colour: 'red' }), /songs id 1 has the columns id, media_id, title, artist, album, colour; the export lists id, media_id, title, artist, album/],
    ['a missing column', 'announcements', 0, ({ title: _, ...row }) => row, /announcements id 1 has the columns id, media_id; the export lists id, media_id, title/],
    ['a duplicate id', 'songs', 1, (row) => ({ ...row, id: 1 }), /songs row 2 has id 1, not a unique positive whole number/],
    ['a fractional id', 'songs', 0, (row) => ({ ...row, id: 1.5 }), /songs row 1 has id 1\.5, not a unique positive whole number/],
    ['a text id', 'backgrounds', 0, (row) => ({ ...row, id: '1' }), /backgrounds row 1 has id "1", not a unique positive whole number/],
    ['an object for a title', 'songs', 0, (row) => ({ ...row, title: { x: 1 } }), /songs id 1: title is \{"x":1\}, neither text nor a whole number/],
    ['a boolean for a size', 'media', 2, (row) => ({ ...row, width: true }), /media id 3: width is true, neither text nor a whole number/],
    ['a number beyond 2^53', 'media', 2, (row) => ({ ...row, duration_ms: 2 ** 60 }), /media id 3: duration_ms is 1152921504606847000, neither text nor a whole number/],
    ['an unpaired surrogate', 'songs', 0, () => `{"id":1,"media_id":${song.id},"title":"\\ud800","artist":null,"album":null}`, /songs id 1: title contains an unpaired UTF-16 surrogate/],
    ['a dropped row', 'songs', 1, () => undefined, /export of songs holds 1 rows, the manifest says 2/],
    ['a truncated line', 'media', 4, () => '{"id":5,"file_na', /media\.ndjson line 5 is not JSON/],
  ];
  for (const [what, table, index, edit, expected] of cases) {
    const undo = await editExport(snap.dir, table, index, edit);
    const data = path.join(work.dir, what.replace(/\W+/g, '-'));
    const target = { database: { kind: 'sqlite' as const, path: path.join(data, 'mediacdn.db') }, mediaDir: path.join(data, 'media') };
    await assert.rejects(restoreSnapshot(r.repo, snap.id, target), (err: Error & { code?: string }) => {
      assert.match(err.message, expected, what);
      assert.ok(err.code === 'restore_refused' || err.code === 'restore_failed', `${what}: ${err.code}`);
      return true;
    });
    assert.equal(existsSync(data), false, `${what}: nothing written`);
    await undo();
  }
  // The untouched export restores.
  const data = path.join(work.dir, 'clean');
  await restoreSnapshot(r.repo, snap.id, { database: { kind: 'sqlite', path: path.join(data, 'mediacdn.db') }, mediaDir: path.join(data, 'media') });
});

test('property: whatever one value of the export is changed to, a restore either succeeds or leaves the target as it was', async (t) => {
  const { tl, r } = await backupScene(t);
  const snap = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-06-05T00:00:00Z') });
  const work = await tempDir('mediacdn-prop-');
  t.after(() => work.close());
  const value = fc.oneof(
    fc.string(),
    fc.constantFrom('\u0000', 'a\u0000', '\ud800', 'x\udc00y', '', ' ', '../x', 'aaaaaaaaaaaaaaaaaaaa.mp3'),
    fc.integer(),
    fc.integer({ min: 2 ** 31 - 2, max: 2 ** 31 + 2 }),
    fc.constantFrom(-1, 0, 2 ** 53, Number.MAX_SAFE_INTEGER),
    fc.double(),
    fc.constant(null),
    fc.boolean(),
    fc.array(fc.integer(), { maxLength: 2 }),
  );
  const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
  let run = 0;
  const outcomes = { restored: 0, refused: 0, undone: 0 };
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...snap.manifest.export.tables), fc.nat(), fc.nat(), value, async (table, rowPick, columnPick, v) => {
      const column = [...table.columns, 'extra'][columnPick % (table.columns.length + 1)];
      const undo = await editExport(snap.dir, table.name, rowPick % table.rows, (row) => ({ ...row, [column]: v }));
      const db = await makeTestDatabase();
      const data = path.join(work.dir, `run-${run++}`);
      try {
        const target = { database: db.target, mediaDir: path.join(data, 'media') };
        const before = await tablesOf(db.target);
        try {
          await restoreSnapshot(r.repo, snap.id, target);
          outcomes.restored++;
        } catch (err) {
          const e = err as Error & { code?: string };
          assert.ok(e.code === 'restore_refused' || e.code === 'restore_failed', `${e.code}: ${e.message}`);
          assert.doesNotMatch(e.message, /\n/);
          if (e.code === 'restore_failed') assert.match(e.message, /; the target is as it was$/);
          outcomes[e.code === 'restore_refused' ? 'refused' : 'undone']++;
          assert.equal(existsSync(data), false, 'no media folder');
          assert.deepEqual(await tablesOf(db.target), before, 'no tables');
        }
      } finally {
        await undo();
        await db.cleanup();
      }
    }),
    { numRuns: 8, seed },
  );
  t.diagnostic(`seed ${seed}: ${JSON.stringify(outcomes)}`);
});
