// GET / HEAD / OPTIONS for /media/<key>.<ext>: only library-shaped names are looked up; Range and
// conditional requests are answered by the shared planner (src/http/representation.ts); bodies come
// from memory, from one positioned read, or stream from disk with backpressure.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { isLibraryFileName } from '../media/keys.ts';
import { planResponse, type BodySegment } from '../http/representation.ts';
import { HeadBytesCache, plainHead, RangeHeads, writeLaneAnswer, writeHeadShared } from '../server/http1/message.ts';
import type { AnswerHold, DirectAnswer } from '../server/http1/serve.ts';
import { readBuffers, streamSlice } from '../server/read-buffers.ts';
import { COPY_REST_MAX, readFully, sendFileTail, sendHeadAndSlice, SENDFILE_MIN, type SendHeadAndFile } from '../server/sendfile.ts';
import { ONE_READ_MAX, RANGE_AT } from './media-cache.ts';
import type { CachedMedia, MediaCache } from './media-cache.ts';

/** Nothing to add to a prebuilt field list. */
const NO_FIELDS: readonly string[] = Object.freeze([]);

export const MEDIA_PREFIX = '/media/';

/**
 * On every media response, whatever the request: a cache can never hold a copy without them, and
 * nothing varies by request, so no Vary is needed (Fetch standard, CORS protocol and HTTP caches).
 */
export const CORS_HEADERS: readonly string[] = [
  'access-control-allow-origin', '*',
  'access-control-expose-headers', 'Content-Range, Content-Length, Accept-Ranges, ETag',
];

const ALLOW = 'GET, HEAD, OPTIONS';
/** After Cache-Control on a 200/206; a 304 has no body to sniff, so it carries only the CORS part. */
export const MEDIA_TAIL_200: readonly string[] = ['x-content-type-options', 'nosniff', ...CORS_HEADERS];

/** Larger segments than ONE_READ_MAX stream from a descriptor of their own in pooled pieces of this size. */
const STREAM_CHUNK = 256 * 1024;
/** More ranges than this (after coalescing) are answered with the whole file: never amplified. */
const MAX_RANGES = 20;

export type MediaHandlerOptions = {
  cache: MediaCache;
  logger: Logger;
  cacheControl: string;
  notFoundMaxAge: number;
};

