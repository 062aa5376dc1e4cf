// deliver: writes the answer. A stored or filling response is answered with the origin's Range and
// conditional semantics (planResponse); its plan is memoised per stored object and request shape
// (plain GET / HEAD, one byte range), so a hit from memory is prebuilt fields and one write. An
// upstream response is relayed as it is (apart from hop-by-hop fields, Via and X-Cache).
import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { planResponse } from '../../http/representation.ts';
import { writeHeadShared } from '../../server/http1/message.ts';
import { drained, readBuffers, readPooled, streamSlice } from '../../server/read-buffers.ts';
import type { BodySegment } from '../../http/representation.ts';
import { parseRange } from '../../http/range.ts';
import { releaseBody } from '../cache/store.ts';
import type { EntryMeta } from '../cache/store.ts';
import type { StoredView } from '../cache/stored-view.ts';
import { OUTCOMES, X_CACHE } from '../outcome.ts';
import type { Outcome } from '../outcome.ts';
import { VIA, appendList, discardBody } from '../upstream/upstream.ts';
import type { UpstreamResponse } from '../upstream/upstream.ts';
import { stampHeaders } from './context.ts';
import type { Edge, RelayAnswer, RequestContext, Stage, StoredAnswer } from './context.ts';
import { withExtra } from './synth.ts';

type Source = StoredAnswer['source'];

export const deliver: Stage<'done'> = (ctx, edge) => {
  const answer = ctx.answer!;
  return answer.kind === 'relay' ? relay(ctx, edge, answer) : deliverStored(ctx, edge, answer);
};

/** Chooses a stored (or filling) response as the answer: the hand-over to deliver. */
export function serveStored(ctx: RequestContext, meta: EntryMeta, source: Source, outcome: Outcome, age: number): 'deliver' {
  ctx.outcome = outcome;
  ctx.answer = { kind: 'stored', meta, source, age };
  return 'deliver';
}

function deliverStored(ctx: RequestContext, edge: Edge, a: StoredAnswer): 'done' | Promise<'done'> {
  const { res } = ctx;
  const meta = a.meta;
  const d = edge.views.of(meta, ctx.zone);
  const method = ctx.method === 'HEAD' ? 'HEAD' : 'GET';
  let status: number;
  let shared: readonly string[] | undefined;
  let fields: string[];
  let segments: readonly BodySegment[];
  if (meta.status !== 200) {
    // Other stored statuses (301, 404, 410 ...) are replayed as they are: no ranges, no 304.
    status = meta.status;
    fields = flatten(withExtra({ ...d.replay, 'content-length': String(meta.size), 'x-cache': X_CACHE[ctx.outcome], via: d.via }, ctx.extra));
    segments = method === 'HEAD' || meta.size === 0 || meta.status === 204 ? [] : [{ kind: 'bytes', start: 0, end: meta.size - 1 }];
  } else {
    const memo = edge.memoisePlans ? memoised(ctx, d, meta, method) : undefined;
    if (memo) ({ status, shared, fields, segments } = memo);
    else ({ status, fields, segments } = plan(ctx, d, meta, method));
  }
  fields.push('age', String(Math.floor(a.age)));
  const stamp = ctx.stamp;
  for (let i = 0; i < stamp.length; i++) fields.push(stamp[i]);
  // A memoised plan's own list goes to the plain listener as it is: its head lines are made once.
  if (shared === undefined) res.writeHead(status, fields);
  else writeHeadShared(res, status, shared, fields);
  const source = a.source;
  if (source.kind === 'buffer') {
    if (ctx.req.httpVersionMajor === 2 && bodyLength(segments) > H2_WHOLE_WRITE_MAX) return writePaced(ctx, segments, source.buffer).then(() => 'done');
    writeBuffer(ctx, segments, source.buffer);
    return 'done';
  }
  return writeStreamed(ctx, res, segments, source).finally(() => (source.kind === 'file' ? releaseBody(source) : undefined)).then(() => 'done');
}

/**
 * An answer's fields: `shared` (a memoised plan's list, never changed) and then `fields`, or `fields`
 * alone; Age and the request's stamp are added to `fields`.
 */
type Planned = { status: number; shared?: readonly string[]; fields: string[]; segments: readonly BodySegment[] };

/**
 * The planner's answer, as flat fields (everything but Age, which goes last). A 206's Content-Range
 * and Content-Length come last, after CORS, so that a memoised range plan is one list shared by every
 * range of the object and then these two.
 */
