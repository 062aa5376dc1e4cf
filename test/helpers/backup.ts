// Backup scenarios share these: a library filled with every fixture kind, a throw-away repository,
// a fake clock, and whole-library fingerprints (every row of every table, every file's hash).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DatabaseTarget } from '../../src/config/index.ts';
import { openDatabase, type Db } from '../../src/db/connect.ts';
import { TABLES } from '../../src/db/schema.ts';
import { ingest } from '../../src/media/ingest.ts';
import { createLibrary, type Library, type MediaItem } from '../../src/media/library.ts';
import { createLocalStorage } from '../../src/storage/local-store.ts';
import pg from 'pg';
import { openRepo, type Repo } from '../../src/backup/repo.ts';
import { splitPgUrl } from '../../src/backup/pg-target.ts';
import { FIXTURES, makeTestLibrary, type TestLibrary } from './library.ts';
import { wavHeader } from '../../src/media/wav.ts';

/** A clock that only moves when told to. */
export function fakeClock(start = '2026-01-01T04:15:00.000Z'): { now: () => Date; advance(ms: number): void; set(iso: string): void } {
  let t = Date.parse(start);
  return { now: () => new Date(t), advance: (ms) => void (t += ms), set: (iso) => void (t = Date.parse(iso)) };
}

export async function makeRepo(): Promise<{ repo: Repo; dir: string; close(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-repo-'));
  return { repo: openRepo(dir), dir, close: () => rm(dir, { recursive: true, force: true }) };
}

/** One of each kind, with hostile titles (quotes, newlines, unicode, `..`). */
export async function addFixtures(lib: Library): Promise<MediaItem[]> {
  const add = (file: string, metadata?: Parameters<typeof ingest>[1]['metadata']) => ingest(lib, { source: createReadStream(path.join(FIXTURES, file)), originalName: file, metadata });
  return [
    await add('tone-3s.mp3', { kind: 'song', title: 'Tone "3s"\nline two', artist: 'Zoë ü 𝄞', album: '../..' }),
    await add('tone-3s.ogg', { kind: 'song', title: '.hidden', artist: null, album: null }),
    await add('blip-1s.wav', { kind: 'announcement', title: 'Gate 4 — now boarding' }),
    await add('loop.png', { kind: 'background', title: 'loop' }),
    await add('loop.gif'),
  ];
}

/** Every row of every library table, in id order. */
export async function tableRows(db: Db): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  // Plain objects: node:sqlite rows have a null prototype, pg rows do not.
  for (const t of TABLES) out[t] = (await db.kysely.selectFrom(t).selectAll().orderBy('id').execute()).map((row) => ({ ...row }));
  return out;
}

/** SHA-256 of every file in a folder (dotfiles included, so temp leftovers show up). */
export async function folderHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names.sort()) out[n] = createHash('sha256').update(await readFile(path.join(dir, n))).digest('hex');
  return out;
}

/** A library on an explicit database target and media folder (e.g. SQLite while the suite runs on PostgreSQL). */
export async function openLibraryAt(target: DatabaseTarget, mediaDir: string, opts: { migrate?: boolean } = {}): Promise<{ lib: Library; db: Db; close(): Promise<void> }> {
  const db = await openDatabase(target, opts);
  return { lib: createLibrary({ db, storage: createLocalStorage(mediaDir), mediaUrl: 'http://media.test/media/' }), db, close: () => db.close() };
}

export async function tempDir(prefix: string): Promise<{ dir: string; close(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, close: () => rm(dir, { recursive: true, force: true }) };
}

/** Empties a test database completely: the SQLite file goes, the PostgreSQL schema is dropped and re-created bare. */
export async function wipeDatabase(target: DatabaseTarget): Promise<void> {
  if (target.kind === 'sqlite') {
    for (const suffix of ['', '-wal', '-shm']) await rm(`${target.path}${suffix}`, { force: true });
    return;
  }
  const { url, schema } = splitPgUrl(target.url);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await c.end();
  }
}

/** A test library filled with the fixtures and an empty repository, both closed when the test ends. */
export async function backupScene(t: { after(fn: () => Promise<void>): void }, opts: { now?: () => Date } = {}): Promise<{ tl: TestLibrary; r: Awaited<ReturnType<typeof makeRepo>>; items: MediaItem[] }> {
  const tl = await makeTestLibrary({ now: opts.now });
  const r = await makeRepo();
  t.after(async () => {
    await tl.close();
    await r.close();
  });
  return { tl, r, items: await addFixtures(tl.lib) };
}

/** A short valid WAV (8-bit mono PCM) whose samples depend on `seed`: unique media without fixtures. */
export function makeWav(seed: number, samples = 800): Buffer {
  const h = wavHeader(samples, { sampleRate: 8000, channels: 1, bitsPerSample: 8 });
  const data = Buffer.alloc(samples);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < samples; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  return Buffer.concat([h, data]);
}