export type MediaHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function createMediaHandler(o: MediaHandlerOptions): MediaHandler {
  const { cache, logger } = o;
  const common = ['x-content-type-options', 'nosniff', ...CORS_HEADERS];
  const notFoundBody = Buffer.from('not found\n');
  const notFound = [
    'content-type', 'text/plain; charset=utf-8',
    'content-length', String(notFoundBody.length),
    'cache-control', `public, max-age=${o.notFoundMaxAge}`,
    ...common,
  ];
  const notAllowed = ['allow', ALLOW, 'content-length', '0', ...common];
  // Range is CORS-safelisted only for one simple range; several ranges or conditional headers from
  // script need this preflight. The answer is the same for every origin and every request.
  const preflight = [
    'access-control-allow-origin', '*',
    'access-control-allow-methods', ALLOW,
    'access-control-allow-headers', 'Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range',
    'access-control-max-age', '86400',
    'content-length', '0',
  ];
  const tailFor = (status: number): readonly string[] =>
    status === 200 || status === 206 ? ['cache-control', o.cacheControl, ...common] : status === 304 ? ['cache-control', o.cacheControl, ...CORS_HEADERS] : common;

  function sendNotFound(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(404, notFound);
    res.end(req.method === 'HEAD' ? undefined : notFoundBody);
  }

  function fail(res: ServerResponse, err: unknown, entry: CachedMedia): void {
    const e = err as NodeJS.ErrnoException;
    if (res.destroyed || e?.code === 'ERR_STREAM_PREMATURE_CLOSE') logger.debug({ fileName: entry.fileName }, 'client went away mid-body');
    else logger.error({ err, fileName: entry.fileName }, 'error while sending media body');
    if (e?.code === 'ENOENT') cache.forget(entry.fileName);
    if (!res.headersSent) {
      res.writeHead(500, ['content-length', '0', ...common]);
      res.end();
    } else {
      res.destroy();
    }
  }

  /** Whole file or one slice of it. */
  function sendBytes(res: ServerResponse, entry: CachedMedia, start: number, end: number): void {
    const body = entry.body;
    if (body !== undefined) {
      res.end(start === 0 && end === body.length - 1 ? body : body.subarray(start, end + 1));
    } else if (end - start + 1 <= ONE_READ_MAX && entry.fd !== undefined) {
      cache.readRange(entry, start, end, (err, body, done) => {
        if (err) return fail(res, err, entry);
        // The buffer goes back for reuse once the response finished; a response cut short keeps it.
        if (done) res.once('finish', done);
        if (!Array.isArray(body)) return void res.end(body);
        // Hot blocks, written in one tick: node:http corks the socket, so they leave in one writev.
        for (let i = 0; i < body.length - 1; i++) res.write(body[i]);
        res.end(body[body.length - 1]);
      });
    } else {
      // Its own descriptor (the cached one may close on eviction meanwhile), read in pooled pieces.
      void streamFile(res, entry, start, end);
    }
  }

  async function streamFile(res: ServerResponse, entry: CachedMedia, start: number, end: number): Promise<void> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(entry.path, 'r');
      if (await streamSlice(res, handle, start, end, readBuffers, STREAM_CHUNK)) res.end();
    } catch (err) {
      fail(res, err, entry);
    } finally {
      await handle?.close().catch(() => {});
    }
  }

  async function* multipartBody(entry: CachedMedia, segments: BodySegment[]): AsyncGenerator<Buffer> {
    for (const s of segments) {
      if (s.kind === 'text') yield Buffer.from(s.text, 'utf8');
      else if (entry.body !== undefined) yield entry.body.subarray(s.start, s.end + 1);
      else yield* createReadStream(entry.path, { start: s.start, end: s.end, highWaterMark: STREAM_CHUNK });
    }
  }

  function serve(req: IncomingMessage, res: ServerResponse, entry: CachedMedia | null): void {
    if (entry === null || entry.missing) return sendNotFound(req, res);
    const h = req.headers;
    const head = req.method === 'HEAD';
    // Fast paths for the two most common requests; they give exactly what planResponse would.
    if (h.range === undefined && h['if-none-match'] === undefined && h['if-modified-since'] === undefined &&
        h['if-match'] === undefined && h['if-unmodified-since'] === undefined) {
      writeHeadShared(res, 200, entry.headers200, NO_FIELDS);
      if (head || entry.rep.size === 0) res.end();
      else sendBytes(res, entry, 0, entry.rep.size - 1);
      return;
    }
    if (h['if-none-match'] === entry.rep.etag && h['if-match'] === undefined && h['if-unmodified-since'] === undefined) {
      writeHeadShared(res, 304, entry.headers304, NO_FIELDS);
      res.end();
      return;
    }
    // A player's range (a GET with one `bytes=a-b` or `bytes=a-` inside the file, nothing
    // conditional): the planner's answer from a prebuilt field list. Anything else, and HEAD (which
    // ignores Range), is the planner's to decide.
    if (!head && h['if-range'] === undefined && h['if-none-match'] === undefined && h['if-modified-since'] === undefined &&
        h['if-match'] === undefined && h['if-unmodified-since'] === undefined) {
      const size = entry.rep.size;
      const r = simpleRange(h.range, size);
      if (r !== undefined) {
        const fields = entry.headers206.slice();
        fields[RANGE_AT] = `bytes ${r.start}-${r.end}/${size}`;
        fields[RANGE_AT + 2] = String(r.end - r.start + 1);
        res.writeHead(206, fields);
        sendBytes(res, entry, r.start, r.end);
        return;
      }
    }
    const plan = planResponse(head ? 'HEAD' : 'GET', h, entry.rep, { maxRanges: MAX_RANGES });
    const flat: string[] = [];
    for (const k in plan.headers) flat.push(k, plan.headers[k]);
    res.writeHead(plan.status, flat.concat(tailFor(plan.status)));
    const body = plan.body;
    if (body.length === 0) res.end();
    else if (body.length === 1 && body[0].kind === 'bytes') sendBytes(res, entry, body[0].start, body[0].end);
    else pipeline(Readable.from(multipartBody(entry, body)), res).catch((err) => fail(res, err, entry));
  }

  return function handleMedia(req, res) {
    const url = req.url as string;
    const q = url.indexOf('?');
    // The raw target, never decoded: an encoded or dotted name cannot pass isLibraryFileName.
    const name = q === -1 ? url.slice(MEDIA_PREFIX.length) : url.slice(MEDIA_PREFIX.length, q);
    if (!isLibraryFileName(name)) return sendNotFound(req, res);
    const method = req.method;
    if (method === 'OPTIONS') {
      res.writeHead(204, preflight);
      res.end();
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, notAllowed);
      res.end();
      return;
    }
    const hit = cache.peek(name);
    if (hit !== undefined) return serve(req, res, hit);
    cache.load(name).then(
      (entry) => serve(req, res, entry),
      (err) => {
        logger.error({ err, fileName: name }, 'media lookup failed');
        if (!res.headersSent) {
          const status = typeof err?.status === 'number' && err.status >= 500 ? err.status : 503;
          res.writeHead(status, ['content-length', '0', 'retry-after', '5', ...common]);
          res.end();
        }
      },
    );
  };
}

