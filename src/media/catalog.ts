// The catalog: media records joined with the song / announcement / background metadata pointing at them.
import { sql, type Kysely } from 'kysely';
import type { Database, MetadataKind } from '../db/schema.ts';
import { KIND_TABLE, METADATA_KINDS } from '../db/schema.ts';
import { ConflictError, InputError, NotFoundError } from '../errors.ts';
import { fileUrl, type Library, type MediaItem } from './library.ts';
import { isLibraryFileName } from './keys.ts';
import { checkTextField } from './text.ts';

function baseQuery(db: Kysely<Database>) {
  return db
    .selectFrom('media')
    .leftJoin('songs', 'songs.media_id', 'media.id')
    .leftJoin('announcements', 'announcements.media_id', 'media.id')
    .leftJoin('backgrounds', 'backgrounds.media_id', 'media.id')
    .select([
      'media.id',
      'media.file_name',
      'media.content_type',
      'media.byte_size',
      'media.sha256',
      'media.created_at',
      'media.duration_ms',
      'media.width',
      'media.height',
      'songs.title as song_title',
      'songs.artist as artist',
      'songs.album as album',
      'announcements.title as announcement_title',
      'backgrounds.title as background_title',
    ]);
}

type Row = Awaited<ReturnType<ReturnType<typeof baseQuery>['executeTakeFirstOrThrow']>>;

function toItem(lib: Pick<Library, 'mediaUrl' | 'signLink'>, r: Row): MediaItem {
  const kind: MetadataKind | null = r.song_title !== null ? 'song' : r.announcement_title !== null ? 'announcement' : r.background_title !== null ? 'background' : null;
  return {
    id: Number(r.id),
    fileName: r.file_name,
    contentType: r.content_type,
    byteSize: Number(r.byte_size),
    sha256: r.sha256,
    createdAt: r.created_at,
    durationMs: r.duration_ms,
    width: r.width,
    height: r.height,
    url: fileUrl(lib, r),
    kind,
    title: r.song_title ?? r.announcement_title ?? r.background_title ?? null,
    artist: r.artist ?? null,
    album: r.album ?? null,
  };
}

/** Looks up by numeric id or by stored file name. */
export async function getMedia(lib: Library, ref: number | string): Promise<MediaItem | undefined> {
  const q = baseQuery(lib.db.kysely);
  const row = typeof ref === 'number' || /^\d+$/.test(ref) ? await q.where('media.id', '=', Number(ref)).executeTakeFirst() : isLibraryFileName(ref) ? await q.where('media.file_name', '=', ref).executeTakeFirst() : undefined;
  return row ? toItem(lib, row) : undefined;
}

export async function requireMedia(lib: Library, ref: number | string): Promise<MediaItem> {
  const item = await getMedia(lib, ref);
  if (!item) throw new NotFoundError(`no media ${typeof ref === 'string' && !/^\d+$/.test(ref) ? JSON.stringify(ref) : ref}`);
  return item;
}

export type ListOptions = { kind?: MetadataKind | 'none'; q?: string; limit?: number; offset?: number };

