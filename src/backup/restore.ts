// `backup restore`: re-creates a library (media folder + database of either dialect) from a snapshot.
// Files first, hash-checked and published under their stored names; then every row in one transaction;
// then `checkLibrary` must find nothing wrong.
import { createReadStream } from 'node:fs';
import { sql } from 'kysely';
import type { DatabaseTarget } from '../config/index.ts';
import { openDatabase, type Db } from '../db/connect.ts';
import { TABLES } from '../db/schema.ts';
import { checkLibrary, describeProblem } from '../media/check.ts';
import { createLibrary } from '../media/library.ts';
import { createLocalStorage } from '../storage/local-store.ts';
import type { MediaStorage } from '../storage/store.ts';
import { BackupError } from './errors.ts';
import { existingTables, loadExport } from './load-export.ts';
import { copyVerified, hashFile } from './pool.ts';
import { poolPath, readManifest, snapshotDir, type Repo } from './repo.ts';

export type RestoreTarget = { database: DatabaseTarget; mediaDir: string };

export type RestoreOptions = {
  /** Empty a non-empty target first (its rows and media files are removed). */
  force?: boolean;
  onProgress?: (p: { files: number; filesTotal: number; bytes: number; bytesTotal: number }) => void;
};

export type RestoreResult = { id: string; rows: Record<string, number>; files: number; bytes: number };

export async function restoreSnapshot(repo: Repo, id: string, target: RestoreTarget, opts: RestoreOptions = {}): Promise<RestoreResult> {
  const manifest = await readManifest(repo, id);
  const dir = snapshotDir(repo, id);
  const storage = createLocalStorage(target.mediaDir);
  const db = await openDatabase(target.database, { migrate: false });
  try {
    const contents = await describeTarget(db, storage);
    if (contents.length > 0) {
      if (!opts.force) throw new BackupError('target_not_empty', `restore target is not empty (${contents.join(', ')}); pass --force to replace it`);
      await emptyTarget(db, storage);
    }

    const bytesTotal = manifest.totals.bytes;
    let bytes = 0;
    let files = 0;
    for (const f of manifest.files) {
      const source = poolPath(repo, f.sha256);
      const pending = await storage.beginWrite();
      try {
        await copyVerified(createReadStream(source), pending.stream, f, (n) => {
          bytes += n;
          opts.onProgress?.({ files, filesTotal: manifest.files.length, bytes, bytesTotal });
        });
        if ((await pending.commit(f.name)) === 'exists') {
          // Two records cannot share a name, so this is a file left by an earlier interrupted restore.
          await pending.abort();
          const there = await hashFile(storage.localPath(f.name));
          if (there.sha256 !== f.sha256) throw new BackupError('restore_failed', `${f.name} already exists in ${target.mediaDir} with other content`);
        }
      } catch (err) {
        await pending.abort();
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupError('restore_failed', `pooled copy of ${f.name} (${f.sha256}) is missing from ${repo.root}`, { cause: err });
        throw err;
      }
      files++;
    }

    const rows = await loadExport(db, dir, manifest);
    const report = await checkLibrary(createLibrary({ db, storage, mediaUrl: '/' }));
    if (report.problems.length > 0) {
      throw new BackupError('restore_failed', `restored library fails its check: ${report.problems.slice(0, 3).map(describeProblem).join('; ')}`);
    }
    return { id, rows, files, bytes: manifest.totals.bytes };
  } finally {
    await db.close();
  }
}

/** What makes a target non-empty: rows in a library table, media files (or temp files) in the folder. */
async function describeTarget(db: Db, storage: MediaStorage): Promise<string[]> {
  const found: string[] = [];
  const existing = await existingTables(db);
  for (const t of TABLES) {
    if (!existing.has(t)) continue;
    const n = Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(t)}`.execute(db.kysely)).rows[0].n);
    if (n > 0) found.push(`${n} row(s) in ${t}`);
  }
  let files = 0;
  for await (const _ of storage.list()) files++;
  for await (const _ of storage.listTemps()) files++;
  if (files > 0) found.push(`${files} file(s) in the media folder`);
  return found;
}

async function emptyTarget(db: Db, storage: MediaStorage): Promise<void> {
  const existing = await existingTables(db);
  await db.kysely.transaction().execute(async (trx) => {
    for (const t of [...TABLES].reverse()) if (existing.has(t)) await sql`delete from ${sql.table(t)}`.execute(trx);
  });
  for await (const f of storage.list()) await storage.remove(f.name);
  for await (const f of storage.listTemps()) await storage.removeTemp(f.name);
}
