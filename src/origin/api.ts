// The admin API under /api/: list, upload, read, edit and delete media. Bearer token required;
// JSON in and out; every failure is `{code, message}` (see respond.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import { bearerMatches } from '../config/token.ts';
import { ConflictError, InputError } from '../errors.ts';
import { deleteMedia, listMedia, requireMedia, updateMetadata } from '../media/catalog.ts';
import { isLibraryFileName } from '../media/keys.ts';
import type { Library, MediaItem } from '../media/library.ts';
import { METADATA_KINDS, type MetadataKind } from '../db/schema.ts';
import { HttpError, sendError, sendJson } from './respond.ts';
import { receiveUpload, tooLarge } from './upload.ts';

export const API_PREFIX = '/api/';

/** Ends the message of a DELETE refused because metadata points at the media: how to force it here. */
export const API_FORCE_HINT = '; repeat with ?force=1 to delete them too';
const MAX_JSON_BYTES = 64 * 1024;

export type ApiOptions = {
  lib: Library;
  token: string;
  logger: Logger;
  maxUploadBytes: number;
  onUploaded?: (item: MediaItem) => void;
  onDeleted?: (item: MediaItem) => void;
  /** GET /api/purges?after=N: the purge log after an edge's position (see db/purge-log.ts). */
  purgeLog?: (after: number) => Promise<unknown>;
  /** More read-only admin endpoints: GET /api/<name> answers the JSON the function returns. */
  adminJson?: Readonly<Record<string, () => Promise<unknown>>>;
};

const patchSchema = z
  .object({
    kind: z.enum(METADATA_KINDS).optional(),
    title: z.string().max(500).optional(),
    artist: z.string().max(500).nullable().optional(),
    album: z.string().max(500).nullable().optional(),
  })
  .strict();

function allowOnly(method: string, allowed: string[]): void {
  if (!allowed.includes(method)) {
    throw new HttpError(405, 'method_not_allowed', `${method} is not allowed here (allowed: ${allowed.join(', ')})`, { allow: allowed.join(', ') });
  }
}

function parseRef(raw: string): number | string {
  if (/^[1-9][0-9]{0,14}$/.test(raw)) return Number(raw);
  if (isLibraryFileName(raw)) return raw;
  throw new InputError('bad_id', `${JSON.stringify(raw.slice(0, 40))} is not a media id or file name`);
}

function onlyParams(q: URLSearchParams, known: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of q) {
    if (!known.includes(k)) throw new InputError('unknown_field', `unknown parameter ${JSON.stringify(k)} (known: ${known.join(', ') || 'none'})`);
    if (Object.hasOwn(out, k)) throw new InputError('duplicate_field', `parameter ${k} given twice`);
    out[k] = v;
  }
  return out;
}

function intParam(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) throw new InputError('bad_parameter', `${name} must be a whole number from ${min} to ${max}`);
  return Number(v);
}

function boolParam(name: string, v: string | undefined): boolean {
  if (v === undefined || v === '0' || v === 'false') return false;
  if (v === '1' || v === 'true' || v === '') return true;
  throw new InputError('bad_parameter', `${name} must be 1 or 0`);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new HttpError(415, 'unsupported_media_type', 'send JSON with Content-Type: application/json');
  if (Number(req.headers['content-length'] ?? 0) > MAX_JSON_BYTES) throw tooLarge(MAX_JSON_BYTES);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BYTES) throw tooLarge(MAX_JSON_BYTES);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new InputError('bad_json', `malformed JSON: ${(err as Error).message}`);
  }
}