/**
 * The media lane: a keep-alive HTTP/1.1 GET for a library file whose answer is one of the media
 * handler's fast paths (a plain 200, a 304 for the file's own ETag, one `bytes=a-b` range) is
 * answered as soon as server/http1 has read the head, with the bytes the handler writes for it (the
 * same shared field lists, through plainHead), but without request and response objects, when every
 * byte of it is at hand: in memory (the whole file, or its hot blocks), or, with the sendfile helper,
 * in the open file of one not held whole (a body of SENDFILE_MIN bytes or more, on a
 * plain connection with nothing queued; sendLarge). Anything else returns false with nothing written
 * and goes to the handler (origin-media-lane.test.ts compares both on generated requests).
 */
export function createMediaLane(cache: MediaCache, o: { sendfile?: SendHeadAndFile; counters?: LaneCounters; logger?: Logger } = {}): DirectAnswer {
  const heads = new HeadBytesCache();
  const ranges = new RangeHeads();
  const { sendfile } = o;
  const counters = o.counters ?? { sendfileAnswers: 0, sendfileBytes: 0, sendfileRest: 0, sendfileTails: 0 };
  return (head, socket, keepAliveSeconds, connection) => {
    const url = head.url;
    if (!url.startsWith(MEDIA_PREFIX)) return false;
    const q = url.indexOf('?');
    const name = q === -1 ? url.slice(MEDIA_PREFIX.length) : url.slice(MEDIA_PREFIX.length, q);
    if (!isLibraryFileName(name)) return false;
    const entry = cache.peek(name);
    const h = head.headers;
    if (!entry || entry.missing || h['if-match'] !== undefined || h['if-unmodified-since'] !== undefined) return false;
    const size = entry.rep.size;
    const inm = h['if-none-match'];
    let text: Buffer | undefined;
    let body: Buffer | Buffer[] | undefined;
    let start = 0;
    if (h.range === undefined && inm === undefined && h['if-modified-since'] === undefined) {
      text = heads.get(entry.headers200, 0, 0, 0, keepAliveSeconds) ?? madeHead(heads, 200, entry.headers200, NO_FIELDS, 0, 0, keepAliveSeconds);
      if (text !== undefined && sendfile !== undefined && bySendfile(entry, size) && sendLarge(cache, entry, socket, text, 0, size - 1, sendfile, counters, o.logger, connection)) return true;
      if (size > 0 && (body = cache.held(entry, 0, size - 1)) === undefined) return false;
    } else if (inm === entry.rep.etag) {
      text = heads.get(entry.headers304, 0, 0, 0, keepAliveSeconds) ?? madeHead(heads, 304, entry.headers304, NO_FIELDS, 0, 0, keepAliveSeconds);
    } else if (inm === undefined && h['if-range'] === undefined && h['if-modified-since'] === undefined) {
      const r = simpleRange(h.range, size);
      if (r === undefined) return false;
      const key = entry.headers206Head;
      const length = r.end - r.start + 1;
      if (sendfile !== undefined && bySendfile(entry, length)) {
        // Listeners ask for a new range each time: its head is written into a template's bytes.
        const rangeHead = ranges.get(key, key, entry.headers206Tail, r.start, r.end, size, -1, keepAliveSeconds);
        if (rangeHead !== undefined && sendLarge(cache, entry, socket, rangeHead, r.start, r.end, sendfile, counters, o.logger, connection)) return true;
      }
      if ((body = cache.held(entry, r.start, r.end)) === undefined) return false;
      start = r.start;
      text = heads.get(key, 0, r.start, r.end, keepAliveSeconds);
      if (text === undefined) {
        const tail = ['content-range', `bytes ${r.start}-${r.end}/${size}`, 'content-length', String(length), ...entry.headers206Tail];
        text = madeHead(heads, 206, key, tail, r.start, r.end, keepAliveSeconds);
      }
    } else return false;
    if (text === undefined) return false;
    if (!Array.isArray(body)) {
      writeLaneAnswer(socket, text, body, body === undefined ? undefined : cache.roomAt(entry, start), undefined);
      return true;
    }
    // Several blocks: a corked write of the head and the pieces. (The head in the first block's room
    // saves one piece of the writev, less than it costs to watch the room while a long body queues.)
    socket.cork();
    socket.write(text);
    for (const part of body) socket.write(part);
    socket.uncork();
    return true;
  };
}

/** Whether a body of `length` bytes of `entry` goes out with sendfile: a file not held whole, SENDFILE_MIN bytes or more. */
function bySendfile(entry: CachedMedia, length: number): boolean {
  return entry.body === undefined && entry.fd !== undefined && length >= SENDFILE_MIN;
}

