// `backup create`: database copy first, then the media files that copy lists, into the shared pool,
// then the manifest, all under a temp name renamed into place only when complete.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Library } from '../media/library.ts';
import { BackupError } from './errors.ts';
import { copyDatabase, type DbCopy } from './db-copy.ts';
import { MANIFEST_FORMAT, MANIFEST_VERSION, snapshotIdFor, type Manifest } from './manifest.ts';
import { addToPool, hashFile } from './pool.ts';
import { fsyncDir, lockRepo, pathExists, removeAbandonedTemps, snapshotDir, tempName, type Repo } from './repo.ts';

export type CreateProgress =
  | { phase: 'database' }
  | { phase: 'media'; files: number; filesTotal: number; bytes: number; bytesTotal: number }
  | { phase: 'finishing' };

export type CreateOptions = {
  toolVersion: string;
  /** Clock for the snapshot id; defaults to the library's. */
  now?: () => Date;
  onProgress?: (p: CreateProgress) => void;
  /** Fresh database copies to try when a listed file vanished meanwhile (it was deleted by a user). */
  maxAttempts?: number;
  /** Test seams: called before each media file is pooled, and before the temp folder is renamed. */
  hooks?: { beforeFile?: (name: string, attempt: number) => Promise<void> | void; beforeRename?: (tempDir: string) => Promise<void> | void };
};

export type CreateResult = {
  id: string;
  dir: string;
  manifest: Manifest;
  stats: { filesCopied: number; bytesCopied: number; filesReused: number; attempts: number };
};

export async function createSnapshot(lib: Library, repo: Repo, opts: CreateOptions): Promise<CreateResult> {
  const now = opts.now ?? lib.now;
  const unlock = await lockRepo(repo, 'backup create');
  try {
    await removeAbandonedTemps(repo);
    const startedAt = now();
    const id = snapshotIdFor(startedAt);
    const final = snapshotDir(repo, id);
    // One snapshot per second: a second run within the same second is refused, not renamed.
    if (await pathExists(final)) throw new BackupError('snapshot_exists', `snapshot ${id} already exists; snapshots are at most one per second`);
    await fsp.mkdir(repo.snapshotsDir, { recursive: true });
    await fsp.mkdir(repo.poolDir, { recursive: true });

    const maxAttempts = opts.maxAttempts ?? 3;
    const stats = { filesCopied: 0, bytesCopied: 0, filesReused: 0, attempts: 0 };
    for (;;) {
      stats.attempts++;
      const tmp = path.join(repo.snapshotsDir, tempName(id));
      await fsp.mkdir(tmp);
      try {
        opts.onProgress?.({ phase: 'database' });
        const copy = await copyDatabase(lib.db, tmp);
        await poolFiles(lib, repo, copy, stats, opts);
        opts.onProgress?.({ phase: 'finishing' });
        const manifest = await buildManifest(tmp, id, startedAt, opts.toolVersion, copy);
        await syncTree(tmp);
        await writeDurably(path.join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
        await opts.hooks?.beforeRename?.(tmp);
        await fsp.rename(tmp, final);
        await fsyncDir(repo.snapshotsDir);
        return { id, dir: final, manifest, stats };
      } catch (err) {
        await fsp.rm(tmp, { recursive: true, force: true });
        // A listed file that vanished was most likely deleted after our copy: take a fresh copy.
        if (err instanceof BackupError && err.code === 'media_missing' && stats.attempts < maxAttempts) continue;
        if (err instanceof BackupError && err.code === 'media_missing') {
          throw new BackupError('media_missing', `${err.message} after ${stats.attempts} fresh database copies; the database lists it but the media folder lacks it (run mediacdn check); no snapshot written`, { cause: err });
        }
        throw err;
      }
    }
  } finally {
    await unlock();
  }
}

async function poolFiles(lib: Library, repo: Repo, copy: DbCopy, stats: CreateResult['stats'], opts: CreateOptions): Promise<void> {
  const bytesTotal = copy.files.reduce((s, f) => s + f.bytes, 0);
  let files = 0;
  let bytes = 0;
  const report = () => opts.onProgress?.({ phase: 'media', files, filesTotal: copy.files.length, bytes, bytesTotal });
  for (const f of copy.files) {
    await opts.hooks?.beforeFile?.(f.name, stats.attempts);
    const outcome = await addToPool(repo, () => lib.storage.createReadStream(f.name), f, (n) => {
      bytes += n;
      stats.bytesCopied += n;
      report();
    });
    if (outcome === 'copied') stats.filesCopied++;
    else {
      stats.filesReused++;
      bytes += f.bytes;
    }
    files++;
    report();
  }
}

async function buildManifest(dir: string, id: string, createdAt: Date, toolVersion: string, copy: DbCopy): Promise<Manifest> {
  const described = async (rel: string) => ({ path: rel, ...(await hashFile(path.join(dir, rel))) });
  const tables: Manifest['export']['tables'] = [];
  for (const t of copy.tables) tables.push({ name: t.name, columns: t.columns, rows: t.rows, ...(await described(t.path)) });
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    id,
    createdAt: createdAt.toISOString(),
    tool: { name: 'mediacdn', version: toolVersion },
    database: {
      dialect: copy.dialect,
      schemaVersion: copy.schemaVersion,
      ...(copy.pgSchema !== undefined ? { pgSchema: copy.pgSchema } : {}),
      dump: { ...(await described(copy.dump.path)), format: copy.dump.format },
    },
    export: { format: 'ndjson', tables, sequences: copy.sequences },
    rows: Object.fromEntries(copy.tables.map((t) => [t.name, t.rows])),
    files: copy.files,
    totals: { files: copy.files.length, bytes: copy.files.reduce((s, f) => s + f.bytes, 0) },
  };
}

async function writeDurably(file: string, text: string): Promise<void> {
  const fh = await fsp.open(file, 'wx');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs every file and folder below `dir`, so the rename publishes bytes that are on disk. */
async function syncTree(dir: string): Promise<void> {
  for (const ent of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) await syncTree(p);
    else if (ent.isFile()) {
      const fh = await fsp.open(p, 'r');
      await fh.sync().finally(() => fh.close());
    }
  }
  await fsyncDir(dir);
}
