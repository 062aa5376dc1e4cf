// A PostgreSQL library in its default `public` schema, as in production: create → verify → restore, on a
// throw-away database of its own (the per-test schemas of the other suites never touch `public`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createSnapshot } from '../src/backup/create.ts';
import { restoreSnapshot } from '../src/backup/restore.ts';
import { verifySnapshot } from '../src/backup/verify.ts';
import { checkLibrary } from '../src/media/check.ts';
import { makeThrowawayPgDatabase, NEEDS_PG } from './helpers/db.ts';
import { addFixtures, folderHashes, makeRepo, openLibraryAt, tableRows, tempDir } from './helpers/backup.ts';

/** Two throw-away databases (a library's and a target), a repository and a work folder, gone after the test. */
async function publicScene(t: { after(fn: () => Promise<void>): void }) {
  const source = await makeThrowawayPgDatabase();
  const target = await makeThrowawayPgDatabase();
  const r = await makeRepo();
  const work = await tempDir('mediacdn-public-');
  t.after(async () => {
    await source.cleanup();
    await target.cleanup();
    await r.close();
    await work.close();
  });
  return { source, target, r, work };
}

test('a library in public: create, verify, restore into another public schema and into SQLite', { skip: NEEDS_PG }, async (t) => {
  const { source, target, r, work } = await publicScene(t);
  const a = await openLibraryAt({ kind: 'postgres', url: source.url }, path.join(work.dir, 'a'));
  await addFixtures(a.lib);
  const rows = await tableRows(a.db);
  const snap = await createSnapshot(a.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-05-01T00:00:00Z') });
  await a.close();
  assert.equal(snap.manifest.database.pgSchema, 'public');

  const record = await verifySnapshot(r.repo, snap.id, { postgresUrl: source.url });
  assert.deepEqual(record.problems, []);
  assert.equal(record.ok, true);

  await restoreSnapshot(r.repo, snap.id, { database: { kind: 'postgres', url: target.url }, mediaDir: path.join(work.dir, 'b') });
  const b = await openLibraryAt({ kind: 'postgres', url: target.url }, path.join(work.dir, 'b'));
  t.after(() => b.close());
  assert.deepEqual(await tableRows(b.db), rows);
  assert.deepEqual((await checkLibrary(b.lib)).problems, []);

  const sqlite = { kind: 'sqlite' as const, path: path.join(work.dir, 'c', 'mediacdn.db') };
  await restoreSnapshot(r.repo, snap.id, { database: sqlite, mediaDir: path.join(work.dir, 'c', 'media') });
  const c = await openLibraryAt(sqlite, path.join(work.dir, 'c', 'media'));
  t.after(() => c.close());
  assert.deepEqual(await tableRows(c.db), rows);
  assert.deepEqual(await folderHashes(path.join(work.dir, 'c', 'media')), await folderHashes(path.join(work.dir, 'a')));
});

test('the disaster-recovery pg_restore line of docs/backups.md loads a dump of public into a new database', { skip: NEEDS_PG }, async (t) => {
  const { source, target: fresh, r, work } = await publicScene(t);
  const a = await openLibraryAt({ kind: 'postgres', url: source.url }, work.dir);
  await addFixtures(a.lib);
  const snap = await createSnapshot(a.lib, r.repo, { toolVersion: 'test', now: () => new Date('2026-05-02T00:00:00Z') });
  await a.close();

  const docs = readFileSync(path.join(import.meta.dirname, '..', 'docs', 'backups.md'), 'utf8');
  const line = /`(pg_restore [^`]+)`/.exec(docs)?.[1];
  assert.ok(line, 'docs/backups.md names a pg_restore command');
  const argv = line.split(' ').map((w) => w.replace('<url>', fresh.url).replace('snapshots/<id>/', `${snap.dir}/`));
  execFileSync(argv[0], argv.slice(1), { stdio: 'pipe' });
  const c = new pg.Client({ connectionString: fresh.url });
  await c.connect();
  try {
    const n = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM public.media');
    assert.equal(n.rows[0].n, 5);
  } finally {
    await c.end();
  }
});
