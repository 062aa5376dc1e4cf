// What the origin keeps about each hot media file between requests: its record turned into a
// representation and ready-made header lists, the bytes of small files, and an open file handle
// for the rest (like nginx's open_file_cache). Bounded in entries and in bytes.
import { open, close, fstat, read, readv, readFile } from 'node:fs';
import type { Logger } from 'pino';
import { getMedia } from '../media/catalog.ts';
import type { Library, MediaItem } from '../media/library.ts';
import { strongEtagFromHash } from '../http/etag.ts';
import { formatHttpDate } from '../http/http-date.ts';
import type { Representation } from '../http/representation.ts';
import { readBuffers } from '../server/read-buffers.ts';
import { HEAD_ROOM, HEAD_ROOM_MIN_BODY, withHeadRoom } from '../server/http1/message.ts';
import type { HeadRoom } from '../server/http1/message.ts';

export type CachedMedia = {
  readonly fileName: string;
  readonly id: number;
  readonly sha256: string;
  readonly path: string;
  readonly rep: Representation & { etag: string; lastModified: number };
  /** Flat header list of a full 200 (GET and HEAD), ready for res.writeHead. */
  readonly headers200: readonly string[];
  /** Flat header list of a 304. */
  readonly headers304: readonly string[];
  /**
   * Flat header list of a 206 with one range: a copy gets the Content-Range value at RANGE_AT and the
   * Content-Length value at RANGE_AT + 2.
   */
  readonly headers206: readonly string[];
  /** headers206 before its Content-Range and after its Content-Length, as shared lists (the media lane). */
  readonly headers206Head: readonly string[];
  readonly headers206Tail: readonly string[];
  /** The whole file, for files up to memoryCacheMaxFileBytes while the byte budget allows. */
  body: Buffer | undefined;
  /** Room for a response head in front of `body` (files larger than 16 KiB; the media lane). */
  room: HeadRoom | undefined;
  /** Read-only descriptor for positioned reads of files not held in memory. */
  fd: number | undefined;
  /**
   * Hot 64 KiB blocks of a file not held whole (by block index, oldest first), up to the block quota
   * per file and within the shared memory budget: players and edges ask for
   * the same slices of a popular long file again and again, and a positioned read costs a thread-pool
   * round trip that a memory copy does not. Each block has room for a response head in front of it,
   * so a slice that starts at a block's first byte leaves with its head in one buffer.
   */
  blocks: Map<number, Block>;
  /** Bytes of the blocks held, their rooms not counted (the budget counts those too). */
  blockBytes: number;
  /** Blocks being read, with who waits for each (the reader first). */
  reading: Map<number, Array<(err: Error | null, block?: Buffer) => void>>;
  /** Reads in progress on fd; the descriptor is closed only once this is 0 and the entry is gone. */
  refs: number;
  evicted: boolean;
  /** The record exists but its file does not (or has the wrong size): answered 404, logged once per check. */
  missing: boolean;
  checkedAt: number;
};

/** A hot block: its bytes, and the room in front of them (HeadRoom, which counts in the budget). */
export type Block = { readonly bytes: Buffer; readonly room: HeadRoom };

export type MediaCacheOptions = {
  lib: Library;
  logger: Logger;
  now: () => number;
  /** Headers after the validators and Cache-Control: of a 200, and of a 304 (no body, so no nosniff). */
  tail200: readonly string[];
  tail304: readonly string[];
  cacheControl: string;
  memoryCacheBytes: number;
  memoryCacheMaxFileBytes: number;
  maxEntries?: number;
  /**
   * How long a looked-up record (or its absence) is trusted. Media never change once stored, so the
   * only way a cached entry goes wrong is a deletion made by another process (`mediacdn rm`, another
   * worker's API call); this bounds how long such a file can still be served, while keeping the
   * database off the hot path (one lookup per hot file per period instead of one per request).
   * Deletions through this process's API are applied at once with forget(). The period counts from
   * the start of the lookup, so a record read before a deletion is never trusted past deletion + ttlMs:
   * whoever deletes may rely on every origin having stopped serving the file by then.
   */
  ttlMs: number;
};

