// The ingest pipeline: stream bytes into a temp file (size + SHA-256 in the same pass), check the
// content against the declared type, publish under a fresh key without overwriting, insert the record.
// If any step fails, no file, temp file or row is left behind.
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileTypeFromFile } from 'file-type';
import { parseFile } from 'music-metadata';
import { imageSizeFromFile } from 'image-size/fromFile';
import { InputError, MediaCdnError, StorageFullError, EXIT, isOutOfSpace } from '../errors.ts';
import { KIND_TABLE } from '../db/schema.ts';
import { canonicalType, extensionFor, extensionMatches, mediaClass, sniffedMatches, typeForExtension, typeForSniffed, ALLOWED_TYPES } from './media-types.ts';
import type { Library, MediaItem, Metadata } from './library.ts';
import { getMedia } from './catalog.ts';
import { checkTextField } from './text.ts';

export type IngestInput = {
  source: Readable;
  /** MIME type the user declared; when absent it comes from the original name's extension, then from the bytes. */
  declaredType?: string;
  /** Extension to store under; must match the type. Derived from the type when absent. */
  ext?: string;
  /** Natural name of the upload, used only to guess the type; never stored. */
  originalName?: string;
  metadata?: Metadata;
  maxBytes?: number;
  onProgress?: (bytes: number) => void;
};

/** How many fresh keys to try when names collide before giving up (a sign of a broken key source). */
const MAX_KEY_ATTEMPTS = 8;

export async function ingest(lib: Library, input: IngestInput): Promise<MediaItem> {
  try {
    return await store(lib, input);
  } catch (err) {
    if (isOutOfSpace(err)) throw new StorageFullError(`no space left to store the file (${(err as Error).message})`, err);
    throw err;
  }
}

async function store(lib: Library, input: IngestInput): Promise<MediaItem> {
  const declared = resolveDeclaredType(input);
  if (input.metadata) validateMetadata(input.metadata);
  const pending = await lib.storage.beginWrite();
  let published: string | undefined;
  try {
    const hash = createHash('sha256');
    let size = 0;
    const max = input.maxBytes ?? Number.POSITIVE_INFINITY;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > max) {
          cb(new InputError('too_large', `file exceeds the upload limit of ${max} bytes`, { status: 413 }));
          return;
        }
        hash.update(chunk);
        input.onProgress?.(size);
        cb(null, chunk);
      },
    });
    await pipeline(input.source, meter, pending.stream);
    if (size === 0) throw new InputError('empty_file', 'file is empty', { exitCode: EXIT.rejected });

    const sniffed = (await fileTypeFromFile(pending.tempPath))?.mime;
    const type = decideType(declared, sniffed);
    const ext = decideExtension(type, input.ext);
    const facts = await readFacts(pending.tempPath, type);

    for (let attempt = 0; ; attempt++) {
      if (attempt >= MAX_KEY_ATTEMPTS) throw new MediaCdnError('key_exhausted', `no free file name after ${MAX_KEY_ATTEMPTS} attempts`);
      const name = `${lib.keySource()}.${ext}`;
      if ((await pending.commit(name)) === 'ok') {
        published = name;
        break;
      }
    }
    const fileName = published;
    const id = await lib.db.kysely.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('media')
        .values({
          file_name: fileName,
          content_type: type,
          byte_size: size,
          sha256: hash.digest('hex'),
          created_at: lib.now().toISOString(),
          duration_ms: facts.durationMs,
          width: facts.width,
          height: facts.height,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (input.metadata) await insertMetadata(trx, row.id, input.metadata);
      return row.id;
    });
    const item = await getMedia(lib, id);
    if (!item) throw new MediaCdnError('ingest_lost', `media ${id} vanished right after insert`);
    return item;
  } catch (err) {
    await pending.abort().catch(() => {});
    if (published !== undefined) await lib.storage.remove(published).catch(() => {});
    throw err;
  }
}

