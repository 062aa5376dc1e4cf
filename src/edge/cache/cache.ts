// The edge's cache: the memory and disk tiers behind one face, Vary variant selection (RFC 9111 §4.1)
// and purge by key, prefix or zone. Small objects live in both tiers; disk hits of small objects are
// promoted to memory.
import path from 'node:path';
import type { Headers } from '../../http/types.ts';
import { varyKey } from '../../http/vary.ts';
import { HEAD_ROOM_MIN_BODY, roomyBuffer } from '../../server/http1/message.ts';
import type { HeadRoom } from '../../server/http1/message.ts';
import { parseCacheKey, primaryOfVariant } from './cache-key.ts';
import { DiskStore } from './disk-store.ts';
import type { DiskEvent } from './disk-store.ts';
import { MemoryStore } from './memory-store.ts';
import { readBody } from './store.ts';
import type { EntryMeta, StoreHit } from './store.ts';

type EdgeCacheOptions = {
  /** Disk tier root; entries go to <cacheDir>/<zone>/. */
  cacheDir: string;
  memoryCacheBytes: number;
  memoryObjectMaxBytes: number;
  diskCacheBytes: number;
  now: () => number;
  /** The disk tier's writes and drops, for other processes sharing it (edge workers). */
  onDiskShared?: (e: DiskEvent) => void;
};

export type PurgeSelector =
  | { kind: 'key'; zone: string; target: string }
  | { kind: 'prefix'; zone: string; prefix: string }
  | { kind: 'zone'; zone: string };

type Pending = { meta: EntryMeta; body: readonly Buffer[]; buffer: Buffer | undefined };

/** How many recent purges are remembered to decide whether a fill that started before them may be stored. */
const RECENT_PURGES = 1024;

export class EdgeCache {
  readonly memory: MemoryStore | undefined;
  readonly disk: DiskStore | undefined;
  readonly #memoryObjectMaxBytes: number;
  /** Entries being written to the tiers: served from memory meanwhile. */
  readonly #pending = new Map<string, Pending>();
  /** primary key → variant keys present in at least one tier. */
  readonly #variants = new Map<string, Set<string>>();
  /** Tier writes in progress (whenWritten). */
  readonly #writes = new Set<Promise<unknown>>();
  /** Purges so far: a fill notes the epoch before it asks upstream, and its store checks the purges since. */
  #epoch = 0;
  /** The last RECENT_PURGES purges, oldest first, with the epoch each one started. */
  readonly #recentPurges: { epoch: number; selector: PurgeSelector }[] = [];

  private constructor(memory: MemoryStore | undefined, disk: DiskStore | undefined, memoryObjectMaxBytes: number) {
    this.memory = memory;
    this.disk = disk;
    this.#memoryObjectMaxBytes = memoryObjectMaxBytes;
  }

  static async open(opts: EdgeCacheOptions): Promise<EdgeCache> {
    let cache: EdgeCache | undefined;
    const onEvict = (key: string) => {
      if (cache) cache.#forgetIfGone(key);
    };
    const memory = opts.memoryCacheBytes > 0 ? new MemoryStore({ maxBytes: opts.memoryCacheBytes, onEvict }) : undefined;
    const disk = opts.diskCacheBytes > 0
      ? await DiskStore.open({ root: path.resolve(opts.cacheDir), maxBytes: opts.diskCacheBytes, onEvict, now: opts.now, onShared: opts.onDiskShared })
      : undefined;
    cache = new EdgeCache(memory, disk, opts.memoryObjectMaxBytes);
    if (disk) for (const meta of disk.entries()) cache.#index(meta);
    return cache;
  }