export type MediaCache = {
  /** A fresh entry (null = no such record) when one is cached, else undefined: then call load(). */
  peek(name: string): CachedMedia | null | undefined;
  load(name: string): Promise<CachedMedia | null>;
  /** Drops what is cached about a file (after a delete, or an upload that reused a looked-up name). */
  forget(name: string): void;
  /**
   * Bytes [start, end] of an entry not held whole: through the hot-block cache for a slice of up to
   * BLOCKS_READ_MAX bytes, or of any length for a file within its block quota (half the memory
   * budget: a song every listener reads is answered from memory), as the block pieces to write one
   * after the other; else as one positioned read into a pooled buffer (a player's 256 KiB range of a
   * long file is one thread-pool round trip and does not push hot blocks out). With `done`, the buffer
   * is on loan: call done() once nothing reads it any more (the response finished).
   */
  readRange(entry: CachedMedia, start: number, end: number, cb: (err: Error | null, body?: Buffer | Buffer[], done?: () => void) => void): void;
  /**
   * Bytes start..end (at most ONE_READ_MAX of them) when memory holds every one: the whole file, or
   * the hot blocks readRange would answer them from. Undefined otherwise; never starts a read.
   */
  held(entry: CachedMedia, start: number, end: number): Buffer | Buffer[] | undefined;
  /**
   * The room for a response head in front of byte `start` of an entry, if memory keeps one there: the
   * whole file's from its first byte, a hot block's from the block's first byte.
   */
  roomAt(entry: CachedMedia, start: number): HeadRoom | undefined;
  /**
   * Keeps an entry's descriptor open, even once the entry is evicted or forgotten, until the returned
   * function is called (once is enough): a body the kernel sends from it as the socket empties.
   */
  keepOpen(entry: CachedMedia): () => void;
  /** readBytes: bytes read from files by positioned reads and block reads since the start. */
  stats(): { entries: number; memoryBytes: number; openFiles: number; readBytes: number };
  close(): void;
};

export const BLOCK_SIZE = 64 * 1024;
/** Where a copy of CachedMedia.headers206 takes its Content-Range value. */
export const RANGE_AT = 9;
/**
 * Segments up to this size are read in one positioned read on the cached descriptor (small ones
 * through the hot-block cache); larger ones stream from a descriptor of their own.
 */
export const ONE_READ_MAX = 1024 * 1024;
/** Slices up to this size go through the hot-block cache. */
export const BLOCKS_READ_MAX = 128 * 1024;

type Slot = { entry: CachedMedia | null; checkedAt: number };
/** A lookup in progress; forget() cancels it, so that what it read before a deletion is not kept. */
type Loading = { promise: Promise<CachedMedia | null>; cancelled: boolean };

