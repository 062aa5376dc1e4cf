// PostgreSQL URLs as mediacdn uses them: a schema may be chosen with `?options=-c search_path=<schema>`.
// pg_dump and pg_restore take the schema as a flag instead, so it is split off here.
import { BackupError } from './errors.ts';

export type PgTarget = { url: string; schema: string };

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** The connection URL without `options`, and the schema it selected (`public` when none). */
export function splitPgUrl(url: string): PgTarget {
  const u = new URL(url);
  const options = u.searchParams.get('options') ?? '';
  u.searchParams.delete('options');
  const m = /(?:^|\s)-c\s*search_path\s*=\s*("?)([^",\s]+)\1/.exec(options);
  const schema = m ? m[2] : 'public';
  if (!SCHEMA_RE.test(schema)) throw new BackupError('dump_failed', `unsupported PostgreSQL schema name ${JSON.stringify(schema)}`);
  return { url: u.toString(), schema };
}

/** The same server with another database name (for a scratch database). */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