function plan(ctx: RequestContext, d: StoredView, meta: EntryMeta, method: 'GET' | 'HEAD'): Planned {
  const p = planResponse(method, ctx.headers, { ...d.rep, size: meta.size });
  const common = { 'x-cache': X_CACHE[ctx.outcome], via: d.via };
  const base = p.status === 200 || p.status === 206 ? d.base : p.status === 304 ? d.notModified : undefined;
  const fields = flatten(withExtra({ ...base, ...p.headers, ...common }, ctx.extra));
  return { status: p.status, fields: p.status === 206 ? rangeFieldsLast(fields) : fields, segments: p.body };
}

/** The list with its Content-Range and then its Content-Length moved to the end. */
function rangeFieldsLast(fields: string[]): string[] {
  const out: string[] = [];
  const last: string[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 'content-range') last.unshift(fields[i], fields[i + 1]);
    else if (fields[i] === 'content-length') last.push(fields[i], fields[i + 1]);
    else out.push(fields[i], fields[i + 1]);
  }
  return out.concat(last);
}

/**
 * The same answer from a plan memoised for the stored object: a plain GET / HEAD is the same fields
 * every time; a single byte range differs only in Content-Range and Content-Length; an If-None-Match
 * that is exactly the stored ETag (and no other precondition) is the same 304 every time. The zone's
 * CORS fields are part of the key (they come from the zone's short list of allowed origins, so the
 * plans of an object stay few). Undefined for other shapes (other preconditions, several ranges,
 * 416), which the planner answers each time.
 */
function memoised(ctx: RequestContext, d: StoredView, meta: EntryMeta, method: 'GET' | 'HEAD'): Planned | undefined {
  const shape = requestShape(ctx.headers, d, meta, method, ctx.outcome);
  if (shape === undefined) return undefined;
  const planned = fromMemo(ctx, d, meta, method, shape.key, shape.status, shape.segments);
  // From the memo: the list shared by every range of the object, then this range's two fields.
  if (shape.status === 206 && planned.shared !== undefined) planned.fields.push(...rangeFields(shape.segments, meta));
  return planned;
}

/** A memoised request shape: its memo key, its status and the bytes it sends. */
export type RequestShape = { key: string; status: 200 | 206 | 304; segments: readonly BodySegment[] };

/**
 * The memo shape of a request for a stored 200, or undefined for shapes the planner answers each
 * time (other preconditions, several ranges, 416).
 */
export function requestShape(h: RequestContext['headers'], d: StoredView, meta: EntryMeta, method: 'GET' | 'HEAD', outcome: Outcome): RequestShape | undefined {
  const inm = h['if-none-match'];
  // Preconditions other than If-None-Match make the answer depend on more than the method and one
  // byte range (tested by name: a loop over a list of them made an iterator per request).
  if (h['if-match'] !== undefined || h['if-modified-since'] !== undefined || h['if-unmodified-since'] !== undefined || h['if-range'] !== undefined) return undefined;
  const keys = SHAPE_KEYS[outcome];
  if (inm !== undefined) {
    // RFC 9110 §13.2.2: If-None-Match is evaluated before Range; a match is a 304 for GET and HEAD.
    if (d.rep.etag === undefined || inm !== d.rep.etag) return undefined;
    return { key: method === 'HEAD' ? keys.notModifiedHead : keys.notModifiedGet, status: 304, segments: NO_SEGMENTS };
  }
  const range = method === 'GET' ? h.range : undefined;
  if (range === undefined) {
    const segments = method === 'GET' && meta.size > 0 ? (d.whole ??= Object.freeze([Object.freeze({ kind: 'bytes' as const, start: 0, end: meta.size - 1 })])) : NO_SEGMENTS;
    return { key: method === 'HEAD' ? keys.head : keys.get, status: 200, segments };
  }
  const r = parseRange(range, meta.size);
  if (r.kind !== 'ranges' || r.ranges.length !== 1) return undefined;
  const { start, end } = r.ranges[0];
  return { key: keys.range, status: 206, segments: [{ kind: 'bytes', start, end }] };
}

/** A 206's own two fields, which follow the memoised list of its object. */
export function rangeFields(segments: readonly BodySegment[], meta: EntryMeta): string[] {
  const s = segments[0] as { start: number; end: number };
  return ['content-range', `bytes ${s.start}-${s.end}/${meta.size}`, 'content-length', String(s.end - s.start + 1)];
}