export async function listMedia(lib: Library, opts: ListOptions = {}): Promise<{ items: MediaItem[]; total: number }> {
  if (opts.kind !== undefined && opts.kind !== 'none' && !METADATA_KINDS.includes(opts.kind)) {
    throw new InputError('bad_kind', `kind must be one of ${METADATA_KINDS.join(', ')}, none`);
  }
  const limit = Math.min(Math.max(opts.limit ?? 100, 1), 1000);
  const offset = Math.max(opts.offset ?? 0, 0);
  let q = baseQuery(lib.db.kysely);
  if (opts.kind === 'song') q = q.where('songs.id', 'is not', null);
  else if (opts.kind === 'announcement') q = q.where('announcements.id', 'is not', null);
  else if (opts.kind === 'background') q = q.where('backgrounds.id', 'is not', null);
  else if (opts.kind === 'none') q = q.where('songs.id', 'is', null).where('announcements.id', 'is', null).where('backgrounds.id', 'is', null);
  if (opts.q !== undefined) checkTextField('q', opts.q);
  if (opts.q !== undefined && opts.q.trim() !== '') {
    const pattern = `%${opts.q.trim().toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where((eb) =>
      eb.or(
        ['songs.title', 'songs.artist', 'songs.album', 'announcements.title', 'backgrounds.title', 'media.file_name'].map(
          (col) => sql<boolean>`lower(${sql.ref(col)}) like ${pattern} escape '\\'`,
        ),
      ),
    );
  }
  const total = await q.clearSelect().select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const rows = await q.orderBy('media.id', 'desc').limit(limit).offset(offset).execute();
  return { items: rows.map((r) => toItem(lib, r)), total: Number(total.n) };
}

export type MetadataPatch = { kind?: MetadataKind; title?: string; artist?: string | null; album?: string | null };

/** Changes the metadata pointing at a media record (creating it, or moving it to another kind). */
export async function updateMetadata(lib: Library, id: number, patch: MetadataPatch): Promise<MediaItem> {
  const current = await requireMedia(lib, id);
  const kind = patch.kind ?? current.kind;
  if (kind === null) throw new InputError('kind_required', 'this media has no metadata yet: give a kind (song, announcement, background)');
  if (!METADATA_KINDS.includes(kind)) throw new InputError('bad_kind', `kind must be one of ${METADATA_KINDS.join(', ')}`);
  const title = (patch.title ?? current.title ?? '').trim();
  if (title === '') throw new InputError('title_required', `a ${kind} needs a title`);
  checkTextField('title', title);
  checkTextField('artist', patch.artist);
  checkTextField('album', patch.album);
  if (kind !== 'song' && (patch.artist != null || patch.album != null)) throw new InputError('bad_field', `a ${kind} has no artist or album`);
  await lib.db.kysely.transaction().execute(async (trx) => {
    if (kind !== current.kind) {
      for (const t of Object.values(KIND_TABLE)) await trx.deleteFrom(t).where('media_id', '=', id).execute();
      if (kind === 'song') await trx.insertInto('songs').values({ media_id: id, title, artist: patch.artist ?? null, album: patch.album ?? null }).execute();
      else await trx.insertInto(KIND_TABLE[kind]).values({ media_id: id, title }).execute();
    } else if (kind === 'song') {
      await trx
        .updateTable('songs')
        .set({ title, ...(patch.artist !== undefined ? { artist: patch.artist } : {}), ...(patch.album !== undefined ? { album: patch.album } : {}) })
        .where('media_id', '=', id)
        .execute();
    } else {
      await trx.updateTable(KIND_TABLE[kind]).set({ title }).where('media_id', '=', id).execute();
    }
  });
  return requireMedia(lib, id);
}

/**
 * Deletes a media record and its file. Refused (409) while metadata points at it, unless forced,
 * in which case the metadata goes too (the refusal's message says how to force it where the caller
 * is: the API's ?force=1, the CLI's --force). The row goes first: a file without a row is an orphan that
 * `check --fix` can collect, while a row without a file would be served as a broken link.
 */
export async function deleteMedia(lib: Library, ref: number | string, opts: { force?: boolean } = {}): Promise<MediaItem> {
  const item = await requireMedia(lib, ref);
  await lib.db.kysely.transaction().execute(async (trx) => {
    let refs = 0;
    for (const t of Object.values(KIND_TABLE)) {
      const r = await trx.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).where('media_id', '=', item.id).executeTakeFirstOrThrow();
      refs += Number(r.n);
    }
    if (refs > 0 && !opts.force) {
      throw new ConflictError('media_in_use', `media ${item.id} (${item.fileName}) is used by ${refs} ${item.kind ?? 'item'} record(s)`);
    }
    for (const t of Object.values(KIND_TABLE)) await trx.deleteFrom(t).where('media_id', '=', item.id).execute();
    await trx.deleteFrom('media').where('id', '=', item.id).execute();
  });
  await lib.storage.remove(item.fileName);
  return item;
}