export function createMediaCache(o: MediaCacheOptions): MediaCache {
  const ttl = o.ttlMs;
  const maxEntries = o.maxEntries ?? 1024;
  // Map iteration order is insertion order: re-inserting on use makes the first key the least recent.
  const slots = new Map<string, Slot>();
  const loading = new Map<string, Loading>();
  let memoryBytes = 0;
  let openFiles = 0;
  let readBytes = 0;
  // Hot blocks one file may hold: half the budget (at least what a file held whole may take). A file
  // up to this size is answered from its blocks for every slice up to ONE_READ_MAX; larger ones only
  // for slices up to BLOCKS_READ_MAX.
  // In block bytes: what fits in the budget with every block's room counted bounds it.
  const blocksInBudget = Math.floor(o.memoryCacheBytes / (BLOCK_SIZE + HEAD_ROOM)) * BLOCK_SIZE;
  const blockQuota = Math.min(blocksInBudget, Math.max(Math.min(o.memoryCacheMaxFileBytes, o.memoryCacheBytes), Math.floor(o.memoryCacheBytes / 2)));
  let closed = false;

  function release(entry: CachedMedia): void {
    if (entry.evicted && entry.refs === 0 && entry.fd !== undefined) {
      const fd = entry.fd;
      entry.fd = undefined;
      openFiles--;
      close(fd, () => {});
    }
  }

  function drop(name: string, slot: Slot): void {
    slots.delete(name);
    const e = slot.entry;
    if (!e) return;
    e.evicted = true;
    if (e.body) memoryBytes -= e.body.length + (e.room?.bytes ?? 0);
    e.body = undefined;
    e.room = undefined;
    memoryBytes -= e.blockBytes + e.blocks.size * HEAD_ROOM;
    e.blocks.clear();
    e.blockBytes = 0;
    release(e);
  }

  /** Evicts least recently used entries (never `keep`) until both bounds hold. */
  function enforceBounds(keep: string): void {
    for (const [k, s] of slots) {
      if (slots.size <= maxEntries && memoryBytes <= o.memoryCacheBytes) break;
      if (k === keep) continue;
      drop(k, s);
    }
  }

  function insert(name: string, slot: Slot): void {
    const old = slots.get(name);
    if (old && old.entry !== slot.entry) drop(name, old);
    slots.set(name, slot);
    if (slot.entry?.body) memoryBytes += slot.entry.body.length + (slot.entry.room?.bytes ?? 0);
    enforceBounds(name);
  }

  /**
   * Reads `len` bytes at `at` of an entry's open descriptor into `buf` (the descriptor stays open
   * meanwhile); a missing descriptor or a short read is an error.
   */
  function readAt(entry: CachedMedia, buf: Buffer, len: number, at: number, cb: (err: Error | null) => void): void {
    const fd = entry.fd;
    if (fd === undefined) return cb(new Error(`no open file for ${entry.fileName}`));
    entry.refs++;
    readBytes += len;
    read(fd, buf, 0, len, at, (err, n) => {
      entry.refs--;
      release(entry);
      if (err) cb(err);
      else if (n !== len) cb(new Error(`short read of ${entry.fileName}: ${n} of ${len} bytes at ${at}`));
      else cb(null);
    });
  }

  function positionedRead(entry: CachedMedia, start: number, len: number, cb: (err: Error | null, buf?: Buffer, done?: () => void) => void): void {
    const whole = readBuffers.take(len);
    readAt(entry, whole, len, start, (err) => {
      if (err) {
        readBuffers.give(whole);
        cb(err);
      } else {
        cb(null, whole.length === len ? whole : whole.subarray(0, len), () => readBuffers.give(whole));
      }
    });
  }

  /** Keeps a block: the quota counts block bytes (a file up to the quota keeps all of them), the budget their rooms too. */
  function keepBlock(entry: CachedMedia, index: number, block: Block): void {
    const size = block.bytes.length;
    if (entry.evicted || entry.blocks.has(index) || size > blockQuota) return;
    for (const [i, b] of entry.blocks) {
      // (A file's last block may be short: its room still counts in full.)
      if (entry.blockBytes + size <= blockQuota && entry.blockBytes + size + (entry.blocks.size + 1) * HEAD_ROOM <= o.memoryCacheBytes) break;
      entry.blocks.delete(i);
      entry.blockBytes -= b.bytes.length;
      memoryBytes -= b.bytes.length + HEAD_ROOM;
    }
    entry.blocks.set(index, block);
    entry.blockBytes += size;
    memoryBytes += size + HEAD_ROOM;
    enforceBounds(entry.fileName);
  }

  /**
   * A slice from hot blocks. The blocks it covers that are neither held nor being read are read in one
   * positioned read into a buffer of their own and kept as blocks (subarrays of it); a block another
   * request is reading is waited for, so a crowd of listeners starting at once reads each block once.
   * The slice is handed over as the list of its block pieces, to be written one after the other: no
   * copy on a hit. (A block kept from a read of several shares that read's buffer: for a file larger
   * than its block quota, whose oldest blocks make way for new ones, up to two neighbours stay
   * allocated with it — slices of such files come here only up to BLOCKS_READ_MAX.)
   */
  function readBlocks(entry: CachedMedia, start: number, end: number, cb: (err: Error | null, body?: Buffer | Buffer[]) => void): void {
    const first = Math.floor(start / BLOCK_SIZE);
    const last = Math.floor(end / BLOCK_SIZE);
    // Taken now: the entry may be evicted (its blocks dropped) while a read runs.
    const parts: Array<Buffer | undefined> = new Array(last - first + 1);
    let waiting = 0;
    let failed = false;
    const finish = () => cb(null, sliceBlocks(parts as Buffer[], start - first * BLOCK_SIZE, end - last * BLOCK_SIZE + 1));
    const arrive = (i: number) => (err: Error | null, block?: Buffer) => {
      if (failed) return;
      if (err) {
        failed = true;
        return cb(err);
      }
      parts[i - first] = block;
      if (--waiting === 0) finish();
    };
    // The blocks this request reads for everyone (from the first to the last of them, in one read).
    const own: number[] = [];
    for (let i = first; i <= last; i++) {
      const held = entry.blocks.get(i);
      if (held !== undefined) {
        parts[i - first] = held.bytes;
        continue;
      }
      waiting++;
      const inFlight = entry.reading.get(i);
      if (inFlight !== undefined) {
        inFlight.push(arrive(i));
        continue;
      }
      entry.reading.set(i, [arrive(i)]);
      own.push(i);
    }
    if (waiting === 0) return finish();
    if (own.length === 0) return;
    // A held or in-flight block between two of its own is read again and left to what holds it.
    const readFrom = own[0];
    const readTo = own[own.length - 1];
    const at = readFrom * BLOCK_SIZE;
    const len = Math.min((readTo + 1) * BLOCK_SIZE, entry.rep.size) - at;
    const read = blocksWithRoom(len);
    const deliver = (err: Error | null) => {
      for (const i of own) {
        const waiters = entry.reading.get(i) ?? [];
        entry.reading.delete(i);
        const block = err ? undefined : read[i - readFrom];
        if (block) keepBlock(entry, i, block);
        for (const w of waiters) w(err, block?.bytes);
      }
    };
    readvAt(entry, read.map((b) => b.bytes), len, at, deliver);
  }

  /** Like readAt, into several buffers one after the other (one read for one buffer). */
  function readvAt(entry: CachedMedia, bufs: Buffer[], len: number, at: number, cb: (err: Error | null) => void): void {
    if (bufs.length === 1) return readAt(entry, bufs[0], len, at, cb);
    const fd = entry.fd;
    if (fd === undefined) return cb(new Error(`no open file for ${entry.fileName}`));
    entry.refs++;
    readBytes += len;
    readv(fd, bufs, at, (err, n) => {
      entry.refs--;
      release(entry);
      if (err) cb(err);
      else if (n !== len) cb(new Error(`short read of ${entry.fileName}: ${n} of ${len} bytes at ${at}`));
      else cb(null);
    });
  }

  async function lookup(name: string, flight: Loading): Promise<CachedMedia | null> {
    // Taken before the query: the answer may predate a deletion committed while it ran.
    const now = o.now();
    const item = await getMedia(o.lib, name);
    // Forgotten meanwhile (deleted through this process): the record read may predate the deletion.
    if (flight.cancelled) return null;
    const prev = slots.get(name);
    // Same record as before (a re-check after the TTL): keep the bytes and the descriptor.
    if (item && prev?.entry && prev.entry.id === item.id && prev.entry.sha256 === item.sha256 && !prev.entry.missing) {
      prev.checkedAt = now;
      return prev.entry;
    }
    if (!item) {
      insert(name, { entry: null, checkedAt: now });
      return null;
    }
    const entry = buildEntry(item, now);
    await attachFile(entry, item);
    if (flight.cancelled) {
      entry.evicted = true;
      release(entry);
      return null;
    }
    if (closed) {
      entry.evicted = true;
      release(entry);
    } else {
      insert(name, { entry, checkedAt: now });
    }
    return entry;
  }

  function buildEntry(item: MediaItem, now: number): CachedMedia {
    const etag = mediaEtag(item.sha256);
    const lastModified = Date.parse(item.createdAt);
    const rep = { size: item.byteSize, contentType: item.contentType, etag, lastModified };
    const lm = formatHttpDate(lastModified);
    const validators = ['etag', etag, 'last-modified', lm, 'cache-control', o.cacheControl];
    // planResponse's order for a 206 (validators without Cache-Control, then the type and the range),
    // then the tail every 200/206 gets: Cache-Control and the rest of the 200's.
    const headers206 = ['accept-ranges', 'bytes', 'etag', etag, 'last-modified', lm, 'content-type', item.contentType, 'content-range', '', 'content-length', '', 'cache-control', o.cacheControl, ...o.tail200];
    return {
      fileName: item.fileName,
      id: item.id,
      sha256: item.sha256,
      path: o.lib.storage.localPath(item.fileName),
      rep,
      // The same fields, in the same order, as planResponse gives a 200 (see the origin tests).
      // Frozen: a response writes them as shared lists (server/http1 writeHeadShared), never changed.
      headers200: Object.freeze(['accept-ranges', 'bytes', 'content-type', item.contentType, 'content-length', String(item.byteSize), ...validators, ...o.tail200]),
      headers304: Object.freeze([...validators, ...o.tail304]),
      headers206,
      headers206Head: Object.freeze(headers206.slice(0, RANGE_AT - 1)),
      headers206Tail: Object.freeze(headers206.slice(RANGE_AT + 3)),
      body: undefined,
      room: undefined,
      blocks: new Map(),
      blockBytes: 0,
      reading: new Map(),
      fd: undefined,
      refs: 0,
      evicted: false,
      missing: false,
      checkedAt: now,
    };
  }

  async function attachFile(entry: CachedMedia, item: MediaItem): Promise<void> {
    const small = item.byteSize <= o.memoryCacheMaxFileBytes && item.byteSize <= o.memoryCacheBytes;
    try {
      if (small) {
        const buf = await new Promise<Buffer>((resolve, reject) => readFile(entry.path, (err, b) => (err ? reject(err) : resolve(b))));
        if (buf.length !== item.byteSize) return markMissing(entry, `file is ${buf.length} bytes, the record says ${item.byteSize}`);
        if (buf.length > HEAD_ROOM_MIN_BODY) {
          const roomy = withHeadRoom([buf], buf.length);
          entry.body = roomy.buffer;
          entry.room = roomy.room;
        } else entry.body = buf;
      } else {
        const fd = await new Promise<number>((resolve, reject) => open(entry.path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
        const size = await new Promise<number>((resolve, reject) => fstat(fd, (err, st) => (err ? reject(err) : resolve(st.size)))).catch((err) => {
          close(fd, () => {});
          throw err;
        });
        if (size !== item.byteSize) {
          close(fd, () => {});
          return markMissing(entry, `file is ${size} bytes, the record says ${item.byteSize}`);
        }
        entry.fd = fd;
        openFiles++;
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR') return markMissing(entry, 'file is missing');
      throw err;
    }
  }

  function markMissing(entry: CachedMedia, why: string): void {
    entry.missing = true;
    o.logger.error({ mediaId: entry.id, fileName: entry.fileName, path: entry.path }, `MEDIA FILE BROKEN: record ${entry.id} exists but its ${why}; answering 404 (run \`mediacdn check\`)`);
  }

  return {
    peek(name) {
      const slot = slots.get(name);
      if (slot === undefined || o.now() - slot.checkedAt >= ttl) return undefined;
      if (slots.size > 1) {
        slots.delete(name);
        slots.set(name, slot);
      }
      return slot.entry;
    },
    load(name) {
      const current = loading.get(name);
      if (current !== undefined) return current.promise;
      const flight: Loading = { promise: Promise.resolve(null), cancelled: false };
      flight.promise = lookup(name, flight).finally(() => {
        if (loading.get(name) === flight) loading.delete(name);
      });
      loading.set(name, flight);
      return flight.promise;
    },
    forget(name) {
      const flight = loading.get(name);
      if (flight !== undefined) {
        flight.cancelled = true;
        loading.delete(name);
      }
      const slot = slots.get(name);
      if (slot) drop(name, slot);
    },
    readRange(entry, start, end, cb) {
      const blocks = blockQuota >= BLOCK_SIZE && (end - start + 1 <= BLOCKS_READ_MAX || entry.rep.size <= blockQuota);
      if (blocks) readBlocks(entry, start, end, cb);
      else positionedRead(entry, start, end - start + 1, cb);
    },
    held(entry, start, end) {
      const body = entry.body;
      if (body !== undefined) return start === 0 && end === body.length - 1 ? body : body.subarray(start, end + 1);
      const length = end - start + 1;
      if (length > ONE_READ_MAX || entry.fd === undefined || blockQuota < BLOCK_SIZE || (length > BLOCKS_READ_MAX && entry.rep.size > blockQuota)) return undefined;
      const first = Math.floor(start / BLOCK_SIZE);
      const last = Math.floor(end / BLOCK_SIZE);
      const parts: Buffer[] = [];
      for (let i = first; i <= last; i++) {
        const block = entry.blocks.get(i);
        if (block === undefined) return undefined;
        parts.push(block.bytes);
      }
      return sliceBlocks(parts, start - first * BLOCK_SIZE, end - last * BLOCK_SIZE + 1);
    },
    roomAt(entry, start) {
      if (entry.body !== undefined) return start === 0 ? entry.room : undefined;
      return start % BLOCK_SIZE === 0 ? entry.blocks.get(start / BLOCK_SIZE)?.room : undefined;
    },
    keepOpen(entry) {
      entry.refs++;
      let open = true;
      return () => {
        if (!open) return;
        open = false;
        entry.refs--;
        release(entry);
      };
    },
    stats: () => ({ entries: slots.size, memoryBytes, openFiles, readBytes }),
    close() {
      closed = true;
      for (const [k, s] of slots) drop(k, s);
    },
  };
}

/**
 * The blocks of `len` bytes read at a block boundary, in one allocation: each block's bytes with
 * HEAD_ROOM bytes in front of them.
 */
function blocksWithRoom(len: number): Block[] {
  const count = Math.ceil(len / BLOCK_SIZE);
  const memory = Buffer.allocUnsafeSlow(count * HEAD_ROOM + len).buffer;
  const blocks: Block[] = [];
  for (let k = 0; k < count; k++) {
    const at = k * (HEAD_ROOM + BLOCK_SIZE) + HEAD_ROOM;
    blocks.push({ bytes: Buffer.from(memory, at, Math.min(BLOCK_SIZE, len - k * BLOCK_SIZE)), room: { memory, at, bytes: HEAD_ROOM, held: 0 } });
  }
  return blocks;
}

/** Consecutive blocks cut to a slice: from `off` in the first to `lastLength` bytes of the last. */
function sliceBlocks(parts: Buffer[], off: number, lastLength: number): Buffer | Buffer[] {
  if (parts.length === 1) return parts[0].subarray(off, lastLength);
  parts[0] = parts[0].subarray(off);
  parts[parts.length - 1] = parts[parts.length - 1].subarray(0, lastLength);
  return parts;
}

/**
 * The strong ETag of a stored file: the first 128 bits of its SHA-256, base64url. An entity tag only
 * has to tell representations of one URL apart, and a stored file never changes; the short form
 * keeps every revalidation (If-None-Match in, ETag out) about 90 bytes smaller than the hex digest.
 */
export function mediaEtag(sha256Hex: string): string {
  return strongEtagFromHash(Buffer.from(sha256Hex.slice(0, 32), 'hex').toString('base64url'));
}
