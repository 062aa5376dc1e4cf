// `backup verify`: proves a snapshot restores. The native dump loads into a scratch database with the
// manifest's row counts, the NDJSON export passes the restore's checks and loads through its loader,
// and pooled files (all or a sample) match their SHA-256. The outcome is recorded beside the manifest.
import { randomBytes, randomInt } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { openDatabase } from '../db/connect.ts';
import { BackupError } from './errors.ts';
import { runTool } from './db-copy.ts';
import { checkExport } from './check-export.ts';
import { loadExport } from './load-export.ts';
import type { Manifest } from './manifest.ts';
import { splitPgUrl, withDatabase, quoteIdent } from './pg-target.ts';
import { checkPooled, hashFile, type PooledCheck } from './pool.ts';
import { readManifest, snapshotDir, writeVerification, VERIFICATION_VERSION, type Repo, type VerificationRecord } from './repo.ts';

export type VerifyOptions = {
  /** Hash only this many randomly chosen pooled files (default: all). */
  sample?: number;
  /** A PostgreSQL server on which to create a scratch database, needed for pg_dump snapshots. */
  postgresUrl?: string;
  now?: () => Date;
  /** Chooses sample indexes; defaults to a cryptographic source. */
  randomIndex?: (n: number) => number;
};

export async function verifySnapshot(repo: Repo, id: string, opts: VerifyOptions = {}): Promise<VerificationRecord> {
  const manifest = await readManifest(repo, id);
  const dir = snapshotDir(repo, id);
  const problems: string[] = [];
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}`);
    }
  };

  // Hash and size of every file the snapshot folder holds, so truncation is named precisely.
  for (const f of [manifest.database.dump, ...manifest.export.tables]) {
    await attempt(f.path, async () => {
      const actual = await hashFile(path.join(dir, f.path));
      if (actual.bytes !== f.bytes || actual.sha256 !== f.sha256) throw new Error(`${actual.bytes} bytes with SHA-256 ${actual.sha256.slice(0, 12)}…, manifest says ${f.bytes} bytes with ${f.sha256.slice(0, 12)}…`);
    });
  }

  await attempt('database dump', async () => {
    const counts = manifest.database.dump.format === 'sqlite' ? countSqliteDump(path.join(dir, manifest.database.dump.path)) : await countPgDump(path.join(dir, manifest.database.dump.path), manifest, opts.postgresUrl);
    compareCounts('database dump', await counts, manifest.rows);
  });

  await attempt('export', async () => {
    const scratch = await fsp.mkdtemp(path.join(os.tmpdir(), 'mediacdn-verify-'));
    try {
      const db = await openDatabase({ kind: 'sqlite', path: path.join(scratch, 'scratch.db') }, { migrate: false });
      try {
        await checkExport(dir, manifest, 'sqlite');
        compareCounts('export', await loadExport(db, dir, manifest), manifest.rows);
      } finally {
        await db.close();
      }
    } finally {
      await fsp.rm(scratch, { recursive: true, force: true });
    }
  });

  const files = chooseSample(manifest.files, opts.sample, opts.randomIndex ?? randomInt);
  // Two records may hold the same bytes: each pooled file is hashed (and perhaps set aside) once.
  const checked = new Map<string, Promise<PooledCheck>>();
  for (const f of files) {
    await attempt(`media ${f.name}`, async () => {
      let check = checked.get(f.sha256);
      if (check === undefined) checked.set(f.sha256, (check = checkPooled(repo, f)));
      const c = await check;
      if (c.state === 'missing') throw new Error(`pooled file ${f.sha256} is missing`);
      if (c.state === 'damaged') {
        const where = c.movedTo !== undefined ? `; moved to ${c.movedTo}, the next backup create copies it from the library again` : '';
        throw new Error(`pooled copy is corrupt: ${c.bytes} bytes with SHA-256 ${c.sha256}, recorded ${f.bytes} bytes with ${f.sha256}${where}`);
      }
    });
  }

  const record: VerificationRecord = {
    version: VERIFICATION_VERSION,
    at: (opts.now ?? (() => new Date()))().toISOString(),
    ok: problems.length === 0,
    filesChecked: files.length,
    filesTotal: manifest.files.length,
    problems,
  };
  await writeVerification(repo, id, record);
  return record;
}

function compareCounts(what: string, actual: Record<string, number>, expected: Record<string, number>): void {
  const wrong = Object.keys(expected).filter((t) => actual[t] !== expected[t]);
  if (wrong.length > 0) throw new Error(`${what} row counts differ from the manifest: ${wrong.map((t) => `${t} ${actual[t] ?? 'missing'} ≠ ${expected[t]}`).join(', ')}`);
}

function chooseSample<T>(all: readonly T[], sample: number | undefined, randomIndex: (n: number) => number): T[] {
  if (sample === undefined || sample >= all.length) return [...all];
  // Partial Fisher–Yates: the first `sample` slots end up a uniform random choice.
  const pool = [...all];
  for (let i = 0; i < sample; i++) {
    const j = i + randomIndex(pool.length - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, sample);
}

function countSqliteDump(file: string): Record<string, number> {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const check = db.prepare('PRAGMA integrity_check').all() as Array<{ integrity_check: string }>;
    if (check.length !== 1 || check[0].integrity_check !== 'ok') throw new Error(`integrity_check: ${check.map((c) => c.integrity_check).slice(0, 3).join('; ')}`);
    return countTables(db);
  } finally {
    db.close();
  }
}

function countTables(db: DatabaseSync): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>) {
    out[name] = Number((db.prepare(`SELECT count(*) AS n FROM ${quoteIdent(name)}`).get() as { n: number }).n);
  }
  return out;
}

/** pg_restore into a scratch database created (and dropped) on the given server, then count rows. */
async function countPgDump(file: string, manifest: Manifest, postgresUrl: string | undefined): Promise<Record<string, number>> {
  if (postgresUrl === undefined) throw new BackupError('verify_failed', 'a pg_dump snapshot needs a PostgreSQL server to load into: set DATABASE_URL or pass --database-url');
  const { url } = splitPgUrl(postgresUrl);
  const scratchName = `mediacdn_verify_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(scratchName)}`);
    try {
      const scratchUrl = withDatabase(url, scratchName);
      // A dump of `public` holds CREATE SCHEMA public, which every new database already has: --clean
      // --if-exists drops the empty one first (and is a no-op for any other schema).
      await runTool('pg_restore', ['--exit-on-error', '--no-owner', '--no-acl', '--clean', '--if-exists', `--dbname=${scratchUrl}`, file]);
      const c = new pg.Client({ connectionString: scratchUrl });
      await c.connect();
      try {
        const schema = manifest.database.pgSchema ?? 'public';
        const out: Record<string, number> = {};
        for (const t of Object.keys(manifest.rows)) {
          out[t] = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(schema)}.${quoteIdent(t)}`)).rows[0].n);
        }
        return out;
      } finally {
        await c.end();
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(scratchName)} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}
