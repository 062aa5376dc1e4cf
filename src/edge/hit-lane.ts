// The hit lane: a keep-alive HTTP/1.1 GET on the plain listener for a fresh object in the memory tier
// (or, too large for it, in the disk tier alone) is answered as soon as its head is read
// (server/http1/serve.ts's DirectAnswer), with the bytes the request path writes for it (recv →
// admit → hotlink → sign → lookup → deliver, from a memoised plan) and the same statistics and
// access-log line, but without the request and response objects, the stage loop and the response's
// events: on a small hit those cost as much as the rest of our work.
//
// It takes only what those stages pass straight through: a zone without a rate limit, a
// concurrent-request limit, signed links or Referer rules; a client on no block list; an edge in step
// with its purge log; a stored 200 that is fresh for this request; a request shape whose plan was
// memoised by an earlier answer (plain GET, one byte range, If-None-Match of the stored ETag). An
// object too large for the memory tier (memoryObjectMaxBytes) is taken from the disk tier alone, its
// body always by sendfile (without the helper, none is taken). Anything else — a refusal, a control
// endpoint, a stale object, a disk-tier object the request path would copy into memory, a first
// answer to plan — returns false with nothing written, and the request takes the request path.
// (test/edge-hit-lane.test.ts sends the same generated requests to an edge with and without it.)
import type { RequestHead } from '../server/http1/head.ts';
import { HeadBytesCache, plainHead, RangeHeads, writeLaneAnswer } from '../server/http1/message.ts';
import type { HeadRoom } from '../server/http1/message.ts';
import type { AnswerHold, DirectAnswer } from '../server/http1/serve.ts';
import { COPY_REST_MAX, readFully, sendFileTail, sendHeadAndSlice, SENDFILE_MIN, type SendHeadAndFile } from '../server/sendfile.ts';
import type { Socket } from 'node:net';
import { requestKey } from './cache/cache-key.ts';
import { requestDirectives, reuseDecision } from './cache/freshness.ts';
import type { EntryMeta } from './cache/store.ts';
import type { Edge } from './stages/context.ts';
import { memoisedList, rangeFields, requestShape } from './stages/deliver.ts';
import { connectionClientIp, isControlTarget } from './stages/recv.ts';
import { corsHeaders } from './zone/cors.ts';
import { requestTarget, validZoneHost } from './zone/zone.ts';
import type { Zone } from './zone/zone.ts';

/**
 * The hit lane of an edge's request path. `stamp` is the listener's fields for every response;
 * `open` says whether requests may be served now (the purge-log gate).
 */
export function hitLane(edge: Edge, stamp: readonly string[], open: () => boolean, sendfile?: SendHeadAndFile): DirectAnswer {
  const heads = new HeadBytesCache();
  const ranges = new RangeHeads();
  return (head, socket, keepAliveSeconds, connection) => {
    if (!edge.memoisePlans || edge.connections !== undefined || !open()) return false;
    const h = head.headers;
    // Authorization needs the stored response's permission (lookup); absolute-form targets name their host.
    if (h.authorization !== undefined || head.url.charCodeAt(0) !== 0x2f) return false;
    let target: string;
    try {
      target = requestTarget(head.url);
    } catch {
      return false;
    }
    if (isControlTarget(target)) return false;
    const zoneHost = validZoneHost(h.host);
    if (zoneHost === undefined) return false;
    const zone = edge.zones.get(zoneHost);
    if (zone === undefined || zone.rateLimiter !== undefined || zone.signingKeys !== undefined || zone.referrers !== undefined) return false;
    const ip = connectionClientIp(socket, socket.remoteAddress, h['x-forwarded-for'], edge);
    if (edge.blocked(ip) || zone.blocked(ip)) return false;
    const hit = storedHit(edge, requestKey(zone, target).primary, h, sendfile !== undefined);
    if (hit === undefined) return false;
    const meta = hit.meta;
    const d = edge.views.of(meta, zone);
    const age = edge.views.ageOf(d, meta);
    if (reuseDecision(d.lifetime, age, d.policy, requestDirectives(h)).kind !== 'fresh') return false;
    const shape = requestShape(h, d, meta, 'GET', 'hit');
    if (shape === undefined) return false;
    const shared = memoisedList(d, corsHeaders(zone.cors, h.origin), shape.key);
    if (shared === undefined) return false;
    const segment = shape.segments[0] as { start: number; end: number } | undefined;
    const ageSeconds = Math.floor(age);
    // (A 206's range is part of its head; the shared list of a 200 or 304 says which those are.)
    const ranged = shape.status === 206 && segment !== undefined;
    const a = ranged ? segment.start : -1;
    const b = ranged ? segment.end : -1;
    const buffer = hit.buffer;
    const length = segment === undefined ? 0 : segment.end - segment.start + 1;
    const body = segment === undefined || buffer === undefined ? undefined : segment.start === 0 && segment.end + 1 === buffer.length ? buffer : buffer.subarray(segment.start, segment.end + 1);
    // (A disk-only hit has no bytes in memory: any body of it goes by sendfile.)
    const bySendfile = sendfile !== undefined && segment !== undefined && (buffer === undefined || length >= SENDFILE_MIN);
    // Listeners ask for a new range each time: a range sent with sendfile has its head written into a
    // template's bytes, which the next range rewrites (so copied when it has to wait in a queue).
    const templated = bySendfile && ranged;
    let text = templated ? ranges.get(shared, shared, stamp, a, b, meta.size, ageSeconds, keepAliveSeconds) : heads.get(shared, ageSeconds, a, b, keepAliveSeconds);
    if (text === undefined && !templated) {
      const tail = shape.status === 206 ? rangeFields(shape.segments, meta) : [];
      tail.push('age', String(ageSeconds));
      for (let i = 0; i < stamp.length; i++) tail.push(stamp[i]);
      const made = plainHead(shape.status, shared, tail, keepAliveSeconds);
      if (made !== undefined) text = heads.set(shared, ageSeconds, a, b, keepAliveSeconds, made);
    }
    if (text === undefined) return false;
    const done = accounting(edge, zone, head, target, ip, shape.status, length);
    if (buffer === undefined) {
      // Disk only: answered here when the tier's file can be sent (a 304 needs it verified too), else by the request path.
      const disk = edge.cache.disk!;
      if (bySendfile) {
        if (!sendFromDisk(edge, socket, text, meta, segment!.start, length, undefined, sendfile, done, connection)) return false;
      } else {
        if (disk.bodyFd(meta) === undefined) return false;
        writeLaneAnswer(socket, text, undefined, undefined, done);
      }
      disk.touch(meta.key);
      return true;
    }
    if (bySendfile && sendFromDisk(edge, socket, text, meta, segment!.start, length, buffer, sendfile, done, connection)) return true;
    writeLaneAnswer(socket, templated ? Buffer.from(text) : text, body, hit.room, done);
    return true;
  };
}

