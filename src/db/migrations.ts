// Schema migrations, written once with Kysely's schema builder for both dialects; applied at start-up.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export type Dialect = 'sqlite' | 'postgres';

function idColumn(dialect: Dialect): 'integer' | 'serial' {
  return dialect === 'postgres' ? 'serial' : 'integer';
}

export function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_library': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('media')
          .addColumn('id', idColumn(dialect), (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('file_name', 'text', (c) => c.notNull().unique())
          .addColumn('content_type', 'text', (c) => c.notNull())
          .addColumn('byte_size', 'bigint', (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('duration_ms', 'integer')
          .addColumn('width', 'integer')
          .addColumn('height', 'integer')
          .execute();
        for (const table of ['songs', 'announcements', 'backgrounds']) {
          let t = db.schema
            .createTable(table)
            .addColumn('id', idColumn(dialect), (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
            .addColumn('media_id', 'integer', (c) => c.notNull().references('media.id').onDelete('restrict'))
            .addColumn('title', 'text', (c) => c.notNull());
          if (table === 'songs') t = t.addColumn('artist', 'text').addColumn('album', 'text');
          await t.execute();
          await db.schema.createIndex(`${table}_media_id`).on(table).column('media_id').execute();
        }
        await db.schema.createIndex('media_created_at').on('media').column('created_at').execute();
      },
    },
    // The purge log: every purge of the edges, numbered, so that an edge that missed one (down, cut
    // off) catches up on what came after the last it applied. Written by the origin and the CLI alike.
    '0002_purge_log': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('purge_log')
          .addColumn('seq', idColumn(dialect), (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          /** JSON: {"url": …} | {"prefix": …} | {"zone": …}, as POST /_mediacdn/purge takes it. */
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          /** Unix ms before which edges must not apply it (the origin may still serve the file until then). */
          .addColumn('not_before', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
  };
}

export const SCHEMA_VERSION = '0002_purge_log';
