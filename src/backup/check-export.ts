// Reads a snapshot's whole export before a restore writes anything, so a restore that would fail half-way
// is refused up front: every line parses, each table has the manifest's columns and row count, ids are
// unique whole numbers, metadata points at media rows, the media rows are exactly the files the manifest
// lists, and every text value can be stored unchanged by the target dialect.
import path from 'node:path';
import { migrations, type Dialect } from '../db/migrations.ts';
import { TABLES } from '../db/schema.ts';
import { isLibraryFileName } from '../media/keys.ts';
import { textDefect } from '../media/text.ts';
import { BackupError } from './errors.ts';
import { readNdjson } from './load-export.ts';
import type { Manifest } from './manifest.ts';

const DIALECT_NAME = { sqlite: 'SQLite', postgres: 'PostgreSQL' } as const satisfies Record<Dialect, string>;

/** Throws `restore_refused` naming the first row (and column) that the target could not take as it is. */
export async function checkExport(snapshotDir: string, manifest: Manifest, dialect: Dialect): Promise<void> {
  const refuse = (why: string): never => {
    throw new BackupError('restore_refused', `snapshot ${manifest.id} cannot be restored into ${DIALECT_NAME[dialect]}: ${why}`);
  };
  const version = manifest.database.schemaVersion;
  if (!Object.keys(migrations(dialect)).includes(version)) refuse(`its database schema ${JSON.stringify(version)} is unknown to this mediacdn (is it newer?)`);

  const listed = new Map(manifest.files.map((f) => [f.name, f]));
  const mediaIds = new Set<number>();
  for (const table of TABLES) {
    const entry = manifest.export.tables.find((t) => t.name === table) ?? refuse(`it has no export of table ${table}`);
    const columns = [...entry.columns].sort().join(', ');
    const ids = new Set<number>();
    let count = 0;
    for await (const row of readNdjson(path.join(snapshotDir, entry.path))) {
      count++;
      const id = row.id;
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1 || ids.has(id)) refuse(`${table} row ${count} has id ${JSON.stringify(id)}, not a unique positive whole number`);
      ids.add(id as number);
      const where = `${table} id ${id}`;
      if (Object.keys(row).sort().join(', ') !== columns) refuse(`${where} has the columns ${Object.keys(row).join(', ')}; the export lists ${entry.columns.join(', ')}`);
      for (const [column, value] of Object.entries(row)) {
        if (typeof value === 'string') {
          const defect = textDefect(value, dialect);
          if (defect !== undefined) refuse(`${where}: ${column} ${defect}`);
        } else if (value !== null && !(typeof value === 'number' && Number.isSafeInteger(value))) {
          refuse(`${where}: ${column} is ${JSON.stringify(value)}, neither text nor a whole number`);
        }
      }
      if (table === 'media') {
        const f = listed.get(String(row.file_name));
        if (!isLibraryFileName(String(row.file_name)) || f === undefined || f.bytes !== row.byte_size || f.sha256 !== row.sha256) {
          refuse(`${where}: file ${JSON.stringify(row.file_name)} (${row.byte_size} bytes, SHA-256 ${row.sha256}) is not among the manifest's files`);
        }
        mediaIds.add(id as number);
      } else if (!mediaIds.has(row.media_id as number)) {
        refuse(`${where} points at media ${JSON.stringify(row.media_id)}, which the export does not hold`);
      }
    }
    if (count !== entry.rows) refuse(`export of ${table} holds ${count} rows, the manifest says ${entry.rows}`);
  }
  if (mediaIds.size !== listed.size) refuse(`the manifest lists ${listed.size} files for ${mediaIds.size} media rows`);
}
