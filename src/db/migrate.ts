// Applies the schema migrations of src/db/migrations.ts in one transaction. Our own small runner rather
// than Kysely's Migrator: its PostgreSQL introspection reads the catalog of every schema in the
// database and fails when another library's schema is dropped at the same moment. This one only
// touches the current schema. The record table keeps Kysely's name and columns (kysely_migration).
import { sql, type Kysely } from 'kysely';
import type { Db } from './connect.ts';
import { migrations } from './migrations.ts';
import { MediaCdnError } from '../errors.ts';

export const MIGRATION_TABLE = 'kysely_migration';

const turns = new Map<string, Promise<unknown>>();

/** Runs `fn` after every earlier call with the same key has settled (in this process). */
async function inTurn<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = turns.get(key) ?? Promise.resolve();
  const mine = before.then(fn, fn);
  const settled = mine.catch(() => {});
  turns.set(key, settled);
  try {
    return await mine;
  } finally {
    if (turns.get(key) === settled) turns.delete(key);
  }
}

/** Applied migration names of the current schema, in order ([] before the first migration). */
export async function appliedMigrations(db: Db): Promise<string[]> {
  const exists =
    db.dialect === 'postgres'
      ? await sql<{ n: number }>`select count(*)::int as n from information_schema.tables where table_schema = current_schema() and table_name = ${MIGRATION_TABLE}`.execute(db.kysely)
      : await sql<{ n: number }>`select count(*) as n from sqlite_master where type = 'table' and name = ${MIGRATION_TABLE}`.execute(db.kysely);
  if (Number(exists.rows[0]?.n ?? 0) === 0) return [];
  const r = await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(db.kysely);
  return r.rows.map((row) => row.name);
}

/**
 * Brings the schema to `target` (default: the latest migration). Concurrent callers on PostgreSQL
 * serialise on an advisory lock keyed by the current schema; on SQLite on the database's write lock.
 */
export async function migrateTo(db: Db, target?: string): Promise<void> {
  const all = migrations(db.dialect);
  const names = Object.keys(all).sort();
  const upto = target ?? names[names.length - 1];
  if (!names.includes(upto)) throw new MediaCdnError('migration_failed', `unknown database schema version ${JSON.stringify(upto)}`);
  const apply = async (q: Kysely<any>) => {
    await sql`create table if not exists ${sql.table(MIGRATION_TABLE)} (name varchar(255) not null primary key, timestamp varchar(255) not null)`.execute(q);
    const done = new Set((await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)}`.execute(q)).rows.map((r) => r.name));
    for (const name of names) {
      if (name > upto) break;
      if (done.has(name)) continue;
      await all[name].up(q);
      await sql`insert into ${sql.table(MIGRATION_TABLE)} (name, timestamp) values (${name}, ${new Date().toISOString()})`.execute(q);
    }
  };
  try {
    if (db.sqlite) {
      const raw = db.sqlite;
      // BEGIN IMMEDIATE takes the write lock up front (waiting out the busy timeout), so two processes
      // starting on a fresh file queue instead of deadlocking on a read-to-write lock upgrade. Its wait
      // blocks the thread, so connections of one process take turns first.
      await inTurn(db.target.kind === 'sqlite' ? db.target.path : '', async () => {
        raw.exec('BEGIN IMMEDIATE');
        try {
          await apply(db.kysely);
          raw.exec('COMMIT');
        } catch (err) {
          raw.exec('ROLLBACK');
          throw err;
        }
      });
    } else {
      await db.kysely.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(hashtext(current_schema() || '.mediacdn.migrations'))`.execute(trx);
        await apply(trx);
      });
    }
  } catch (err) {
    throw new MediaCdnError('migration_failed', `database migration failed: ${(err as Error).message}`, { cause: err });
  }
}
