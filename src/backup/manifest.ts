// The snapshot manifest (format `mediacdn-backup`, version 1) and snapshot ids: what a snapshot holds,
// written last, read strictly. Readers refuse versions they do not know.
import { z } from 'zod';
import { BackupError } from './errors.ts';

export const MANIFEST_FORMAT = 'mediacdn-backup';
export const MANIFEST_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const count = z.number().int().min(0);

/** A file inside the snapshot folder, with its size and hash so truncation is caught before loading. */
const snapshotFile = z.object({ path: z.string().regex(/^[a-z]+\/[a-z0-9_.-]+$/), bytes: count, sha256 }).strict();

export const manifestSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    version: z.literal(MANIFEST_VERSION),
    id: z.string().regex(/^\d{8}T\d{6}Z$/),
    createdAt: z.string(),
    tool: z.object({ name: z.string(), version: z.string() }).strict(),
    database: z
      .object({
        dialect: z.enum(['sqlite', 'postgres']),
        schemaVersion: z.string(),
        /** PostgreSQL schema that was dumped (pg_dump -n); absent on SQLite. */
        pgSchema: z.string().optional(),
        /** Native copy: a SQLite database file (VACUUM INTO) or a pg_dump custom-format archive. */
        dump: snapshotFile.extend({ format: z.enum(['sqlite', 'pg_dump_custom']) }).strict(),
      })
      .strict(),
    /** Dialect-neutral copy: one NDJSON file per table, one JSON object per row keyed by column name. */
    export: z
      .object({
        format: z.literal('ndjson'),
        tables: z.array(snapshotFile.extend({ name: z.string(), columns: z.array(z.string()), rows: count }).strict()),
        /** Last value handed out by each table's id sequence (may exceed max(id) after deletes). */
        sequences: z.record(z.string(), count),
      })
      .strict(),
    rows: z.record(z.string(), count),
    files: z.array(z.object({ name: z.string(), bytes: count, sha256 }).strict()),
    totals: z.object({ files: count, bytes: count }).strict(),
  })
  .strict();

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestFile = Manifest['files'][number];
export type SnapshotFileEntry = Manifest['database']['dump'];

/** Parses manifest JSON; refuses other formats and versions by name before checking the shape. */
export function parseManifest(text: string, where = 'manifest.json'): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BackupError('manifest_invalid', `${where} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const head = raw as { format?: unknown; version?: unknown } | null;
  if (typeof head !== 'object' || head === null || head.format !== MANIFEST_FORMAT) {
    throw new BackupError('manifest_invalid', `${where} is not a mediacdn backup manifest`);
  }
  if (head.version !== MANIFEST_VERSION) {
    throw new BackupError('manifest_version', `${where} has manifest version ${JSON.stringify(head.version)}; this mediacdn reads version ${MANIFEST_VERSION} only`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BackupError('manifest_invalid', `${where}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

export const SNAPSHOT_ID_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Snapshot ids are their UTC creation time to the second, e.g. `20261126T041500Z`; they sort by time. */
export function snapshotIdFor(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

export function isSnapshotId(s: string): boolean {
  const t = snapshotTime(s);
  // Round-trip so that month 13 or 31 February are refused rather than rolled over.
  return !Number.isNaN(t.getTime()) && snapshotIdFor(t) === s;
}

export function snapshotTime(id: string): Date {
  const m = SNAPSHOT_ID_RE.exec(id);
  if (!m) return new Date(Number.NaN);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}
