// The interface every cache tier implements (memory, disk), and the entry metadata they keep.
// Slicing choice: tiers store WHOLE objects (no slices); ranges are cut from the whole object.
import type { FileHandle } from 'node:fs/promises';
import type { HeadRoom } from '../../server/http1/message.ts';

/** End-to-end response header fields as received from upstream (lower-case names, hop-by-hop removed). */
type StoredHeaders = Record<string, string | string[]>;

/** What a tier keeps beside the body; everything needed to answer without re-parsing the origin reply. */
export type EntryMeta = {
  /** Variant key (cache-key.ts variantKey). */
  key: string;
  /** Primary key (cache-key.ts cacheKey); purge and Vary lookups go through it. */
  primaryKey: string;
  zone: string;
  status: number;
  headers: StoredHeaders;
  /** Request field names the response's Vary lists (lower case); [] without Vary. */
  vary: string[];
  /** varyKey(vary, request headers) of the request that stored it. */
  varySecondary: string;
  /** RFC 9111 §4.2.3 request_time / response_time, in ms of the edge clock. */
  requestTime: number;
  responseTime: number;
  /** Body length in bytes. */
  size: number;
};

/**
 * Where the body is. A file handle belongs to the caller, who must close it. A buffer may have room
 * for a response head in front of it (the memory tier's larger bodies: HeadRoom in server/http1).
 */
export type BodySource = { kind: 'buffer'; buffer: Buffer; room?: HeadRoom } | { kind: 'file'; handle: FileHandle; size: number };

export type StoreHit = { meta: EntryMeta; body: BodySource };

export type StoreUsage = { bytes: number; entries: number };

export type StoreOptions = {
  /** Byte bound of the tier (bodies plus metadata); entries are evicted least recently used first. */
  maxBytes: number;
  /** Called after an entry left the tier by eviction (not by delete). */
  onEvict?: (key: string) => void;
};

export interface CacheStore {
  readonly name: 'memory' | 'disk';
  /**
   * Optional ability, declared rather than sniffed: a persistent tier keeps its entries across a
   * restart, and `entries()` right after opening lists what it found.
   */
  readonly persistent: boolean;
  /** Looks an entry up and marks it recently used. Corrupt or vanished entries are dropped, not returned. */
  get(key: string): Promise<StoreHit | undefined>;
  /** The metadata of an entry, without touching recency or the body. */
  peek(key: string): EntryMeta | undefined;
  /**
   * Stores (or replaces) an entry; false when the tier refuses it (too large for it). `room`: the one
   * part of `body` has a head's room in front of it (roomyBuffer), so a tier that keeps bodies in
   * memory keeps that buffer as it is instead of copying it into one with room.
   */
  put(meta: EntryMeta, body: readonly Buffer[], room?: HeadRoom): Promise<boolean>;
  /** Replaces the metadata of an existing entry (a 304 updated its headers); false if it is gone. */
  updateMeta(meta: EntryMeta): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  /** Metadata of every entry (order unspecified). */
  entries(): IterableIterator<EntryMeta>;
  usage(): StoreUsage;
  close(): Promise<void>;
}

/** Rough bytes that metadata occupies, so that many tiny entries still respect the bound. */
export function metaBytes(meta: EntryMeta): number {
  return 256 + JSON.stringify(meta).length;
}

/** Reads a whole body into memory (tests, promotion from disk to memory), into `into` when it is the body's size. Closes a file handle. */
export async function readBody(body: BodySource, into?: Buffer): Promise<Buffer> {
  if (body.kind === 'buffer') return body.buffer;
  try {
    const out = into !== undefined && into.length === body.size ? into : Buffer.allocUnsafe(body.size);
    let off = 0;
    while (off < body.size) {
      const { bytesRead } = await body.handle.read(out, off, body.size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return off === body.size ? out : out.subarray(0, off);
  } finally {
    await body.handle.close();
  }
}

/** Releases what a hit holds (the file handle of a disk body). */
export async function releaseBody(body: BodySource): Promise<void> {
  if (body.kind === 'file') await body.handle.close().catch(() => {});
}