/** What the media lane's sendfile answers did (RunningOrigin.sendfileStats). */
export type LaneCounters = {
  sendfileAnswers: number;
  /** Body bytes the kernel sent from files. */
  sendfileBytes: number;
  /** Answers whose rest the socket's buffer did not take, written through the stream after it. */
  sendfileRest: number;
  /** Of those, the ones whose rest was sent from the file as the socket's buffer emptied (sendFileTail). */
  sendfileTails: number;
};

/**
 * A head and bytes start..end of a file not held whole, by the sendfile helper, on a plain socket
 * with nothing queued (else false, nothing written). What the socket's buffer did not take follows
 * it: from the hot blocks if they hold it; a short rest (COPY_REST_MAX) read at once from the page
 * cache (the pages the kernel just sent from are read-ahead's) and written through the stream; a
 * longer one sent from the file as the buffer empties (sendFileTail), the connection held and the
 * descriptor kept open meanwhile. A file shorter than its record, or one that cannot be read, ends
 * the connection: the head promised a length it cannot have.
 */
function sendLarge(cache: MediaCache, entry: CachedMedia, socket: Socket, head: Buffer, start: number, end: number, sendfile: SendHeadAndFile, counters: LaneCounters, logger: Logger | undefined, connection: AnswerHold): boolean {
  const fd = entry.fd;
  if (fd === undefined) return false;
  const length = end - start + 1;
  const sent = sendHeadAndSlice(socket, sendfile, head, fd, start, length);
  if (sent === undefined) return false;
  counters.sendfileAnswers++;
  counters.sendfileBytes += sent;
  if (sent === length) return true;
  counters.sendfileRest++;
  const from = start + sent;
  const held = cache.held(entry, from, end);
  if (held !== undefined) {
    if (Array.isArray(held)) for (const part of held) socket.write(part);
    else socket.write(held);
    return true;
  }
  if (end - from + 1 > COPY_REST_MAX) {
    counters.sendfileTails++;
    const release = connection.hold();
    const close = cache.keepOpen(entry);
    sendFileTail(socket, sendfile, fd, from, end, (how, bytes) => {
      counters.sendfileBytes += bytes;
      close();
      if (how.kind === 'file') fileEnded(cache, entry, socket, end, logger, how.error);
      else if (how.kind === 'socket') socket.destroy();
      release();
    });
    return true;
  }
  const rest = Buffer.allocUnsafe(end - from + 1);
  let got: number;
  try {
    got = readFully(fd, rest, from);
  } catch (err) {
    fileEnded(cache, entry, socket, end, logger, err);
    return true;
  }
  if (got === rest.length) socket.write(rest);
  else fileEnded(cache, entry, socket, end, logger);
  return true;
}

/**
 * A body cut short because the file ended before byte `end` (or, with `err`, could not be read):
 * logged, the entry looked up again on the next request (a replaced file is opened anew), and the
 * connection closed, since the head promised more.
 */
function fileEnded(cache: MediaCache, entry: CachedMedia, socket: Socket, end: number, logger: Logger | undefined, err?: unknown): void {
  if (err !== undefined) logger?.error({ err, fileName: entry.fileName }, 'error while sending media body');
  else logger?.error({ mediaId: entry.id, fileName: entry.fileName, path: entry.path }, `MEDIA FILE BROKEN: record ${entry.id} exists but its file ends before byte ${end}; connection closed (run \`mediacdn check\`)`);
  cache.forget(entry.fileName);
  socket.destroy();
}

/** plainHead's head for a lane answer, kept in `heads` under `shared` (undefined: not a plain head). */
function madeHead(heads: HeadBytesCache, status: number, shared: readonly string[], tail: readonly string[], a: number, b: number, keepAliveSeconds: number): Buffer | undefined {
  const text = plainHead(status, shared, tail, keepAliveSeconds);
  return text === undefined ? undefined : heads.set(shared, 0, a, b, keepAliveSeconds, text);
}

/**
 * The one range of `bytes=a-b` or `bytes=a-` (digits only, a ≤ b, a inside the file), clamped to the
 * file as RFC 9110 §14.1.2 says; undefined for any other form, which the planner handles.
 */
export function simpleRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined || !header.startsWith('bytes=')) return undefined;
  const dash = header.indexOf('-', 6);
  if (dash <= 6 || dash > 21 || header.length - dash > 16) return undefined;
  let start = 0;
  for (let i = 6; i < dash; i++) {
    const c = header.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    start = start * 10 + c;
  }
  let end = size - 1;
  if (dash < header.length - 1) {
    let last = 0;
    for (let i = dash + 1; i < header.length; i++) {
      const c = header.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return undefined;
      last = last * 10 + c;
    }
    if (last < start) return undefined;
    if (last < end) end = last;
  }
  if (start >= size) return undefined;
  return { start, end };
}
