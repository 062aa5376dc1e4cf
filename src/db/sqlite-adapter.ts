// Adapts Node's built-in node:sqlite (no native addon) to the small interface Kysely's SqliteDialect expects.
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

export function openSqlite(file: string, opts: { busyTimeoutMs?: number } = {}): { raw: DatabaseSync; adapter: SqliteDatabase } {
  const raw = new DatabaseSync(file, { timeout: opts.busyTimeoutMs ?? 5000, enableForeignKeyConstraints: true });
  // WAL lets a CLI and a running server share the file: readers never block the writer.
  raw.exec('PRAGMA journal_mode = WAL');
  raw.exec('PRAGMA synchronous = NORMAL');
  raw.exec('PRAGMA foreign_keys = ON');
  const adapter: SqliteDatabase = {
    close: () => raw.close(),
    prepare(sql: string): SqliteStatement {
      // Kysely opens transactions with a plain (deferred) BEGIN. Every transaction of ours writes, and a
      // deferred one that reads first fails at once with SQLITE_BUSY when another process wrote since
      // its read began; BEGIN IMMEDIATE takes the write lock up front, waiting out the busy timeout.
      const stmt = raw.prepare(/^\s*begin\s*$/i.test(sql) ? 'begin immediate' : sql);
      const reader = stmt.columns().length > 0;
      const args = (params: ReadonlyArray<unknown>) => params.map(toSqlite);
      return {
        reader,
        all: (params) => stmt.all(...args(params)),
        run: (params) => {
          const r = stmt.run(...args(params));
          return { changes: r.changes, lastInsertRowid: r.lastInsertRowid };
        },
        iterate: (params) => stmt.iterate(...args(params)),
      };
    },
  };
  return { raw, adapter };
}

function toSqlite(v: unknown): SQLInputValue {
  if (v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Date) return v.toISOString();
  return v as SQLInputValue;
}
