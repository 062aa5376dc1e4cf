// Loads a snapshot's NDJSON export into a database of either dialect through Kysely: migrations up to
// the snapshot's schema version, rows in dependency order in one transaction, id sequences, then the
// remaining migrations. Restore uses it, and verify uses it on a scratch database.
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { sql, type Kysely } from 'kysely';
import type { Db } from '../db/connect.ts';
import { migrations } from '../db/migrations.ts';
import { migrateTo } from '../db/migrate.ts';
import { TABLES } from '../db/schema.ts';
import { BackupError } from './errors.ts';
import type { Manifest } from './manifest.ts';

const BATCH = 500;

/**
 * Tables of the database the connection works in. Not Kysely's introspection: on PostgreSQL that lists
 * every schema, and a table of the same name in another schema must not count.
 */
export async function existingTables(db: Db): Promise<Set<string>> {
  const r =
    db.dialect === 'postgres'
      ? await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(db.kysely)
      : await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db.kysely);
  return new Set(r.rows.map((row) => row.name));
}

async function currentVersion(db: Db): Promise<string> {
  if (!(await existingTables(db)).has('kysely_migration')) return '';
  const r = await sql<{ name: string }>`select name from kysely_migration order by name desc limit 1`.execute(db.kysely);
  return r.rows[0]?.name ?? '';
}

/** Brings the (empty) target to the snapshot's schema version, refusing snapshots newer than this program. */
async function migrateToSnapshot(db: Db, manifest: Manifest): Promise<void> {
  const wanted = manifest.database.schemaVersion;
  if (!Object.keys(migrations(db.dialect)).includes(wanted)) {
    throw new BackupError('restore_failed', `snapshot ${manifest.id} has database schema ${JSON.stringify(wanted)}, which this mediacdn does not know (is it newer?)`);
  }
  const have = await currentVersion(db);
  if (have > wanted) throw new BackupError('restore_failed', `the target database is at schema ${have}, newer than the snapshot's ${wanted}: restore into a fresh database`);
  if (have === wanted) return;
  await migrateTo(db, wanted).catch((err: unknown) => {
    throw new BackupError('restore_failed', `migrating the target to ${wanted} failed: ${(err as Error).message}`, { cause: err });
  });
}

async function migrateToLatest(db: Db): Promise<void> {
  await migrateTo(db).catch((err: unknown) => {
    throw new BackupError('restore_failed', `migrating the restored database failed: ${(err as Error).message}`, { cause: err });
  });
}

export async function* readNdjson(file: string): AsyncIterable<Record<string, unknown>> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new BackupError('restore_failed', `${path.basename(file)} line ${n} is not JSON (truncated export?)`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new BackupError('restore_failed', `${path.basename(file)} line ${n} is not a row object`);
    yield row as Record<string, unknown>;
  }
}

/**
 * Loads every table of the export into `db`, which must hold no rows unless `replace` is set: then its
 * rows are deleted in the same transaction, so a failed load keeps them. Returns the rows loaded per table.
 */
export async function loadExport(db: Db, snapshotDir: string, manifest: Manifest, opts: { replace?: boolean } = {}): Promise<Record<string, number>> {
  await migrateToSnapshot(db, manifest);
  const loaded: Record<string, number> = {};
  await db.kysely.transaction().execute(async (trx) => {
    const k = trx as unknown as Kysely<any>;
    if (opts.replace) for (const table of [...TABLES].reverse()) await k.deleteFrom(table).execute();
    for (const table of TABLES) {
      const entry = manifest.export.tables.find((t) => t.name === table);
      if (!entry) throw new BackupError('restore_failed', `snapshot ${manifest.id} has no export of table ${table}`);
      let batch: Record<string, unknown>[] = [];
      let count = 0;
      let maxId = 0;
      const flush = async () => {
        if (batch.length > 0) await k.insertInto(table).values(batch).execute();
        batch = [];
      };
      for await (const row of readNdjson(path.join(snapshotDir, entry.path))) {
        batch.push(row);
        count++;
        maxId = Math.max(maxId, Number(row.id));
        if (batch.length >= BATCH) await flush();
      }
      await flush();
      if (count !== entry.rows) throw new BackupError('restore_failed', `export of ${table} holds ${count} rows, the manifest says ${entry.rows}`);
      loaded[table] = count;
      await setSequence(k, db.dialect, table, Math.max(maxId, manifest.export.sequences[table] ?? 0));
    }
  });
  await migrateToLatest(db);
  return loaded;
}

/** Explicit ids do not advance PostgreSQL's serial sequences; SQLite's AUTOINCREMENT may sit above max(id). */
async function setSequence(k: Kysely<any>, dialect: Db['dialect'], table: string, last: number): Promise<void> {
  if (dialect === 'postgres') {
    await sql`select setval(pg_get_serial_sequence(${table}, 'id'), ${Math.max(last, 1)}, ${last > 0})`.execute(k);
  } else if (last > 0) {
    await sql`delete from sqlite_sequence where name = ${table}`.execute(k);
    await sql`insert into sqlite_sequence (name, seq) values (${table}, ${last})`.execute(k);
  }
}