function resolveDeclaredType(input: IngestInput): string | undefined {
  if (input.declaredType !== undefined && input.declaredType !== '' && input.declaredType !== 'application/octet-stream') {
    const t = canonicalType(input.declaredType);
    if (!t) throw new InputError('unsupported_type', `type ${input.declaredType} is not accepted (accepted: ${ALLOWED_TYPES.join(', ')})`, { status: 415, exitCode: EXIT.rejected });
    return t;
  }
  const ext = input.ext ?? input.originalName?.match(/\.([A-Za-z0-9]+)$/)?.[1];
  if (ext !== undefined) {
    const t = typeForExtension(ext);
    if (!t) throw new InputError('unsupported_type', `extension .${ext} is not an accepted media type; pass a type explicitly`, { status: 415, exitCode: EXIT.rejected });
    return t;
  }
  return undefined;
}

function decideType(declared: string | undefined, sniffed: string | undefined): string {
  if (declared === undefined) {
    const t = sniffed !== undefined ? typeForSniffed(sniffed) : undefined;
    if (!t) throw new InputError('unsupported_type', sniffed ? `content is ${sniffed}, which is not accepted` : 'content is not a recognised media type', { status: 415, exitCode: EXIT.rejected });
    return t;
  }
  if (sniffed === undefined || !sniffedMatches(declared, sniffed)) {
    throw new InputError('type_mismatch', `content does not match type ${declared}${sniffed ? ` (it looks like ${sniffed})` : ' (unrecognised bytes)'}`, { status: 415, exitCode: EXIT.rejected });
  }
  return declared;
}

function decideExtension(type: string, ext: string | undefined): string {
  if (ext === undefined) return extensionFor(type);
  const e = ext.replace(/^\./, '').toLowerCase();
  if (!/^[a-z0-9]{2,5}$/.test(e) || !extensionMatches(type, e)) {
    throw new InputError('bad_extension', `extension .${e} does not fit type ${type} (use .${extensionFor(type)})`, { exitCode: EXIT.rejected });
  }
  return extensionFor(type);
}

const MAX_INT32 = 2 ** 31 - 1;

type Facts = { durationMs: number | null; width: number | null; height: number | null };

async function readFacts(file: string, type: string): Promise<Facts> {
  const cls = mediaClass(type);
  const facts: Facts = { durationMs: null, width: null, height: null };
  try {
    if (cls === 'audio' || cls === 'video') {
      const meta = await parseFile(file, { duration: false, skipCovers: true });
      const ms = meta.format.duration !== undefined ? Math.round(meta.format.duration * 1000) : undefined;
      // A header can claim anything; a duration that does not fit the column is treated as unknown.
      if (ms !== undefined && Number.isFinite(ms) && ms >= 0 && ms <= MAX_INT32) facts.durationMs = ms;
    } else if (cls === 'image') {
      const dim = await imageSizeFromFile(file);
      if (dim.width > 0 && dim.width <= MAX_INT32 && dim.height > 0 && dim.height <= MAX_INT32) {
        facts.width = dim.width;
        facts.height = dim.height;
      }
    }
  } catch {
    // Facts are best effort: the type check already passed on magic numbers.
  }
  return facts;
}

export function validateMetadata(m: Metadata): void {
  if (!(m.kind in KIND_TABLE)) throw new InputError('bad_kind', `kind must be one of ${Object.keys(KIND_TABLE).join(', ')}`);
  if (typeof m.title !== 'string' || m.title.trim() === '') throw new InputError('title_required', `a ${m.kind} needs a title`);
  checkTextField('title', m.title);
  if (m.kind === 'song') {
    checkTextField('artist', m.artist);
    checkTextField('album', m.album);
  }
}

export async function insertMetadata(trx: Library['db']['kysely'], mediaId: number, m: Metadata): Promise<void> {
  if (m.kind === 'song') {
    await trx.insertInto('songs').values({ media_id: mediaId, title: m.title.trim(), artist: m.artist ?? null, album: m.album ?? null }).execute();
  } else {
    await trx.insertInto(KIND_TABLE[m.kind]).values({ media_id: mediaId, title: m.title.trim() }).execute();
  }
}
