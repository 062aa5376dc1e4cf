// In-memory cache tier: a byte-bounded LRU of whole objects, for small hot responses.
import { metaBytes } from './store.ts';
import type { CacheStore, EntryMeta, StoreHit, StoreOptions, StoreUsage } from './store.ts';

type Slot = { meta: EntryMeta; buffer: Buffer; bytes: number };

export class MemoryStore implements CacheStore {
  readonly name = 'memory';
  readonly persistent = false;
  readonly #maxBytes: number;
  readonly #onEvict: ((key: string) => void) | undefined;
  // A Map iterates in insertion order; re-inserting on use keeps the least recent first.
  readonly #slots = new Map<string, Slot>();
  #bytes = 0;

  constructor(opts: StoreOptions) {
    this.#maxBytes = opts.maxBytes;
    this.#onEvict = opts.onEvict;
  }

  /** Synchronous lookup for the hot path; same semantics as get(). */
  getSync(key: string): StoreHit | undefined {
    const slot = this.#slots.get(key);
    if (!slot) return undefined;
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    return { meta: slot.meta, body: { kind: 'buffer', buffer: slot.buffer } };
  }

  async get(key: string): Promise<StoreHit | undefined> {
    return this.getSync(key);
  }

  peek(key: string): EntryMeta | undefined {
    return this.#slots.get(key)?.meta;
  }

  async put(meta: EntryMeta, body: readonly Buffer[]): Promise<boolean> {
    const buffer = body.length === 1 ? body[0] : Buffer.concat(body);
    const bytes = buffer.length + metaBytes(meta);
    if (bytes > this.#maxBytes) {
      this.#remove(meta.key);
      return false;
    }
    this.#remove(meta.key);
    this.#slots.set(meta.key, { meta, buffer, bytes });
    this.#bytes += bytes;
    this.#evictToFit();
    return true;
  }

  async updateMeta(meta: EntryMeta): Promise<boolean> {
    const slot = this.#slots.get(meta.key);
    if (!slot) return false;
    const bytes = slot.buffer.length + metaBytes(meta);
    this.#bytes += bytes - slot.bytes;
    slot.meta = meta;
    slot.bytes = bytes;
    this.#evictToFit();
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return this.#remove(key);
  }

  *entries(): IterableIterator<EntryMeta> {
    for (const slot of this.#slots.values()) yield slot.meta;
  }

  usage(): StoreUsage {
    return { bytes: this.#bytes, entries: this.#slots.size };
  }

  async close(): Promise<void> {
    this.#slots.clear();
    this.#bytes = 0;
  }

  #remove(key: string): boolean {
    const slot = this.#slots.get(key);
    if (!slot) return false;
    this.#slots.delete(key);
    this.#bytes -= slot.bytes;
    return true;
  }

  #evictToFit(): void {
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#slots.keys().next();
      if (oldest.done) break;
      this.#remove(oldest.value);
      this.#onEvict?.(oldest.value);
    }
  }
}
