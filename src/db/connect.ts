// Opens the library database on either dialect and applies migrations: SQLite (embedded default,
// node:sqlite in WAL mode) or PostgreSQL (when DATABASE_URL is set).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { DatabaseSync } from 'node:sqlite';
import type { DatabaseTarget } from '../config/index.ts';
import { DatabaseUnavailableError, MediaCdnError } from '../errors.ts';
import type { Dialect } from './migrations.ts';
import { migrateTo } from './migrate.ts';
import type { Database } from './schema.ts';
import { openSqlite } from './sqlite-adapter.ts';

// int8 (COUNT(*), bigint columns) as JS numbers: our sizes stay far below 2^53.
pg.types.setTypeParser(20, (v: string) => Number.parseInt(v, 10));

export type Db = {
  readonly kysely: Kysely<Database>;
  readonly dialect: Dialect;
  readonly target: DatabaseTarget;
  /** The SQLite handle, for file-level operations such as VACUUM INTO. */
  readonly sqlite: DatabaseSync | undefined;
  close(): Promise<void>;
};

export type OpenOptions = {
  migrate?: boolean;
  /** PostgreSQL schema to use (created if missing); tests use one each. */
  pgSchema?: string;
  poolSize?: number;
};

export async function openDatabase(target: DatabaseTarget, opts: OpenOptions = {}): Promise<Db> {
  let db: Db;
  if (target.kind === 'sqlite') {
    let opened: ReturnType<typeof openSqlite>;
    try {
      mkdirSync(path.dirname(target.path), { recursive: true });
      opened = openSqlite(target.path);
    } catch (err) {
      throw new DatabaseUnavailableError(`cannot open SQLite database ${target.path}: ${(err as Error).message}`, err);
    }
    const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: opened.adapter }) });
    db = { kysely, dialect: 'sqlite', target, sqlite: opened.raw, close: () => kysely.destroy() };
  } else {
    const schema = opts.pgSchema;
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new MediaCdnError('config_invalid', `bad PostgreSQL schema name ${schema}`);
    }
    const pool = new pg.Pool({
      connectionString: target.url,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: 5000,
      ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
    });
    pool.on('error', () => {
      /* idle client errors surface on the next query */
    });
    try {
      const client = await pool.connect();
      try {
        if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => {});
      throw new DatabaseUnavailableError(`cannot reach PostgreSQL at ${redactUrl(target.url)}: ${(err as Error).message}`, err);
    }
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    db = { kysely, dialect: 'postgres', target, sqlite: undefined, close: () => kysely.destroy() };
  }
  if (opts.migrate !== false) await migrate(db);
  return db;
}

export async function migrate(db: Db): Promise<void> {
  await migrateTo(db);
}

/** Latest applied migration name, recorded in backup manifests. */
export async function schemaVersion(db: Db): Promise<string> {
  const r = await sql<{ name: string }>`select name from kysely_migration order by name desc limit 1`.execute(db.kysely);
  return r.rows[0]?.name ?? '';
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
