// Test databases: SQLite in a temp folder by default, or a fresh PostgreSQL schema when DATABASE_URL
// is set (CI runs the whole suite both ways). Each test gets its own, so files can run in parallel.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabaseTarget } from '../../src/config/index.ts';

export type TestDatabase = {
  target: DatabaseTarget;
  /** Value for DATABASE_URL when the suite runs on PostgreSQL (undefined on SQLite). */
  url: string | undefined;
  dialect: 'sqlite' | 'postgres';
  cleanup(): Promise<void>;
};

export const PG_URL = process.env.DATABASE_URL;

export async function makeTestDatabase(dir?: string): Promise<TestDatabase> {
  if (PG_URL === undefined || PG_URL === '') {
    const base = dir ?? (await mkdtemp(path.join(os.tmpdir(), 'mediacdn-db-')));
    return {
      target: { kind: 'sqlite', path: path.join(base, 'mediacdn.db') },
      url: undefined,
      dialect: 'sqlite',
      cleanup: async () => {
        if (dir === undefined) await rm(base, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const url = withSearchPath(PG_URL, schema);
  return {
    target: { kind: 'postgres', url },
    url,
    dialect: 'postgres',
    cleanup: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

export function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

/** Skip reason for tests that need a PostgreSQL server (CI's PostgreSQL pass sets DATABASE_URL). */
export const NEEDS_PG = PG_URL === undefined || PG_URL === '' ? 'runs in the PostgreSQL pass of CI (DATABASE_URL)' : false;

/**
 * A throw-away PostgreSQL database with a unique name on the DATABASE_URL server, so a library can live
 * in its default `public` schema as it does in production (the per-test schemas above hide bugs that
 * only `public` has). Dropped, with any connections left, by `cleanup`.
 */
export async function makeThrowawayPgDatabase(): Promise<{ url: string; name: string; cleanup(): Promise<void> }> {
  if (PG_URL === undefined || PG_URL === '') throw new Error('DATABASE_URL is not set');
  const name = `mediacdn_t_${randomBytes(6).toString('hex')}`;
  const admin = async (query: string) => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await c.query(query);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  u.searchParams.delete('options');
  return { url: u.toString(), name, cleanup: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
