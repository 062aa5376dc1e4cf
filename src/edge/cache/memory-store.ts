// In-memory cache tier: a byte-bounded LRU of whole objects, for small hot responses.
import { HEAD_ROOM_MIN_BODY, hasRoom, withHeadRoom } from '../../server/http1/message.ts';
import type { HeadRoom } from '../../server/http1/message.ts';
import { metaBytes } from './store.ts';
import type { CacheStore, EntryMeta, StoreHit, StoreOptions, StoreUsage } from './store.ts';

/**
 * One stored object. The slots form a list from the least to the most recently used, so a hit moves
 * its slot to the end by relinking it, and the map of keys changes only when objects come and go. The
 * hit a lookup returns is made once per slot (it is only read).
 */
type Slot = { key: string; meta: EntryMeta; buffer: Buffer; room: HeadRoom | undefined; bytes: number; hit: StoreHit; older: Slot | undefined; newer: Slot | undefined };

export class MemoryStore implements CacheStore {
  readonly name = 'memory';
  readonly persistent = false;
  readonly #maxBytes: number;
  readonly #onEvict: ((key: string) => void) | undefined;
  readonly #slots = new Map<string, Slot>();
  /** Least and most recently used. */
  #oldest: Slot | undefined;
  #newest: Slot | undefined;
  #bytes = 0;

  constructor(opts: StoreOptions) {
    this.#maxBytes = opts.maxBytes;
    this.#onEvict = opts.onEvict;
  }

  /** Synchronous lookup for the hot path; same semantics as get(). */
  getSync(key: string): StoreHit | undefined {
    const slot = this.#slots.get(key);
    if (!slot) return undefined;
    if (slot !== this.#newest) {
      this.#unlink(slot);
      this.#append(slot);
    }
    return slot.hit;
  }

  async get(key: string): Promise<StoreHit | undefined> {
    return this.getSync(key);
  }

  peek(key: string): EntryMeta | undefined {
    return this.#slots.get(key)?.meta;
  }

  async put(meta: EntryMeta, body: readonly Buffer[], given?: HeadRoom): Promise<boolean> {
    let size = 0;
    for (const part of body) size += part.length;
    // A larger body is kept with room for a response head in front of it (one write for both): as
    // given when it came with room, else copied into a buffer with room.
    const roomy = size <= HEAD_ROOM_MIN_BODY ? undefined : body.length === 1 && hasRoom(body[0], given) ? { buffer: body[0], room: given } : withHeadRoom(body, size);
    const buffer = roomy !== undefined ? roomy.buffer : body.length === 1 ? body[0] : Buffer.concat(body);
    const room = roomy?.room;
    const bytes = buffer.length + (room === undefined ? 0 : room.bytes) + metaBytes(meta);
    if (bytes > this.#maxBytes) {
      this.#remove(meta.key);
      return false;
    }
    this.#remove(meta.key);
    const slot: Slot = { key: meta.key, meta, buffer, room, bytes, hit: hitOf(meta, buffer, room), older: undefined, newer: undefined };
    this.#slots.set(meta.key, slot);
    this.#append(slot);
    this.#bytes += bytes;
    this.#evictToFit();
    return true;
  }

  async updateMeta(meta: EntryMeta): Promise<boolean> {
    const slot = this.#slots.get(meta.key);
    if (!slot) return false;
    const bytes = slot.buffer.length + (slot.room === undefined ? 0 : slot.room.bytes) + metaBytes(meta);
    this.#bytes += bytes - slot.bytes;
    slot.meta = meta;
    slot.hit = hitOf(meta, slot.buffer, slot.room);
    slot.bytes = bytes;
    this.#evictToFit();
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return this.#remove(key);
  }

  /** Least recently used first. */
  *entries(): IterableIterator<EntryMeta> {
    for (let slot = this.#oldest; slot !== undefined; slot = slot.newer) yield slot.meta;
  }

  usage(): StoreUsage {
    return { bytes: this.#bytes, entries: this.#slots.size };
  }

  async close(): Promise<void> {
    this.#slots.clear();
    this.#oldest = this.#newest = undefined;
    this.#bytes = 0;
  }

  #remove(key: string): boolean {
    const slot = this.#slots.get(key);
    if (!slot) return false;
    this.#slots.delete(key);
    this.#unlink(slot);
    this.#bytes -= slot.bytes;
    return true;
  }

  #evictToFit(): void {
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#oldest;
      if (oldest === undefined) break;
      this.#remove(oldest.key);
      this.#onEvict?.(oldest.key);
    }
  }

  /** Takes the slot out of the recency list. */
  #unlink(slot: Slot): void {
    if (slot.older) slot.older.newer = slot.newer;
    else this.#oldest = slot.newer;
    if (slot.newer) slot.newer.older = slot.older;
    else this.#newest = slot.older;
    slot.older = slot.newer = undefined;
  }

  /** Puts the slot (out of the list) at its most recent end. */
  #append(slot: Slot): void {
    slot.older = this.#newest;
    if (this.#newest) this.#newest.newer = slot;
    else this.#oldest = slot;
    this.#newest = slot;
  }
}

function hitOf(meta: EntryMeta, buffer: Buffer, room: HeadRoom | undefined): StoreHit {
  return { meta, body: room === undefined ? { kind: 'buffer', buffer } : { kind: 'buffer', buffer, room } };
}