/** The memoised list of a shape for these CORS fields, if a request of that shape was planned before. */
export function memoisedList(d: StoredView, extra: Record<string, string> | undefined, key: string): readonly string[] | undefined {
  return d.plans.get(extra === undefined ? '' : extraKey(extra))?.get(key);
}

const NO_SEGMENTS: readonly BodySegment[] = Object.freeze([]);

/** The memo keys of each outcome's request shapes, made once (a key made per request is hashed per request). */
type ShapeKeys = { get: string; head: string; notModifiedGet: string; notModifiedHead: string; range: string };
const SHAPE_KEYS = Object.fromEntries(
  OUTCOMES.map((o) => [o, { get: `${o} GET`, head: `${o} HEAD`, notModifiedGet: `${o} GET 304`, notModifiedHead: `${o} HEAD 304`, range: `${o} range` }]),
) as Record<Outcome, ShapeKeys>;

/**
 * The memoised list under `shape` (shared, frozen; the caller adds to the empty `fields`), planned on
 * first use. A range plan is memoised without its last two fields (Content-Range, Content-Length),
 * which the caller adds per range. A first plan that does not have the expected status (or, for a
 * range, those two fields last) is returned as it is and not memoised.
 */
function fromMemo(ctx: RequestContext, d: StoredView, meta: EntryMeta, method: 'GET' | 'HEAD', shape: string, status: number, segments: readonly BodySegment[]): Planned {
  const extra = ctx.extra === undefined ? '' : extraKey(ctx.extra);
  let byShape = d.plans.get(extra);
  const shared = byShape?.get(shape);
  if (shared) return { status, shared, fields: [], segments };
  const p = plan(ctx, d, meta, method);
  if (p.status !== status) return p;
  const f = p.fields;
  const n = f.length;
  if (status === 206 && (f[n - 4] !== 'content-range' || f[n - 2] !== 'content-length')) return p;
  if (!byShape) d.plans.set(extra, (byShape = new Map()));
  byShape.set(shape, Object.freeze(status === 206 ? f.slice(0, n - 4) : f.slice()));
  return p;
}

/** The CORS fields' part of a memo key, kept per fields object (a zone's are made once per allowed origin). */
const EXTRA_KEYS = new WeakMap<Record<string, string>, string>();

function extraKey(extra: Record<string, string>): string {
  let key = EXTRA_KEYS.get(extra);
  if (key === undefined) {
    key = '';
    for (const name in extra) key += `\n${name}: ${extra[name]}`;
    EXTRA_KEYS.set(extra, key);
  }
  return key;
}

function flatten(headers: Record<string, string | string[]>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (Array.isArray(v)) for (const x of v) out.push(k, x);
    else out.push(k, v);
  }
  return out;
}

function writeBuffer(ctx: RequestContext, segments: readonly BodySegment[], buf: Buffer): void {
  const { res } = ctx;
  if (segments.length === 1 && segments[0].kind === 'bytes') {
    const body = buf.subarray(segments[0].start, segments[0].end + 1);
    ctx.bytes += body.length;
    res.end(body);
    return;
  }
  for (const s of segments) {
    const chunk = s.kind === 'text' ? Buffer.from(s.text) : buf.subarray(s.start, s.end + 1);
    ctx.bytes += chunk.length;
    res.write(chunk);
  }
  res.end();
}

/**
 * Over HTTP/2 a body handed over in one write waits in the connection until the client's flow control
 * lets it out, and Node counts it against the session's memory: a 26 MiB hit written at once to a
 * player that reads only what it buffers made Node refuse every later stream on that connection (the
 * player's seek failed with a protocol error). Bodies above this size go out in pieces, one at a time.
 */
const H2_WHOLE_WRITE_MAX = 64 * 1024;
const H2_PIECE = 64 * 1024;

function bodyLength(segments: readonly BodySegment[]): number {
  let n = 0;
  for (const s of segments) n += s.kind === 'text' ? s.text.length : s.end - s.start + 1;
  return n;
}

/** Writes plan segments from memory in pieces, waiting for 'drain' whenever the stream asks to. */
async function writePaced(ctx: RequestContext, segments: readonly BodySegment[], buf: Buffer): Promise<void> {
  const { res } = ctx;
  for (const s of segments) {
    const chunk = s.kind === 'text' ? Buffer.from(s.text) : buf.subarray(s.start, s.end + 1);
    for (let at = 0; at < chunk.length; at += H2_PIECE) {
      if (res.destroyed) return;
      const piece = chunk.subarray(at, at + H2_PIECE);
      ctx.bytes += piece.length;
      if (!res.write(piece) && !(await drained(res))) return;
    }
  }
  res.end();
}

