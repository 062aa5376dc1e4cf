// The media pool: each media file stored once under its SHA-256, shared by every snapshot that lists it.
// Bytes are hashed while they are copied, so a pooled file is known to match before it is published.
// `create` then trusts a pooled file of the right name and size; `verify` hashes them, and moves a copy
// that no longer matches to `damaged/`, so the next `create` pools a good copy from the library again.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackupError } from './errors.ts';
import { DAMAGED_DIR, fsyncDir, poolPath, tempName, TEMP_PREFIX, type Repo } from './repo.ts';

export type Expected = { name: string; bytes: number; sha256: string };

/** Streams `source` into `sink`, failing with media_corrupt unless size and SHA-256 match `expected`. */
export async function copyVerified(source: Readable, sink: Writable, expected: Expected, onBytes?: (n: number) => void): Promise<void> {
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      hash.update(chunk);
      onBytes?.(chunk.length);
      cb(null, chunk);
    },
  });
  await pipeline(source, meter, sink);
  const sha256 = hash.digest('hex');
  if (bytes !== expected.bytes || sha256 !== expected.sha256) {
    throw new BackupError('media_corrupt', `${expected.name} does not match its record: ${bytes} bytes with SHA-256 ${sha256}, recorded ${expected.bytes} bytes with ${expected.sha256}`);
  }
}

export async function hashFile(file: string): Promise<{ bytes: number; sha256: string }> {
  return hashStream(createReadStream(file));
}

async function hashStream(source: Readable): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of source) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

export type PooledCheck = { state: 'ok' } | { state: 'missing' } | { state: 'damaged'; bytes: number; sha256: string; movedTo: string | undefined };

/**
 * Hashes the pooled copy of `expected`. A copy that does not match is moved to `<repo>/damaged/<sha256>`
 * (kept for inspection), unless another process replaced it while it was being read.
 */
export async function checkPooled(repo: Repo, expected: Expected): Promise<PooledCheck> {
  const file = poolPath(repo, expected.sha256);
  const fh = await fsp.open(file, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (fh === undefined) return { state: 'missing' };
  let actual: { bytes: number; sha256: string };
  let read: { dev: number; ino: number };
  try {
    read = await fh.stat();
    actual = await hashStream(fh.createReadStream({ autoClose: false }));
  } finally {
    await fh.close();
  }
  if (actual.bytes === expected.bytes && actual.sha256 === expected.sha256) return { state: 'ok' };
  const there = await fsp.stat(file).catch(() => undefined);
  if (there?.dev !== read.dev || there.ino !== read.ino) return { state: 'damaged', ...actual, movedTo: undefined };
  const damagedDir = path.join(repo.root, DAMAGED_DIR);
  await fsp.mkdir(damagedDir, { recursive: true });
  const movedTo = path.join(damagedDir, expected.sha256);
  await fsp.rename(file, movedTo);
  await fsyncDir(path.dirname(file));
  return { state: 'damaged', ...actual, movedTo: path.relative(repo.root, movedTo) };
}

export type PoolOutcome = 'copied' | 'present';

/**
 * Puts one media file into the pool unless a file of the right size is already there (pooled files are
 * written once; verify hashes them and sets damaged ones aside). Throws media_missing if the source is
 * gone, media_corrupt if its bytes do not match the record.
 */
export async function addToPool(repo: Repo, open: () => Readable, expected: Expected, onBytes?: (n: number) => void): Promise<PoolOutcome> {
  const final = poolPath(repo, expected.sha256);
  const existing = await fsp.stat(final).catch(() => undefined);
  if (existing?.isFile() && existing.size === expected.bytes) return 'present';
  await fsp.mkdir(path.dirname(final), { recursive: true });
  const tmp = path.join(repo.poolDir, tempName('pool'));
  try {
    await copyVerified(open(), createWriteStream(tmp, { flags: 'wx', mode: 0o444 }), expected, onBytes);
    const fh = await fsp.open(tmp, 'r');
    await fh.sync().finally(() => fh.close());
    await fsp.rename(tmp, final);
    await fsyncDir(path.dirname(final));
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new BackupError('media_missing', `media file ${expected.name} is gone`, { cause: err });
    }
    throw err;
  }
  return 'copied';
}

export async function* listPool(repo: Repo): AsyncIterable<{ sha256: string; file: string; bytes: number }> {
  const tops = await fsp.readdir(repo.poolDir).catch(() => [] as string[]);
  for (const top of tops.sort()) {
    if (top.startsWith(TEMP_PREFIX) || !/^[0-9a-f]{2}$/.test(top)) continue;
    for (const name of (await fsp.readdir(path.join(repo.poolDir, top))).sort()) {
      if (!/^[0-9a-f]{64}$/.test(name) || !name.startsWith(top)) continue;
      const file = path.join(repo.poolDir, top, name);
      const st = await fsp.stat(file).catch(() => undefined);
      if (st?.isFile()) yield { sha256: name, file, bytes: st.size };
    }
  }
}

/** Removes pooled files that no snapshot lists (or only reports them with dryRun). */
export async function collectPoolGarbage(repo: Repo, referenced: ReadonlySet<string>, dryRun: boolean): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for await (const p of listPool(repo)) {
    if (referenced.has(p.sha256)) continue;
    files++;
    bytes += p.bytes;
    if (!dryRun) await fsp.rm(p.file, { force: true });
  }
  return { files, bytes };
}
