// The backup repository on disk: `snapshots/<id>/` (manifest.json, db/, export/, verification.json),
// `pool/<sha256[0:2]>/<sha256>` shared media, `damaged/` pooled copies that failed verify, a `lock`
// file, and `.tmp-*` entries of unfinished work.
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { BackupError } from './errors.ts';
import { isSnapshotId, parseManifest, type Manifest } from './manifest.ts';

export type Repo = { readonly root: string; readonly snapshotsDir: string; readonly poolDir: string };

export const TEMP_PREFIX = '.tmp-';
/** Where verify moves pooled copies that no longer match their SHA-256. */
export const DAMAGED_DIR = 'damaged';

export function openRepo(root: string): Repo {
  return { root, snapshotsDir: path.join(root, 'snapshots'), poolDir: path.join(root, 'pool') };
}

export function snapshotDir(repo: Repo, id: string): string {
  if (!isSnapshotId(id)) throw new BackupError('snapshot_not_found', `${JSON.stringify(id)} is not a snapshot id (YYYYMMDDTHHMMSSZ)`);
  return path.join(repo.snapshotsDir, id);
}

export function poolPath(repo: Repo, sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new BackupError('manifest_invalid', `bad SHA-256 ${sha256}`);
  return path.join(repo.poolDir, sha256.slice(0, 2), sha256);
}

/** A temp name that records its owner's pid, so a later run can tell abandoned work from work in progress. */
export function tempName(label: string): string {
  return `${TEMP_PREFIX}${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

function ownerPid(tempEntry: string): number | undefined {
  const m = /-(\d+)-[0-9a-f]{8}$/.exec(tempEntry);
  return m ? Number(m[1]) : undefined;
}

export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function pathExists(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    () => true,
    () => false,
  );
}

/** fsyncs a directory so a rename or unlink inside it survives a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Removes temp snapshot folders and pool temp files whose writing process is gone. */
export async function removeAbandonedTemps(repo: Repo): Promise<string[]> {
  const removed: string[] = [];
  const dirs = [repo.snapshotsDir, repo.poolDir];
  for (const dir of dirs) {
    const names = await fsp.readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    for (const name of names) {
      if (!name.startsWith(TEMP_PREFIX)) continue;
      const pid = ownerPid(name);
      if (pid !== undefined && isProcessAlive(pid)) continue;
      await fsp.rm(path.join(dir, name), { recursive: true, force: true });
      removed.push(path.relative(repo.root, path.join(dir, name)));
    }
  }
  return removed;
}

/**
 * Takes the repository's exclusive lock (create and prune hold it, so garbage collection never races a
 * snapshot that is reusing pooled files). A lock left by a dead process is taken over.
 */
export async function lockRepo(repo: Repo, what: string): Promise<() => Promise<void>> {
  await fsp.mkdir(repo.root, { recursive: true });
  const file = path.join(repo.root, 'lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fsp.writeFile(file, JSON.stringify({ pid: process.pid, what, at: new Date().toISOString() }), { flag: 'wx' });
      return async () => {
        await fsp.rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await fsp
      .readFile(file, 'utf8')
      .then((t) => JSON.parse(t) as { pid?: number; what?: string })
      .catch(() => ({}) as { pid?: number; what?: string });
    if (typeof holder.pid === 'number' && isProcessAlive(holder.pid)) {
      throw new BackupError('repo_locked', `backup repository ${repo.root} is in use by process ${holder.pid} (${holder.what ?? 'unknown'}); try again when it has finished`);
    }
    await fsp.rm(file, { force: true });
  }
  throw new BackupError('repo_locked', `cannot lock backup repository ${repo.root}`);
}

export const VERIFICATION_VERSION = 1;

const verificationSchema = z
  .object({
    version: z.literal(VERIFICATION_VERSION),
    at: z.string(),
    ok: z.boolean(),
    /** Files hashed: all of them, or a sample. */
    filesChecked: z.number().int().min(0),
    filesTotal: z.number().int().min(0),
    problems: z.array(z.string()),
  })
  .strict();

export type VerificationRecord = z.infer<typeof verificationSchema>;

export type SnapshotEntry =
  | { state: 'complete'; id: string; dir: string; manifest: Manifest; verification: VerificationRecord | undefined }
  | { state: 'unreadable'; id: string; dir: string; error: string };

export async function readManifest(repo: Repo, id: string): Promise<Manifest> {
  const dir = snapshotDir(repo, id);
  let text: string;
  try {
    text = await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupError('snapshot_not_found', `no snapshot ${id} in ${repo.root}`);
    throw err;
  }
  const m = parseManifest(text, `snapshot ${id}`);
  if (m.id !== id) throw new BackupError('manifest_invalid', `snapshot ${id} holds the manifest of ${m.id}`);
  return m;
}

export async function readVerification(repo: Repo, id: string): Promise<VerificationRecord | undefined> {
  const text = await fsp.readFile(path.join(snapshotDir(repo, id), 'verification.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const parsed = verificationSchema.safeParse(JSON.parse(text));
  // An unknown verification record counts as never verified, never as verified.
  return parsed.success ? parsed.data : undefined;
}

export async function writeVerification(repo: Repo, id: string, record: VerificationRecord): Promise<void> {
  const dir = snapshotDir(repo, id);
  const tmp = path.join(dir, `${TEMP_PREFIX}verification.json`);
  await fsp.writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
  await fsp.rename(tmp, path.join(dir, 'verification.json'));
}

/** Complete snapshots, oldest first. Temp folders are never listed; abandoned ones are removed first. */
export async function listSnapshots(repo: Repo, opts: { cleanTemps?: boolean } = {}): Promise<SnapshotEntry[]> {
  if (opts.cleanTemps !== false) await removeAbandonedTemps(repo);
  const names = await fsp.readdir(repo.snapshotsDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const out: SnapshotEntry[] = [];
  for (const id of names.filter(isSnapshotId).sort()) {
    const dir = path.join(repo.snapshotsDir, id);
    try {
      out.push({ state: 'complete', id, dir, manifest: await readManifest(repo, id), verification: await readVerification(repo, id) });
    } catch (err) {
      out.push({ state: 'unreadable', id, dir, error: (err as Error).message });
    }
  }
  return out;
}

/** Resolves `latest` to the newest complete snapshot; other values must be existing ids. */
export async function resolveSnapshotId(repo: Repo, ref: string): Promise<string> {
  if (ref !== 'latest') return ref;
  const all = (await listSnapshots(repo, { cleanTemps: false })).filter((s) => s.state === 'complete');
  if (all.length === 0) throw new BackupError('snapshot_not_found', `no snapshots in ${repo.root}`);
  return all[all.length - 1].id;
}
