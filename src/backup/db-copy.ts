// A consistent copy of the library database taken while servers keep writing: SQLite via VACUUM INTO,
// PostgreSQL via pg_dump sharing one exported snapshot with our own reads. From that same point in
// time come the NDJSON export of every table and the list of media files the snapshot must hold.
import { execFile } from 'node:child_process';
import { createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import type { Db } from '../db/connect.ts';
import { TABLES, type TableName } from '../db/schema.ts';
import { BackupError } from './errors.ts';
import { splitPgUrl, quoteIdent } from './pg-target.ts';
import type { ManifestFile } from './manifest.ts';

export type Row = Record<string, unknown>;

export type DbCopy = {
  dialect: 'sqlite' | 'postgres';
  schemaVersion: string;
  pgSchema: string | undefined;
  dump: { path: string; format: 'sqlite' | 'pg_dump_custom' };
  tables: Array<{ name: TableName; path: string; columns: string[]; rows: number }>;
  sequences: Record<string, number>;
  /** Media files the copied database refers to, by id. */
  files: ManifestFile[];
};

/** Reads a table in id order, a page at a time, from whichever copy is being exported. */
type TableReader = {
  columns(table: TableName): Promise<string[]>;
  page(table: TableName, afterId: number, limit: number): Promise<Row[]>;
};

const PAGE = 2000;

async function writeExport(dir: string, reader: TableReader): Promise<{ tables: DbCopy['tables']; files: ManifestFile[] }> {
  await fsp.mkdir(path.join(dir, 'export'), { recursive: true });
  const tables: DbCopy['tables'] = [];
  const files: ManifestFile[] = [];
  for (const name of TABLES) {
    const rel = `export/${name}.ndjson`;
    const out = createWriteStream(path.join(dir, rel));
    let rows = 0;
    // Smallest PostgreSQL integer: every id (serial or AUTOINCREMENT) is above it.
    let after = -2147483648;
    for (;;) {
      const page = await reader.page(name, after, PAGE);
      for (const row of page) {
        if (!out.write(`${JSON.stringify(row)}\n`)) await once(out, 'drain');
        if (name === 'media') files.push({ name: String(row.file_name), bytes: Number(row.byte_size), sha256: String(row.sha256) });
      }
      rows += page.length;
      if (page.length < PAGE) break;
      after = Number(page[page.length - 1].id);
    }
    out.end();
    await once(out, 'finish');
    tables.push({ name, path: rel, columns: await reader.columns(name), rows });
  }
  return { tables, files };
}

export async function copyDatabase(db: Db, dir: string): Promise<DbCopy> {
  await fsp.mkdir(path.join(dir, 'db'), { recursive: true });
  return db.dialect === 'sqlite' ? copySqlite(db, dir) : copyPostgres(db, dir);
}

async function copySqlite(db: Db, dir: string): Promise<DbCopy> {
  if (db.sqlite === undefined) throw new BackupError('dump_failed', 'SQLite handle unavailable');
  const rel = 'db/library.sqlite';
  const file = path.join(dir, rel);
  // VACUUM INTO writes a compact, transactionally consistent copy; WAL readers and writers carry on.
  db.sqlite.exec(`VACUUM INTO '${file.replace(/'/g, "''")}'`);
  const copy = new DatabaseSync(file, { readOnly: true });
  try {
    const reader: TableReader = {
      columns: async (t) => (copy.prepare(`PRAGMA table_info(${quoteIdent(t)})`).all() as Array<{ name: string }>).map((c) => c.name),
      page: async (t, after, limit) => copy.prepare(`SELECT * FROM ${quoteIdent(t)} WHERE id > ? ORDER BY id LIMIT ?`).all(after, limit) as Row[],
    };
    const { tables, files } = await writeExport(dir, reader);
    const hasSeq = copy.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'`).get() !== undefined;
    const seqRows = hasSeq ? (copy.prepare('SELECT name, seq FROM sqlite_sequence').all() as Array<{ name: string; seq: number }>) : [];
    const sequences = Object.fromEntries(TABLES.map((t) => [t, Number(seqRows.find((r) => r.name === t)?.seq ?? 0)]));
    const version = copy.prepare('SELECT name FROM kysely_migration ORDER BY name DESC LIMIT 1').get() as { name: string } | undefined;
    return { dialect: 'sqlite', schemaVersion: version?.name ?? '', pgSchema: undefined, dump: { path: rel, format: 'sqlite' }, tables, sequences, files };
  } finally {
    copy.close();
  }
}

export function runTool(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err) reject(new BackupError('dump_failed', `${cmd} failed: ${(stderr || err.message).trim().split('\n').slice(-3).join(' / ')}`, { cause: err }));
      else resolve();
    });
  });
}

async function copyPostgres(db: Db, dir: string): Promise<DbCopy> {
  if (db.target.kind !== 'postgres') throw new BackupError('dump_failed', 'not a PostgreSQL database');
  const { url, schema } = splitPgUrl(db.target.url);
  const rel = 'db/library.pgdump';
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // One snapshot for pg_dump and for our reads: the dump, the export and the file list agree.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snap = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0].s;
    const dump = runTool('pg_dump', ['--format=custom', `--snapshot=${snap}`, `--schema=${schema}`, `--file=${path.join(dir, rel)}`, `--dbname=${url}`]);
    const q = (t: string) => `${quoteIdent(schema)}.${quoteIdent(t)}`;
    const reader: TableReader = {
      columns: async (t) =>
        (await client.query<{ column_name: string }>('SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position', [schema, t])).rows.map((r) => r.column_name),
      page: async (t, after, limit) => (await client.query<Row>(`SELECT * FROM ${q(t)} WHERE id > $1 ORDER BY id LIMIT $2`, [after, limit])).rows,
    };
    const exported = await writeExport(dir, reader).catch(async (err: unknown) => {
      await dump.catch(() => {});
      throw err;
    });
    const sequences: Record<string, number> = {};
    for (const t of TABLES) {
      const seq = (await client.query<{ s: string | null }>('SELECT pg_get_serial_sequence($1, $2) AS s', [`${quoteIdent(schema)}.${quoteIdent(t)}`, 'id'])).rows[0].s;
      if (seq === null) {
        sequences[t] = 0;
        continue;
      }
      const r = (await client.query<{ last_value: number; is_called: boolean }>(`SELECT last_value, is_called FROM ${seq}`)).rows[0];
      sequences[t] = r.is_called ? Number(r.last_value) : Number(r.last_value) - 1;
    }
    const version = (await client.query<{ name: string }>(`SELECT name FROM ${q('kysely_migration')} ORDER BY name DESC LIMIT 1`)).rows[0];
    // The exported snapshot lives as long as this transaction: wait for pg_dump before committing.
    await dump;
    await client.query('COMMIT');
    return { dialect: 'postgres', schemaVersion: version?.name ?? '', pgSchema: schema, dump: { path: rel, format: 'pg_dump_custom' }, ...exported, sequences };
  } finally {
    await client.end().catch(() => {});
  }
}