/**
 * A hit's head and `length` body bytes from `start` sent from the disk tier's file of the same stored
 * response (the kernel takes the pages from the page cache, which costs the edge less than copying
 * bytes into the socket), on a plain connection with nothing queued (else false, nothing written).
 * What the socket's buffer did not take follows in order: up to COPY_REST_MAX bytes written through
 * the stream, from the memory tier's bytes (`whole`, the object at the file's offsets) or read from
 * the file when the object is on disk only; more, sent on from the file as the buffer empties
 * (sendFileTail, its kicks from memory or the file), the connection held and the descriptor kept open
 * meanwhile. A file found shorter than its record ends the connection (its head promised more).
 */
function sendFromDisk(edge: Edge, socket: Socket, head: Buffer, meta: EntryMeta, start: number, length: number, whole: Buffer | undefined, sendfile: SendHeadAndFile, done: ((err?: Error | null) => void) | undefined, connection: AnswerHold): boolean {
  const disk = edge.cache.disk;
  const fd = disk?.bodyFd(meta);
  if (disk === undefined || fd === undefined) return false;
  const sent = sendHeadAndSlice(socket, sendfile, head, fd, start, length);
  if (sent === undefined) return false;
  const from = start + sent;
  const left = length - sent;
  if (left === 0) done?.();
  else if (left <= COPY_REST_MAX) {
    const rest = whole !== undefined ? whole.subarray(from, from + left) : readRest(fd, from, left);
    if (rest instanceof Error) {
      edge.cache.dropDamaged(meta);
      socket.destroy();
      done?.(rest);
    } else socket.write(rest, done);
  } else {
    const release = connection.hold();
    const close = disk.keepOpen(fd);
    sendFileTail(socket, sendfile, fd, from, start + length - 1, (how) => {
      close();
      if (how.kind === 'file') edge.cache.dropDamaged(meta);
      if (how.kind !== 'sent') socket.destroy();
      done?.(how.kind === 'sent' ? undefined : how.kind === 'socket' && how.error !== undefined ? how.error : new Error(how.kind === 'file' ? 'cached file ended short' : 'connection closed mid-body'));
      release();
    }, whole);
  }
  return true;
}

/** `length` bytes of `fd` from `position`, or an Error when the file cannot give them all. */
function readRest(fd: number, position: number, length: number): Buffer | Error {
  const bytes = Buffer.allocUnsafe(length);
  try {
    return readFully(fd, bytes, position) === length ? bytes : new Error('cached file ended short');
  } catch (err) {
    return err as Error;
  }
}

/**
 * The stored 200 for this request (its Vary variant): from the memory tier with its bytes; or, with
 * `fromDisk` (the sendfile helper is there), one only the disk tier holds when lookup would not copy
 * it into memory (larger than memoryObjectMaxBytes, or no memory tier), which the request path would
 * read through the process every time. Smaller disk hits go to the request path, which promotes them.
 */
function storedHit(edge: Edge, primary: string, headers: RequestHead['headers'], fromDisk: boolean): { meta: EntryMeta; buffer: Buffer | undefined; room: HeadRoom | undefined } | undefined {
  const cache = edge.cache;
  const sel = cache.select(primary, headers);
  if (sel === undefined) return undefined;
  const hit = cache.memory?.getSync(sel.key);
  if (hit !== undefined) return hit.body.kind === 'buffer' && hit.meta.status === 200 ? { meta: hit.meta, buffer: hit.body.buffer, room: hit.body.room } : undefined;
  if (!fromDisk || cache.disk === undefined || sel.status !== 200 || cache.promotes(sel.size)) return undefined;
  return { meta: sel, buffer: undefined, room: undefined };
}

/**
 * What recv's accounting reports when the response closes, called when the answer's last byte is out
 * (or could not be sent: then it was aborted).
 */
function accounting(edge: Edge, zone: Zone, head: RequestHead, target: string, ip: string, status: number, bytes: number): ((err?: Error | null) => void) | undefined {
  const { onOutcome, onStats } = edge;
  if (!onOutcome && !onStats) return undefined;
  const started = onOutcome ? edge.now() : 0;
  return (err) => {
    const aborted = err != null;
    onStats?.(zone.host, { kind: 'response', status, outcome: 'hit', bytes, aborted, protocol: 'http1' });
    onOutcome?.({
      zone: zone.host,
      outcome: 'hit',
      method: 'GET',
      target,
      status,
      aborted,
      bytes,
      clientIp: ip,
      time: started,
      ms: edge.now() - started,
      httpVersion: '1.1',
      referer: head.headers.referer,
      userAgent: head.headers['user-agent'],
    });
  };
}