  /**
   * The stored response for this request, if any. RFC 9111 §4.1: "If multiple selected responses are
   * available (potentially including responses without a Vary header field), the cache will need to
   * choose one to use. When a selecting header field has a known mechanism for doing so ... When more
   * than one suitable response is stored, a cache MUST use the most recent response".
   */
  async lookup(primaryKey: string, requestHeaders: Headers): Promise<StoreHit | undefined> {
    const meta = this.select(primaryKey, requestHeaders);
    if (!meta) return undefined;
    const fromMemory = this.memory?.getSync(meta.key);
    if (fromMemory) return fromMemory;
    const pending = this.#pending.get(meta.key);
    if (pending) {
      pending.buffer ??= pending.body.length === 1 ? pending.body[0] : Buffer.concat(pending.body);
      return { meta: pending.meta, body: { kind: 'buffer', buffer: pending.buffer } };
    }
    if (!this.disk) return undefined;
    const hit = await this.disk.get(meta.key);
    if (!hit) {
      this.#forgetIfGone(meta.key);
      return undefined;
    }
    if (this.memory && hit.meta.size <= this.#memoryObjectMaxBytes) {
      // Read straight into a buffer with a head's room, which the memory tier keeps as it is.
      const roomy = hit.meta.size > HEAD_ROOM_MIN_BODY && hit.body.kind === 'file' ? roomyBuffer(hit.meta.size) : undefined;
      const buffer = await readBody(hit.body, roomy?.buffer);
      await this.memory.put(hit.meta, [buffer], roomy?.room);
      return { meta: hit.meta, body: { kind: 'buffer', buffer } };
    }
    return hit;
  }

