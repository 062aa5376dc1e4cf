// `backup restore`: re-creates a library (media folder + database of either dialect) from a snapshot.
// Everything that can be checked without writing is checked first (the whole export against the target
// dialect, the pooled files); then files, hash-checked and published under their stored names; then every
// row in one transaction; then `checkLibrary` must find nothing wrong. A restore that fails after it began
// writing undoes what it wrote, so the target is as it was and a re-run needs no --force.
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { DatabaseTarget } from '../config/index.ts';
import { openDatabase, type Db } from '../db/connect.ts';
import { checkLibrary, describeProblem } from '../media/check.ts';
import { createLibrary } from '../media/library.ts';
import { MediaCdnError } from '../errors.ts';
import { createLocalStorage, TEMP_PREFIX } from '../storage/local-store.ts';
import type { MediaStorage } from '../storage/store.ts';
import { checkExport } from './check-export.ts';
import { BackupError } from './errors.ts';
import { loadExport } from './load-export.ts';
import type { Manifest } from './manifest.ts';
import { copyVerified, hashFile } from './pool.ts';
import { poolPath, readManifest, snapshotDir, type Repo } from './repo.ts';
import { describeTarget, startJournal, type TargetJournal } from './restore-target.ts';

export type RestoreTarget = { database: DatabaseTarget; mediaDir: string };

export type RestoreOptions = {
  /** Replace a non-empty target: its rows go in the same transaction that loads the snapshot's, its other files after. */
  force?: boolean;
  onProgress?: (p: { files: number; filesTotal: number; bytes: number; bytesTotal: number }) => void;
};

export type RestoreResult = { id: string; rows: Record<string, number>; files: number; bytes: number };

export async function restoreSnapshot(repo: Repo, id: string, target: RestoreTarget, opts: RestoreOptions = {}): Promise<RestoreResult> {
  const manifest = await readManifest(repo, id);
  const dir = snapshotDir(repo, id);
  await checkExport(dir, manifest, target.database.kind);
  await checkPoolHolds(repo, manifest);

  const journal = await startJournal(target);
  const storage = createLocalStorage(target.mediaDir);
  let db: Db | undefined;
  let replaced = false;
  try {
    db = await openDatabase(target.database, { migrate: false });
    const contents = await describeTarget(db, storage);
    if (contents.length > 0 && !opts.force) throw new BackupError('target_not_empty', `restore target is not empty (${contents.join(', ')}); pass --force to replace it`);
    await journal.noteTables(db);
    await copyFiles(repo, manifest, storage, journal, opts);
    const rows = await loadExport(db, dir, manifest, { replace: opts.force });
    if (opts.force) {
      replaced = true;
      await removeOtherFiles(storage, manifest);
    } else journal.rowsLoaded();
    const report = await checkLibrary(createLibrary({ db, storage, mediaUrl: '/' }));
    if (report.problems.length > 0) {
      throw new BackupError('restore_failed', `restored library fails its check: ${report.problems.slice(0, 3).map(describeProblem).join('; ')}`);
    }
    return { id, rows, files: manifest.files.length, bytes: manifest.totals.bytes };
  } catch (err) {
    if (err instanceof BackupError && err.code === 'target_not_empty') {
      await journal.undo(db, storage);
      db = undefined;
      throw err;
    }
    if (replaced) throw restoreError(err, 'after the target\'s rows were replaced by the snapshot\'s; run mediacdn check');
    const left = await journal.undo(db, storage);
    db = undefined;
    throw restoreError(err, left.length === 0 ? 'the target is as it was' : `undoing it failed too (${left.join('; ')})`);
  } finally {
    await db?.close();
  }
}

/** Every pooled file the snapshot lists is there with its size (hashes are checked while copying). */
async function checkPoolHolds(repo: Repo, manifest: Manifest): Promise<void> {
  for (const f of manifest.files) {
    const st = await fsp.stat(poolPath(repo, f.sha256)).catch(() => undefined);
    if (st?.size !== f.bytes) {
      throw new BackupError('restore_refused', `snapshot ${manifest.id} cannot be restored: the pooled copy of ${f.name} (${f.sha256}) is ${st ? `${st.size} bytes, expected ${f.bytes}` : 'missing'}; run backup verify ${manifest.id}`);
    }
  }
}

async function copyFiles(repo: Repo, manifest: Manifest, storage: MediaStorage, journal: TargetJournal, opts: RestoreOptions): Promise<void> {
  const bytesTotal = manifest.totals.bytes;
  let bytes = 0;
  let files = 0;
  for (const f of manifest.files) {
    const pending = await storage.beginWrite();
    try {
      await copyVerified(createReadStream(poolPath(repo, f.sha256)), pending.stream, f, (n) => {
        bytes += n;
        opts.onProgress?.({ files, filesTotal: manifest.files.length, bytes, bytesTotal });
      });
      let outcome = await pending.commit(f.name);
      // Only a forced restore meets a file of the same name: it is kept when it holds the same bytes.
      if (outcome === 'exists' && (await hashFile(storage.localPath(f.name))).sha256 !== f.sha256) {
        if (!opts.force) throw new BackupError('restore_failed', `${f.name} already exists in the media folder with other content`);
        // The target's file is moved aside as a temp file, not deleted: a restore that fails later puts
        // it back; one that succeeds removes it with the other temp files (removeOtherFiles).
        const old = storage.localPath(f.name);
        const aside = path.join(path.dirname(old), `${TEMP_PREFIX}restore-old-${f.name}`);
        await fsp.rename(old, aside);
        journal.setAside(f.name, aside);
        outcome = await pending.commit(f.name);
      }
      if (outcome === 'ok') journal.published(f.name);
    } finally {
      await pending.abort();
    }
    files++;
  }
}

/** After a forced restore: the media files (and temp files) the snapshot does not list go. */
async function removeOtherFiles(storage: MediaStorage, manifest: Manifest): Promise<void> {
  const keep = new Set(manifest.files.map((f) => f.name));
  for await (const f of storage.list()) if (!keep.has(f.name)) await storage.remove(f.name);
  for await (const f of storage.listTemps()) await storage.removeTemp(f.name);
}

/** One line, whatever failed (a database driver's error may span several), saying what became of the target. */
function restoreError(err: unknown, outcome: string): BackupError {
  const message = ((err as Error)?.message ?? String(err)).replace(/\s*\n\s*/g, ' / ');
  return new BackupError('restore_failed', `restore failed: ${message}; ${outcome}`, { cause: err, exitCode: err instanceof MediaCdnError ? err.exitCode : undefined });
}
