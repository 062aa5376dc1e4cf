// The target of a restore: what makes it non-empty, and a journal of what the restore changed in it,
// so that a failed restore leaves it as it was: no media files, rows or tables of its own, and no
// SQLite file or folders that were not there before.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { DatabaseTarget } from '../config/index.ts';
import type { Db } from '../db/connect.ts';
import { TABLES } from '../db/schema.ts';
import type { MediaStorage } from '../storage/store.ts';
import { existingTables } from './load-export.ts';
import { pathExists } from './repo.ts';

/** What makes a target non-empty: rows in a library table, media files (or temp files) in the folder. */
export async function describeTarget(db: Db, storage: MediaStorage): Promise<string[]> {
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

export type TargetJournal = {
  /** Called once the database is open, before anything is written to it. */
  noteTables(db: Db): Promise<void>;
  /** A media file this restore published. */
  published(name: string): void;
  /** The target's own file `name` was moved to `aside` to make room for the snapshot's. */
  setAside(name: string, aside: string): void;
  /** The snapshot's rows are committed into tables that held no rows before. */
  rowsLoaded(): void;
  /** Removes what the restore added, closes `db`; returns what could not be undone (empty when all was). */
  undo(db: Db | undefined, storage: MediaStorage): Promise<string[]>;
};

export async function startJournal(target: { database: DatabaseTarget; mediaDir: string }): Promise<TargetJournal> {
  const sqliteFile = target.database.kind === 'sqlite' ? target.database.path : undefined;
  const createdDirs = [await topMissingDir(target.mediaDir), sqliteFile !== undefined ? await topMissingDir(path.dirname(sqliteFile)) : undefined];
  const sqliteFileExisted = sqliteFile !== undefined && (await pathExists(sqliteFile));
  let tablesBefore: Set<string> | undefined;
  let loaded = false;
  const files: string[] = [];
  const asides: Array<{ name: string; aside: string }> = [];

  return {
    async noteTables(db) {
      tablesBefore = await existingTables(db);
    },
    published: (name) => void files.push(name),
    setAside: (name, aside) => void asides.push({ name, aside }),
    rowsLoaded: () => void (loaded = true),
    async undo(db, storage) {
      const failed: string[] = [];
      const step = async (what: string, fn: () => Promise<unknown>) => {
        await fn().catch((err: unknown) => failed.push(`${what}: ${(err as Error).message}`));
      };
      for (const name of files) await step(`removing ${name}`, () => storage.remove(name));
      for (const { name, aside } of asides) await step(`putting back ${name}`, () => fsp.rename(aside, storage.localPath(name)));
      if (db !== undefined && tablesBefore !== undefined) {
        const before = tablesBefore;
        await step('removing the loaded rows and created tables', async () => {
          const now = await existingTables(db);
          // Children before parents; then what else the restore created (the migration record), but not
          // SQLite's own bookkeeping (sqlite_sequence), which cannot be dropped.
          const others = [...now].filter((t) => !(TABLES as readonly string[]).includes(t) && !t.startsWith('sqlite_')).sort();
          const order = [...[...TABLES].reverse(), ...others];
          for (const t of order) {
            if (!now.has(t)) continue;
            if (!before.has(t)) await sql`drop table ${sql.table(t)}`.execute(db.kysely);
            else if (loaded && (TABLES as readonly string[]).includes(t)) await sql`delete from ${sql.table(t)}`.execute(db.kysely);
          }
        });
      }
      await db?.close().catch(() => {});
      if (sqliteFile !== undefined && !sqliteFileExisted) {
        for (const suffix of ['', '-wal', '-shm', '-journal']) await step(`removing ${sqliteFile}${suffix}`, () => fsp.rm(`${sqliteFile}${suffix}`, { force: true }));
      }
      for (const dir of createdDirs) if (dir !== undefined) await step(`removing ${dir}`, () => fsp.rm(dir, { recursive: true, force: true }));
      return failed;
    },
  };
}

/** The highest folder on the way to `dir` that does not exist yet; undefined when `dir` exists. */
async function topMissingDir(dir: string): Promise<string | undefined> {
  let missing: string | undefined;
  for (let d = path.resolve(dir); !(await pathExists(d)); d = path.dirname(d)) {
    missing = d;
    if (path.dirname(d) === d) break;
  }
  return missing;
}