  /** A disk-tier body found shorter than its record while the hit lane sent it: dropped, as lookup drops one. */
  dropDamaged(meta: EntryMeta): void {
    if (this.disk === undefined || this.disk.peek(meta.key) !== meta) return;
    void this.disk.delete(meta.key).then(() => this.#forgetIfGone(meta.key));
  }

  /** Whether lookup copies a disk hit of this size into the memory tier (the hit lane leaves those to it). */
  promotes(size: number): boolean {
    return this.memory !== undefined && size <= this.#memoryObjectMaxBytes;
  }

  /** The metadata of the variant that would answer this request (no tier access, no recency change). */
  select(primaryKey: string, requestHeaders: Headers): EntryMeta | undefined {
    const keys = this.#variants.get(primaryKey);
    if (!keys) return undefined;
    let best: EntryMeta | undefined;
    for (const key of keys) {
      const meta = this.#peek(key);
      if (!meta) continue;
      // §4.1: "the selecting header fields nominated by the Vary header field match in both the
      // original request (i.e., that associated with the stored response) and the presented request"
      if (meta.vary.length > 0 && varyKey(meta.vary, requestHeaders) !== meta.varySecondary) continue;
      if (!best || meta.responseTime > best.responseTime) best = meta;
    }
    return best;
  }

  /** Every stored variant of a primary key (no tier access, no recency change). */
  variants(primaryKey: string): EntryMeta[] {
    const out: EntryMeta[] = [];
    for (const key of this.#variants.get(primaryKey) ?? []) {
      const meta = this.#peek(key);
      if (meta) out.push(meta);
    }
    return out;
  }

  /**
   * Stores a complete response in the tiers that take it. Variants under other Vary names are dropped.
   * The entry is visible to lookups as soon as this is called (from memory while the disk write runs),
   * so a fill can stop being joinable right away.
   *
   * `since` is the epoch() the response's fetch started in: when a purge that covers this key began
   * after it, the response may be the copy the purge was meant to remove, and it is not stored.
   */
  store(meta: EntryMeta, body: readonly Buffer[], since?: number, room?: HeadRoom): Promise<boolean> {
    if (since !== undefined && this.purgedSince(since, meta.primaryKey)) return Promise.resolve(false);
    const stale = [...(this.#variants.get(meta.primaryKey) ?? [])].filter((k) => {
      const m = this.#peek(k);
      return k !== meta.key && (!m || m.vary.join() !== meta.vary.join());
    });
    const deletions = stale.map((key) => this.#deleteVariant(meta.primaryKey, key));
    this.#index(meta);
    const pending: Pending = { meta, body, buffer: undefined };
    this.#pending.set(meta.key, pending);
    const fitsMemory = this.memory !== undefined && meta.size <= this.#memoryObjectMaxBytes;
    const writes = Promise.all([
      fitsMemory ? this.memory!.put(meta, body, room) : false,
      this.disk ? this.disk.put(pending.meta, body) : false,
      ...deletions,
    ]);
    const done = writes
      .then(([inMemory, onDisk]) => inMemory || onDisk)
      .finally(() => {
        if (this.#pending.get(meta.key) === pending) this.#pending.delete(meta.key);
        this.#forgetIfGone(meta.key);
        this.#writes.delete(done);
      });
    this.#writes.add(done);
    return done;
  }

  /**
   * What another process did to the shared disk tier: an entry it stored is found here from now on (a
   * copy of the key in this process's memory tier is dropped, the disk has the newer one); one it
   * dropped is forgotten.
   */
  shared(e: DiskEvent): void {
    if (!this.disk) return;
    if (e.kind === 'stored') {
      const mine = this.memory?.peek(e.meta.key);
      if (mine && mine.responseTime < e.meta.responseTime) void this.memory!.delete(e.meta.key);
      this.disk.adopt(e);
      this.#index(e.meta);
      return;
    }
    if (this.disk.forget(e.key, e.bodyFile)) this.#forgetIfGone(e.key);
  }

  /** Resolves when every store() started so far has reached its tiers (tests, shutdown). */
  async whenWritten(): Promise<void> {
    while (this.#writes.size > 0) await Promise.allSettled([...this.#writes]);
  }

  /** After a 304: new headers and times for a stored variant, in every tier holding it. */
  async updateMeta(meta: EntryMeta): Promise<boolean> {
    const pending = this.#pending.get(meta.key);
    if (pending) pending.meta = meta;
    const results = await Promise.all([this.memory?.updateMeta(meta) ?? false, this.disk?.updateMeta(meta) ?? false]);
    return results[0] || results[1];
  }

  /** The purge epoch: take it before asking upstream, pass it to store() with the response. */
  epoch(): number {
    return this.#epoch;
  }

  /** Whether a purge begun after `epoch` covers the primary key (true when that is too long ago to tell). */
  purgedSince(epoch: number, primaryKey: string): boolean {
    if (epoch >= this.#epoch) return false;
    const oldest = this.#recentPurges[0];
    if (oldest === undefined || oldest.epoch > epoch + 1) return true;
    const parts = parseCacheKey(primaryKey);
    if (!parts) return true;
    for (let i = this.#recentPurges.length - 1; i >= 0 && this.#recentPurges[i].epoch > epoch; i--) {
      if (selects(this.#recentPurges[i].selector, parts)) return true;
    }
    return false;
  }

  /** Removes stored responses; returns how many variants were removed. */
  async purge(selector: PurgeSelector): Promise<number> {
    // First of all, synchronously: fills in flight from now on see this purge and do not store.
    this.#recentPurges.push({ epoch: ++this.#epoch, selector });
    if (this.#recentPurges.length > RECENT_PURGES) this.#recentPurges.shift();
    // A write still on its way to a tier would land after the delete and outlive the purge: let the
    // writes started so far finish first.
    await Promise.allSettled([...this.#writes]);
    const primaries: string[] = [];
    for (const primary of this.#variants.keys()) {
      const parts = parseCacheKey(primary);
      if (parts && selects(selector, parts)) primaries.push(primary);
    }
    let removed = 0;
    for (const primary of primaries) {
      for (const key of [...(this.#variants.get(primary) ?? [])]) {
        if (await this.#deleteVariant(primary, key)) removed++;
      }
    }
    return removed;
  }

  async #deleteVariant(primary: string, key: string): Promise<boolean> {
    const wasPending = this.#pending.delete(key);
    const results = await Promise.all([this.memory?.delete(key) ?? false, this.disk?.delete(key) ?? false]);
    const set = this.#variants.get(primary);
    set?.delete(key);
    if (set && set.size === 0) this.#variants.delete(primary);
    return wasPending || results[0] || results[1];
  }

  usage(): { memory: { bytes: number; entries: number } | undefined; disk: { bytes: number; entries: number } | undefined } {
    return { memory: this.memory?.usage(), disk: this.disk?.usage() };
  }

  async close(): Promise<void> {
    await this.memory?.close();
    await this.disk?.close();
  }

  #index(meta: EntryMeta): void {
    let set = this.#variants.get(meta.primaryKey);
    if (!set) this.#variants.set(meta.primaryKey, (set = new Set()));
    set.add(meta.key);
  }

  #peek(key: string): EntryMeta | undefined {
    return this.memory?.peek(key) ?? this.#pending.get(key)?.meta ?? this.disk?.peek(key);
  }

  #forgetIfGone(key: string): void {
    if (this.#peek(key)) return;
    const primary = primaryOfVariant(key);
    const set = primary === undefined ? undefined : this.#variants.get(primary);
    if (set?.delete(key) && set.size === 0) this.#variants.delete(primary!);
  }
}

function selects(selector: PurgeSelector, parts: { zone: string; target: string }): boolean {
  if (parts.zone !== selector.zone) return false;
  if (selector.kind === 'key') return parts.target === selector.target;
  if (selector.kind === 'prefix') return parts.target.startsWith(selector.prefix);
  return true;
}
