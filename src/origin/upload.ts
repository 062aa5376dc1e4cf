// POST /api/media: the request body streams straight into ingest(), either raw (type in Content-Type,
// metadata in the query) or as multipart/form-data (metadata fields first, then one `file` part).
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import busboy from 'busboy';
import { InputError } from '../errors.ts';
import { ingest } from '../media/ingest.ts';
import { deleteMedia } from '../media/catalog.ts';
import type { Library, MediaItem, Metadata } from '../media/library.ts';
import { METADATA_KINDS, type MetadataKind } from '../db/schema.ts';

/** Fields an upload may carry (query string, or multipart fields before the file). */
const UPLOAD_FIELDS = new Set(['kind', 'title', 'artist', 'album', 'ext', 'type', 'name']);
/** Room for the multipart framing and fields on top of the file itself. */
const MULTIPART_OVERHEAD = 64 * 1024;
/** Types a client sends when it does not know one: the type then comes from the name or the bytes. */
const UNDECLARED = new Set(['', 'application/octet-stream', 'text/plain', 'binary/octet-stream']);

export type UploadOptions = { lib: Library; maxBytes: number; query: URLSearchParams };

export function tooLarge(max: number): InputError {
  return new InputError('too_large', `file exceeds the upload limit of ${max} bytes`, { status: 413 });
}

export function collectFields(params: URLSearchParams, into: Record<string, string> = {}): Record<string, string> {
  for (const [k, v] of params) addField(into, k, v);
  return into;
}

function addField(into: Record<string, string>, k: string, v: string): void {
  if (!UPLOAD_FIELDS.has(k)) throw new InputError('unknown_field', `unknown field ${JSON.stringify(k)} (known: ${[...UPLOAD_FIELDS].join(', ')})`);
  if (Object.hasOwn(into, k)) throw new InputError('duplicate_field', `field ${k} given twice`);
  if (v.length > 1000) throw new InputError('field_too_long', `field ${k} is longer than 1000 characters`);
  into[k] = v;
}

/** Metadata from upload fields; the same rules as `mediacdn add`'s flags. */
export function metadataFromFields(f: Record<string, string>): Metadata | undefined {
  if (f.kind === undefined) {
    if (f.title !== undefined) throw new InputError('kind_required', 'title needs kind (song, announcement, background)');
    if (f.artist !== undefined || f.album !== undefined) throw new InputError('bad_field', 'artist and album go with kind=song');
    return undefined;
  }
  if (!METADATA_KINDS.includes(f.kind as MetadataKind)) throw new InputError('bad_kind', `kind must be one of ${METADATA_KINDS.join(', ')}`);
  const kind = f.kind as MetadataKind;
  const title = f.title ?? (f.name !== undefined ? f.name.replace(/\.[^.]+$/, '') : undefined);
  if (title === undefined) throw new InputError('title_required', `a ${kind} needs a title`);
  if (kind !== 'song' && (f.artist !== undefined || f.album !== undefined)) throw new InputError('bad_field', `a ${kind} has no artist or album`);
  return kind === 'song' ? { kind, title, artist: f.artist ?? null, album: f.album ?? null } : { kind, title };
}

function declared(type: string | undefined): string | undefined {
  if (type === undefined) return undefined;
  return UNDECLARED.has(type.split(';')[0].trim().toLowerCase()) ? undefined : type;
}

/**
 * Streams an upload into the library. The body is read through an intermediate stream, so that a
 * failed ingest (too large, wrong type) can stop reading without destroying the socket: the caller
 * can still answer 413/415 and drain or close the connection.
 */
export async function receiveUpload(req: IncomingMessage, o: UploadOptions): Promise<MediaItem> {
  const contentType = req.headers['content-type'] ?? '';
  const isMultipart = /^multipart\/form-data\s*;/i.test(contentType);
  const length = req.headers['content-length'];
  if (length !== undefined && Number(length) > o.maxBytes + (isMultipart ? MULTIPART_OVERHEAD : 0)) throw tooLarge(o.maxBytes);
  const fields = collectFields(o.query);
  if (!isMultipart) {
    const metadata = metadataFromFields(fields);
    const source = new PassThrough();
    // ingest() sees a destroyed source through its pipeline, even when it attaches after the abort
    // (it may still be opening its temp file); without a listener meanwhile, the error would be fatal.
    source.on('error', () => undefined);
    const stopOnAbort = () => {
      if (!req.complete) source.destroy(new InputError('upload_aborted', 'the client went away during the upload'));
    };
    req.once('close', stopOnAbort);
    req.pipe(source);
    try {
      return await ingest(o.lib, {
        source,
        declaredType: declared(fields.type ?? contentType),
        ext: fields.ext,
        originalName: fields.name,
        metadata,
        maxBytes: o.maxBytes,
      });
    } finally {
      req.unpipe(source);
      req.off('close', stopOnAbort);
    }
  }
  return receiveMultipart(req, o, fields);
}

