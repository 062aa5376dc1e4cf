// Time and disk use of backup create, a second create, verify and restore for a library of N files
// (default 1,000 WAV files of ~1.05 MB: just over 1 GB). Everything lives in a temp folder removed at
// the end. Usage: node bench/backup-size.ts [files] [bytesPerFile]  (DATABASE_URL selects PostgreSQL).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { DatabaseTarget } from '../src/config/index.ts';
import { openDatabase } from '../src/db/connect.ts';
import { createLibrary } from '../src/media/library.ts';
import { ingest } from '../src/media/ingest.ts';
import { createLocalStorage } from '../src/storage/local-store.ts';
import { createSnapshot } from '../src/backup/create.ts';
import { verifySnapshot } from '../src/backup/verify.ts';
import { restoreSnapshot } from '../src/backup/restore.ts';
import { openRepo } from '../src/backup/repo.ts';
import { withSearchPath } from '../test/helpers/db.ts';
import { wavHeader } from '../src/media/wav.ts';

const files = Number(process.argv[2] ?? 1000);
const bytesPerFile = Number(process.argv[3] ?? 1_050_000);

function wav(size: number): Buffer {
  return Buffer.concat([wavHeader(size, { sampleRate: 44100, channels: 1, bitsPerSample: 8 }), randomBytes(size)]);
}

/** Allocated bytes under a folder (what `du` reports), counting hard-linked inodes once. */
async function diskUse(dir: string, seen = new Set<number>()): Promise<number> {
  let total = 0;
  for (const ent of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, ent.name);
    const st = await stat(p);
    if (seen.has(st.ino)) continue;
    seen.add(st.ino);
    total += st.blocks * 512;
    if (ent.isDirectory()) total += await diskUse(p, seen);
  }
  return total;
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

async function pgSchemaTarget(base: string, label: string): Promise<{ target: DatabaseTarget; drop(): Promise<void> }> {
  const schema = `bench_${label}_${randomBytes(4).toString('hex')}`;
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  await c.query(`CREATE SCHEMA ${schema}`);
  await c.end();
  return {
    target: { kind: 'postgres', url: withSearchPath(base, schema) },
    drop: async () => {
      const d = new pg.Client({ connectionString: base });
      await d.connect();
      await d.query(`DROP SCHEMA ${schema} CASCADE`);
      await d.end();
    },
  };
}

const root = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-bench-'));
const pgBase = process.env.DATABASE_URL;
const cleanups: Array<() => Promise<void>> = [];
try {
  const source = pgBase ? await pgSchemaTarget(pgBase, 'src') : { target: { kind: 'sqlite' as const, path: path.join(root, 'lib', 'mediacdn.db') }, drop: async () => {} };
  cleanups.push(source.drop);
  const db = await openDatabase(source.target);
  const mediaDir = path.join(root, 'lib', 'media');
  const lib = createLibrary({ db, storage: createLocalStorage(mediaDir), mediaUrl: '/media/' });
  const [, ingestMs] = await timed(async () => {
    for (let i = 0; i < files; i++) await ingest(lib, { source: Readable.from([wav(bytesPerFile)]), declaredType: 'audio/wav', metadata: { kind: 'song', title: `track ${i}` } });
  });
  const libBytes = await diskUse(mediaDir);
  console.log(`dialect ${db.dialect}; library: ${files} files, ${mb(libBytes)} on disk (ingest ${secs(ingestMs)})`);

  const repo = openRepo(path.join(root, 'repo'));
  let clock = Date.parse('2026-06-01T00:00:00Z');
  const now = () => new Date(clock);
  const [first, createMs] = await timed(() => createSnapshot(lib, repo, { toolVersion: 'bench', now }));
  const afterFirst = await diskUse(repo.root);
  clock += 1000;
  const [second, create2Ms] = await timed(() => createSnapshot(lib, repo, { toolVersion: 'bench', now }));
  const afterSecond = await diskUse(repo.root);
  const [verified, verifyMs] = await timed(() => verifySnapshot(repo, second.id, { postgresUrl: pgBase }));
  if (!verified.ok) throw new Error(`verify failed: ${verified.problems.join('; ')}`);
  await db.close();

  const target = pgBase ? await pgSchemaTarget(pgBase, 'dst') : { target: { kind: 'sqlite' as const, path: path.join(root, 'restored', 'mediacdn.db') }, drop: async () => {} };
  cleanups.push(target.drop);
  const [, restoreMs] = await timed(() => restoreSnapshot(repo, second.id, { database: target.target, mediaDir: path.join(root, 'restored', 'media') }));
  const restoredBytes = await diskUse(path.join(root, 'restored'));

  console.log(`create        ${secs(createMs).padStart(9)}  copied ${first.stats.filesCopied} files, ${mb(first.stats.bytesCopied)}; repo ${mb(afterFirst)}`);
  console.log(`second create ${secs(create2Ms).padStart(9)}  copied ${second.stats.filesCopied} files, ${mb(second.stats.bytesCopied)}; repo grew ${mb(afterSecond - afterFirst)} to ${mb(afterSecond)}`);
  console.log(`verify        ${secs(verifyMs).padStart(9)}  ${verified.filesChecked} files hashed, dump + export loaded`);
  console.log(`restore       ${secs(restoreMs).padStart(9)}  ${mb(restoredBytes)} written (media + ${target.target.kind} database), check passed`);
} finally {
  for (const c of cleanups) await c().catch(() => {});
  await rm(root, { recursive: true, force: true });
}