export function createApiHandler(o: ApiOptions): (req: IncomingMessage, res: ServerResponse) => void {
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Before anything else, so that an unauthenticated client learns nothing about routes.
    if (!bearerMatches(req.headers.authorization, o.token)) {
      throw new HttpError(401, 'unauthorized', 'a valid admin token is required (Authorization: Bearer <token>)', { 'www-authenticate': 'Bearer realm="mediacdn"' });
    }
    const url = new URL(req.url as string, 'http://origin.invalid');
    const method = req.method as string;
    const parts = url.pathname.slice(API_PREFIX.length).split('/');
    const extra = parts.length === 1 && parts[0] !== 'media' && o.adminJson && Object.hasOwn(o.adminJson, parts[0]) ? o.adminJson[parts[0]] : undefined;
    if (extra) {
      allowOnly(method, ['GET']);
      onlyParams(url.searchParams, []);
      return sendJson(res, 200, await extra());
    }
    if (parts.length === 1 && parts[0] === 'purges' && o.purgeLog) {
      allowOnly(method, ['GET']);
      const p = onlyParams(url.searchParams, ['after']);
      if (p.after === undefined || !/^(-1|0|[1-9][0-9]{0,14})$/.test(p.after)) throw new InputError('bad_parameter', 'after must be -1 or a whole number (the last sequence number applied)');
      return sendJson(res, 200, await o.purgeLog(Number(p.after)));
    }
    if (parts[0] !== 'media' || parts.length > 2) throw new HttpError(404, 'not_found', `no API route ${url.pathname}`);

    if (parts.length === 1) {
      allowOnly(method, ['GET', 'POST']);
      if (method === 'GET') {
        const p = onlyParams(url.searchParams, ['kind', 'q', 'limit', 'offset']);
        if (p.kind !== undefined && p.kind !== 'none' && !METADATA_KINDS.includes(p.kind as MetadataKind)) {
          throw new InputError('bad_kind', `kind must be one of ${METADATA_KINDS.join(', ')}, none`);
        }
        const r = await listMedia(o.lib, {
          kind: p.kind as MetadataKind | 'none' | undefined,
          q: p.q,
          limit: intParam('limit', p.limit, 1, 1000),
          offset: intParam('offset', p.offset, 0, 1e9),
        });
        return sendJson(res, 200, r);
      }
      const item = await receiveUpload(req, { lib: o.lib, maxBytes: o.maxUploadBytes, query: url.searchParams });
      o.logger.info({ mediaId: item.id, fileName: item.fileName, bytes: item.byteSize, type: item.contentType }, 'media uploaded');
      o.onUploaded?.(item);
      return sendJson(res, 201, item, { location: `/api/media/${item.id}` });
    }

    const ref = parseRef(parts[1]);
    allowOnly(method, ['GET', 'PATCH', 'DELETE']);
    if (method === 'GET') {
      onlyParams(url.searchParams, []);
      return sendJson(res, 200, await requireMedia(o.lib, ref));
    }
    if (method === 'PATCH') {
      onlyParams(url.searchParams, []);
      const parsed = patchSchema.safeParse(await readJson(req));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const at = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.') || '(body)';
        throw new InputError(issue.code === 'unrecognized_keys' ? 'unknown_field' : 'bad_field', `${at}: ${issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message}`);
      }
      const current = await requireMedia(o.lib, ref);
      return sendJson(res, 200, await updateMetadata(o.lib, current.id, parsed.data));
    }
    const p = onlyParams(url.searchParams, ['force']);
    const item = await deleteMedia(o.lib, ref, { force: boolParam('force', p.force) }).catch((err: unknown) => {
      if (err instanceof ConflictError && err.code === 'media_in_use') throw new ConflictError(err.code, `${err.message}${API_FORCE_HINT}`);
      throw err;
    });
    o.logger.info({ mediaId: item.id, fileName: item.fileName }, 'media deleted');
    o.onDeleted?.(item);
    return sendJson(res, 200, item);
  }

  return (req, res) => {
    route(req, res).catch((err) => {
      // A body we stopped reading (413, 415 mid-upload): answer, then close rather than parse the rest.
      if (!req.complete) {
        if (!res.headersSent) res.setHeader('connection', 'close');
        req.resume();
      }
      sendError(res, err, o.logger, { method: req.method, path: (req.url ?? '').split('?')[0] });
    });
  };
}