/**
 * Multipart: fields first, then one `file` part that streams into ingest(). On any failure (a bad
 * field, a second file, a torn form, a client gone) the form stops being read, the file part in
 * flight is destroyed so that its ingest removes its temp file, a file already stored is deleted,
 * and only then does the promise reject: when the 4xx goes out, nothing of the upload is left.
 * Every file stream gets an error listener at once: busboy destroys the part in progress with an
 * error when the form is cut, and an unlistened 'error' would take the whole process down.
 */
function receiveMultipart(req: IncomingMessage, o: UploadOptions, fields: Record<string, string>): Promise<MediaItem> {
  return new Promise<MediaItem>((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        limits: { files: 1, fields: UPLOAD_FIELDS.size, parts: UPLOAD_FIELDS.size + 1, fieldSize: 4096, fileSize: o.maxBytes + 1 },
      });
    } catch (err) {
      reject(badMultipart(err));
      return;
    }
    let settled = false;
    let file: Readable | undefined;
    let ingesting: Promise<MediaItem> | undefined;
    const stopReading = () => {
      req.unpipe(bb);
      req.off('close', stopOnAbort);
    };
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      stopReading();
      file?.destroy(err instanceof Error ? err : new Error(String(err)));
      bb.destroy();
      const stored = ingesting ?? Promise.resolve(undefined);
      stored
        .then((item) => (item ? deleteMedia(o.lib, item.id, { force: true }) : undefined), () => undefined)
        .catch(() => undefined)
        .finally(() => reject(err));
    };
    const succeed = (item: MediaItem) => {
      if (settled) return;
      settled = true;
      stopReading();
      resolve(item);
    };
    const stopOnAbort = () => {
      if (!req.complete) fail(new InputError('upload_aborted', 'the client went away during the upload'));
    };
    bb.on('field', (name, value, info) => {
      if (settled) return;
      try {
        if (info.nameTruncated || info.valueTruncated) throw new InputError('field_too_long', `field ${name} is too long`);
        if (ingesting) throw new InputError('field_after_file', `field ${name} comes after the file: send metadata fields first`);
        addField(fields, name, value);
      } catch (err) {
        fail(err);
      }
    });
    bb.on('file', (name, stream: Readable, info) => {
      stream.on('error', () => undefined); // reported through ingest() or busboy's own 'error'
      if (settled || name !== 'file' || ingesting) {
        stream.resume();
        if (name !== 'file') fail(new InputError('unknown_field', `unknown file field ${JSON.stringify(name)} (use "file")`));
        else fail(new InputError('too_many_files', 'send one file per upload'));
        return;
      }
      try {
        const metadata = metadataFromFields(fields);
        file = stream;
        ingesting = ingest(o.lib, {
          source: stream,
          declaredType: declared(fields.type ?? info.mimeType),
          ext: fields.ext,
          originalName: fields.name ?? info.filename,
          metadata,
          maxBytes: o.maxBytes,
        });
      } catch (err) {
        stream.resume();
        fail(err);
        return;
      }
      ingesting.then(undefined, fail);
    });
    bb.on('filesLimit', () => fail(new InputError('too_many_files', 'send one file per upload')));
    bb.on('fieldsLimit', () => fail(new InputError('too_many_fields', 'too many fields')));
    bb.on('partsLimit', () => fail(new InputError('too_many_fields', 'too many parts')));
    bb.on('error', (err) => fail(err instanceof InputError ? err : badMultipart(err)));
    bb.on('close', () => {
      if (settled) return;
      if (!ingesting) return fail(new InputError('file_required', 'the form has no "file" part'));
      ingesting.then(succeed, fail);
    });
    req.once('close', stopOnAbort);
    req.pipe(bb);
  });
}

function badMultipart(err: unknown): InputError {
  return new InputError('bad_multipart', `malformed multipart request: ${(err as Error).message}`);
}