/**
 * File ranges up to this size are read in one piece; longer ones are streamed in reads of the chunk
 * size. Over HTTP/2 both stay at the pieces written from memory (H2_PIECE): what one stream hands the
 * session waits there for the client's flow control and counts against the session's memory.
 */
const FILE_READ_WHOLE_MAX = { http1: 1024 * 1024, h2: H2_PIECE };
const FILE_STREAM_CHUNK = { http1: 256 * 1024, h2: H2_PIECE };

/** Writes plan segments from a file or a filling body; closes nothing it does not own. */
async function writeStreamed(ctx: RequestContext, res: ServerResponse, segments: readonly BodySegment[], source: Exclude<Source, { kind: 'buffer' }>): Promise<void> {
  for (const s of segments) {
    if (s.kind === 'text') {
      const chunk = Buffer.from(s.text);
      ctx.bytes += chunk.length;
      res.write(chunk);
      continue;
    }
    if (source.kind === 'file') {
      // Read into pooled buffers (server/read-buffers.ts): a player's range (typically 256 KiB) is one
      // read and one write, a longer one pooled pieces, each given back once the socket (HTTP/1.x) or
      // the session (HTTP/2) took it. The last range of an HTTP/1.x answer ends it in the same write.
      const length = s.end - s.start + 1;
      const protocol = ctx.req.httpVersionMajor === 2 ? 'h2' : 'http1';
      const whole = length <= FILE_READ_WHOLE_MAX[protocol];
      if (whole && protocol === 'http1' && s === segments[segments.length - 1]) return endWithRead(ctx, res, source.handle, s.start, length);
      let more: boolean;
      try {
        more = await streamSlice(res, source.handle, s.start, s.end, readBuffers, whole ? length : FILE_STREAM_CHUNK[protocol], (n) => (ctx.bytes += n));
      } catch (err) {
        res.destroy(err instanceof Error ? err : undefined);
        return;
      }
      if (!more) return;
      continue;
    }
    const stream: Readable = source.body.reader(s.start, s.end);
    stream.on('data', (chunk: Buffer) => (ctx.bytes += chunk.length));
    try {
      await pipeline(stream, res, { end: false });
    } catch (err) {
      stream.destroy();
      res.destroy(err instanceof Error ? err : undefined);
      return;
    }
  }
  res.end();
}

/** Ends an HTTP/1.x answer with one read into a pooled buffer, given back once the response finished. */
async function endWithRead(ctx: RequestContext, res: ServerResponse, handle: FileHandle, start: number, length: number): Promise<void> {
  let chunk: Buffer;
  let pooled: Buffer;
  try {
    ({ bytes: chunk, pooled } = await readPooled(handle, start, length, readBuffers));
  } catch (err) {
    res.destroy(err instanceof Error ? err : undefined);
    return;
  }
  if (res.destroyed) return readBuffers.give(pooled);
  ctx.bytes += length;
  res.once('finish', () => readBuffers.give(pooled));
  res.end(chunk);
}

/** Sends an upstream response on unchanged (apart from hop-by-hop fields, Via and X-Cache). */
async function relay(ctx: RequestContext, edge: Edge, a: RelayAnswer): Promise<'done'> {
  const { res } = ctx;
  const up: UpstreamResponse = a.response;
  const headers: Record<string, string | string[]> = { ...up.headers, via: appendList(up.headers['via'], VIA), 'x-cache': X_CACHE[ctx.outcome] };
  if (up.contentLength !== undefined) headers['content-length'] = String(up.contentLength);
  stampHeaders(ctx);
  res.writeHead(up.status, withExtra(headers, ctx.extra));
  if (ctx.method === 'HEAD' || up.status === 204 || up.status === 304) {
    discardBody(up.body);
    res.end();
    return 'done';
  }
  const onStats = edge.onStats;
  const host = ctx.zone.host;
  up.body.on('data', (chunk: Buffer) => {
    ctx.bytes += chunk.length;
    onStats?.(host, { kind: 'origin-bytes', bytes: chunk.length });
  });
  await pipeline(up.body, res).catch(() => {
    discardBody(up.body);
    res.destroy();
  });
  return 'done';
}
