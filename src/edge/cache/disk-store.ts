// Disk cache tier: a byte-bounded LRU of whole objects under <root>/<zone>/, kept across restarts.
// Layout per entry: `<hash>.meta` (versioned JSON record, the commit marker) and `<hash>.<id>.body`.
// Both are written to a temp file and renamed; the body is renamed first, so a meta file only ever
// names a complete body. The record carries the body's length and SHA-256: a restart scans the folder,
// drops records it cannot read, of unknown versions or whose body has the wrong length, and checks the
// hash the first time an entry is read after the restart. Nothing unverified is ever served.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { metaBytes, readBody } from './store.ts';
import type { CacheStore, EntryMeta, StoreHit, StoreOptions, StoreUsage } from './store.ts';

const DISK_FORMAT = 'mediacdn-edge-entry';
/** Body descriptors kept open for the hit lane's sendfile (bodyFd). */
const OPEN_BODIES = 64;
const DISK_VERSION = 1;

/** The saved metadata record. Readers refuse any other format / version. */
type DiskRecord = {
  format: typeof DISK_FORMAT;
  version: typeof DISK_VERSION;
  meta: EntryMeta;
  body: { file: string; length: number; sha256: string };
  storedAt: number;
};

type Slot = {
  meta: EntryMeta;
  dir: string;
  hash: string;
  bodyFile: string;
  sha256: string;
  bytes: number;
  /** False for entries found at start until their body hash has been checked once. */
  verified: boolean;
};

/**
 * What another process sharing the folder (an edge worker) must learn to keep its index in step: an
 * entry written (or its record rewritten), or one dropped (evicted, purged, found corrupt).
 */
export type DiskEvent =
  | { kind: 'stored'; meta: EntryMeta; dir: string; hash: string; bodyFile: string; sha256: string }
  | { kind: 'dropped'; key: string; bodyFile: string };

type DiskStoreOptions = StoreOptions & {
  root: string;
  /** Called after this store wrote or dropped an entry, for other processes sharing the folder. */
  onShared?: (e: DiskEvent) => void;
  /** Clock for storedAt (recency order after a restart). */
  now?: () => number;
};

const ZONE_DIR = /^[a-z0-9.-]+$/;

export class DiskStore implements CacheStore {
  readonly name = 'disk';
  readonly persistent = true;
  readonly root: string;
  readonly #maxBytes: number;
  readonly #onEvict: ((key: string) => void) | undefined;
  readonly #now: () => number;
  readonly #onShared: ((e: DiskEvent) => void) | undefined;
  readonly #slots = new Map<string, Slot>();
  /** Writes per key run one after the other so the index and the files agree. */
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #madeDirs = new Set<string>();
  /** Open read-only descriptors of bodies, by body file name, oldest use first (bodyFd). */
  readonly #fds = new Map<string, number>();
  /** Descriptors a long answer sends from (keepOpen), by descriptor: how many, and whether to close once none does. */
  readonly #kept = new Map<number, { count: number; close: boolean }>();
  #bytes = 0;

  private constructor(opts: DiskStoreOptions) {
    this.root = opts.root;
    this.#maxBytes = opts.maxBytes;
    this.#onEvict = opts.onEvict;
    this.#now = opts.now ?? Date.now;
    this.#onShared = opts.onShared;
  }

  /** Opens (creating if needed) the tier at opts.root and indexes what a previous run left. */
  static async open(opts: DiskStoreOptions): Promise<DiskStore> {
    const store = new DiskStore(opts);
    await mkdir(opts.root, { recursive: true });
    await store.#scan();
    return store;
  }

  async get(key: string): Promise<StoreHit | undefined> {
    const slot = this.#slots.get(key);
    if (!slot) return undefined;
    let handle: FileHandle;
    try {
      handle = await open(path.join(slot.dir, slot.bodyFile), 'r');
    } catch {
      this.#drop(key, slot);
      return undefined;
    }
    try {
      const st = await handle.stat();
      // A body of the wrong length (truncated or appended to) is corrupt: drop it, never serve it.
      if (st.size !== slot.meta.size) throw new Error('length mismatch');
      if (!slot.verified) {
        const buf = await readBody({ kind: 'file', handle: await open(path.join(slot.dir, slot.bodyFile), 'r'), size: st.size });
        if (createHash('sha256').update(buf).digest('hex') !== slot.sha256) throw new Error('hash mismatch');
        slot.verified = true;
      }
    } catch {
      await handle.close().catch(() => {});
      if (this.#slots.get(key) === slot) this.#drop(key, slot);
      return undefined;
    }
    if (this.#slots.get(key) !== slot) {
      // Replaced or deleted while we checked it; the caller takes what is current (or a miss).
      await handle.close().catch(() => {});
      return this.get(key);
    }
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    return { meta: slot.meta, body: { kind: 'file', handle, size: slot.meta.size } };
  }

  peek(key: string): EntryMeta | undefined {
    return this.#slots.get(key)?.meta;
  }

  put(meta: EntryMeta, body: readonly Buffer[]): Promise<boolean> {
    return this.#serial(meta.key, () => this.#put(meta, body));
  }

  updateMeta(meta: EntryMeta): Promise<boolean> {
    return this.#serial(meta.key, async () => {
      const slot = this.#slots.get(meta.key);
      if (!slot) return false;
      const record = this.#record(meta, slot.bodyFile, slot.sha256);
      await this.#writeRecord(slot.dir, slot.hash, record);
      if (this.#slots.get(meta.key) !== slot) return false;
      const bytes = meta.size + metaBytes(meta);
      this.#bytes += bytes - slot.bytes;
      slot.bytes = bytes;
      slot.meta = meta;
      this.#onShared?.({ kind: 'stored', meta, dir: slot.dir, hash: slot.hash, bodyFile: slot.bodyFile, sha256: slot.sha256 });
      this.#evictToFit(meta.key);
      return true;
    });
  }

  /**
   * Another process wrote this entry into the shared folder: index it (replacing an older entry of the
   * key without removing its body, which the writer's record replaced). Nothing is written.
   */
  adopt(e: Extract<DiskEvent, { kind: 'stored' }>): void {
    const { meta } = e;
    const old = this.#slots.get(meta.key);
    const bytes = meta.size + metaBytes(meta);
    if (old) {
      this.#slots.delete(meta.key);
      this.#bytes -= old.bytes;
      if (old.bodyFile !== e.bodyFile) this.#closeFd(old.bodyFile);
    }
    this.#slots.set(meta.key, { meta, dir: e.dir, hash: e.hash, bodyFile: e.bodyFile, sha256: e.sha256, bytes, verified: true });
    this.#bytes += bytes;
    this.#evictToFit(meta.key);
  }

  /** Another process dropped this entry and removed its files: forget it if the index still names that body. */
  forget(key: string, bodyFile: string): boolean {
    const slot = this.#slots.get(key);
    if (!slot || slot.bodyFile !== bodyFile) return false;
    this.#slots.delete(key);
    this.#bytes -= slot.bytes;
    this.#closeFd(bodyFile);
    return true;
  }

  delete(key: string): Promise<boolean> {
    const slot = this.#slots.get(key);
    if (!slot) return Promise.resolve(false);
    this.#drop(key, slot);
    return Promise.resolve(true);
  }

  /**
   * An open descriptor of the body this tier holds for `meta` (the same stored response: same
   * response time and size), for the hit lane's sendfile; undefined when the tier holds another or
   * none, or its body was not verified yet. Kept open for the next hit, up to OPEN_BODIES of them;
   * closed when the entry leaves (a body file is never rewritten: a new entry gets a new file).
   */
  bodyFd(meta: EntryMeta): number | undefined {
    const slot = this.#slots.get(meta.key);
    if (slot === undefined || !slot.verified || slot.meta.responseTime !== meta.responseTime || slot.meta.size !== meta.size) return undefined;
    let fd = this.#fds.get(slot.bodyFile);
    if (fd !== undefined) {
      if (this.#fds.size > 1) {
        this.#fds.delete(slot.bodyFile);
        this.#fds.set(slot.bodyFile, fd);
      }
      return fd;
    }
    try {
      fd = openSync(path.join(slot.dir, slot.bodyFile), 'r');
    } catch {
      return undefined;
    }
    this.#fds.set(slot.bodyFile, fd);
    for (const [file, old] of this.#fds) {
      if (this.#fds.size <= OPEN_BODIES) break;
      this.#fds.delete(file);
      this.#closeOrKeep(old);
    }
    return fd;
  }

  /** A hit served without get() (the hit lane's disk-only answers): the entry becomes the most recently used. */
  touch(key: string): void {
    const slot = this.#slots.get(key);
    if (slot === undefined) return;
    this.#slots.delete(key);
    this.#slots.set(key, slot);
  }

  /** How many body descriptors bodyFd keeps open now. */
  get openBodies(): number {
    return this.#fds.size;
  }

  #closeFd(bodyFile: string): void {
    const fd = this.#fds.get(bodyFile);
    if (fd === undefined) return;
    this.#fds.delete(bodyFile);
    this.#closeOrKeep(fd);
  }

  /**
   * Keeps a descriptor bodyFd gave open until the returned function is called (once is enough), even
   * once its entry leaves or more recent bodies push it out: a long answer sent from it as the
   * socket's buffer empties. (Closed under it, its number could be another file's by then.)
   */
  keepOpen(fd: number): () => void {
    const kept = this.#kept.get(fd) ?? { count: 0, close: false };
    kept.count++;
    this.#kept.set(fd, kept);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      if (--kept.count > 0) return;
      this.#kept.delete(fd);
      if (kept.close) closeSync(fd);
    };
  }

  #closeOrKeep(fd: number): void {
    const kept = this.#kept.get(fd);
    if (kept === undefined) closeSync(fd);
    else kept.close = true;
  }

  *entries(): IterableIterator<EntryMeta> {
    for (const slot of this.#slots.values()) yield slot.meta;
  }

  usage(): StoreUsage {
    return { bytes: this.#bytes, entries: this.#slots.size };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()]);
    for (const file of [...this.#fds.keys()]) this.#closeFd(file);
  }

  async #put(meta: EntryMeta, body: readonly Buffer[]): Promise<boolean> {
    const size = body.reduce((n, b) => n + b.length, 0);
    const bytes = size + metaBytes(meta);
    if (size !== meta.size) throw new Error(`DiskStore.put: body is ${size} bytes, meta says ${meta.size}`);
    if (bytes > this.#maxBytes || !ZONE_DIR.test(meta.zone)) {
      const old = this.#slots.get(meta.key);
      if (old) this.#drop(meta.key, old);
      return false;
    }
    const hash = createHash('sha256').update(meta.key).digest('hex');
    const dir = path.join(this.root, meta.zone, hash.slice(0, 2));
    if (!this.#madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#madeDirs.add(dir);
    }
    const sha = createHash('sha256');
    for (const b of body) sha.update(b);
    const sha256 = sha.digest('hex');
    const bodyFile = `${hash}.${randomBytes(6).toString('hex')}.body`;
    const tmp = path.join(dir, `${bodyFile}.tmp`);
    try {
      const fh = await open(tmp, 'w');
      try {
        await fh.writev(body as Buffer[]);
      } finally {
        await fh.close();
      }
      await rename(tmp, path.join(dir, bodyFile));
      await this.#writeRecord(dir, hash, this.#record(meta, bodyFile, sha256));
    } catch (err) {
      await unlink(tmp).catch(() => {});
      await unlink(path.join(dir, bodyFile)).catch(() => {});
      throw err;
    }
    const old = this.#slots.get(meta.key);
    if (old) {
      this.#slots.delete(meta.key);
      this.#bytes -= old.bytes;
      // The new record already replaced the old one on disk; only the old body file is left over.
      if (old.bodyFile !== bodyFile) {
        this.#closeFd(old.bodyFile);
        unlink(path.join(old.dir, old.bodyFile)).catch(() => {});
      }
    }
    this.#slots.set(meta.key, { meta, dir, hash, bodyFile, sha256, bytes, verified: true });
    this.#bytes += bytes;
    this.#onShared?.({ kind: 'stored', meta, dir, hash, bodyFile, sha256 });
    this.#evictToFit(meta.key);
    return true;
  }

  #record(meta: EntryMeta, bodyFile: string, sha256: string): DiskRecord {
    return {
      format: DISK_FORMAT,
      version: DISK_VERSION,
      meta,
      body: { file: bodyFile, length: meta.size, sha256 },
      storedAt: this.#now(),
    };
  }

  /** Writes the record beside its final name and renames it; a failed write (full disk) leaves nothing behind. */
  async #writeRecord(dir: string, hash: string, record: DiskRecord): Promise<void> {
    const tmp = path.join(dir, `${hash}.${randomBytes(6).toString('hex')}.meta.tmp`);
    try {
      await writeFile(tmp, JSON.stringify(record));
      await rename(tmp, path.join(dir, `${hash}.meta`));
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
  }

  /** Forgets an entry now and removes its files in the background (open handles keep reading). */
  #drop(key: string, slot: Slot): void {
    if (this.#slots.get(key) !== slot) return;
    this.#slots.delete(key);
    this.#bytes -= slot.bytes;
    this.#closeFd(slot.bodyFile);
    this.#onShared?.({ kind: 'dropped', key, bodyFile: slot.bodyFile });
    const metaFile = path.join(slot.dir, `${slot.hash}.meta`);
    const bodyFile = path.join(slot.dir, slot.bodyFile);
    // Chained behind writes of the same key, so a delete cannot remove a record written after it.
    void this.#serial(key, async () => {
      if (this.#slots.has(key)) {
        // A newer entry took the key meanwhile: its record replaced ours; remove only our body.
        if (this.#slots.get(key)?.bodyFile !== slot.bodyFile) await unlink(bodyFile).catch(() => {});
        return;
      }
      await unlink(metaFile).catch(() => {});
      await unlink(bodyFile).catch(() => {});
    });
  }

  #evictToFit(keep: string): void {
    for (const [key, slot] of this.#slots) {
      if (this.#bytes <= this.#maxBytes) break;
      if (key === keep) continue;
      this.#drop(key, slot);
      this.#onEvict?.(key);
    }
  }

  #serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#queues.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.then(
      () => {},
      () => {},
    );
    this.#queues.set(key, settled);
    void settled.then(() => {
      if (this.#queues.get(key) === settled) this.#queues.delete(key);
    });
    return next;
  }

  /** Rebuilds the index from disk: drops unreadable records, stray temp and body files. */
  async #scan(): Promise<void> {
    const found: { slot: Slot; storedAt: number }[] = [];
    for (const zone of await readdir(this.root).catch(() => [] as string[])) {
      const zoneDir = path.join(this.root, zone);
      if (!ZONE_DIR.test(zone) || !(await stat(zoneDir).then((s) => s.isDirectory(), () => false))) continue;
      for (const sub of await readdir(zoneDir).catch(() => [] as string[])) {
        const dir = path.join(zoneDir, sub);
        const files = await readdir(dir).catch(() => [] as string[]);
        const referenced = new Set<string>();
        for (const file of files) {
          if (!file.endsWith('.meta')) continue;
          const slot = await this.#load(dir, file, zone);
          if (slot) {
            referenced.add(slot.slot.bodyFile);
            found.push(slot);
          } else {
            await unlink(path.join(dir, file)).catch(() => {});
          }
        }
        for (const file of files) {
          if (file.endsWith('.tmp') || (file.endsWith('.body') && !referenced.has(file))) {
            await rm(path.join(dir, file), { force: true });
          }
        }
        this.#madeDirs.add(dir);
      }
    }
    // Least recently stored first: after a restart, recency is approximated by store time.
    found.sort((a, b) => a.storedAt - b.storedAt);
    for (const { slot } of found) {
      this.#slots.set(slot.meta.key, slot);
      this.#bytes += slot.bytes;
    }
    const newest = found.length > 0 ? found[found.length - 1].slot.meta.key : '';
    this.#evictToFit(newest);
  }

  async #load(dir: string, file: string, zone: string): Promise<{ slot: Slot; storedAt: number } | undefined> {
    let record: DiskRecord;
    try {
      record = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as DiskRecord;
    } catch {
      return undefined;
    }
    // Saved formats carry a version and readers refuse versions they do not know.
    if (record === null || typeof record !== 'object' || record.format !== DISK_FORMAT || record.version !== DISK_VERSION) {
      return undefined;
    }
    const { meta, body } = record;
    if (!meta || typeof meta.key !== 'string' || meta.zone !== zone || !body || typeof body.file !== 'string') return undefined;
    const hash = file.slice(0, -'.meta'.length);
    if (createHash('sha256').update(meta.key).digest('hex') !== hash || !body.file.startsWith(`${hash}.`)) return undefined;
    if (body.length !== meta.size || typeof body.sha256 !== 'string') return undefined;
    const st = await stat(path.join(dir, body.file)).catch(() => undefined);
    if (!st || st.size !== body.length) {
      await unlink(path.join(dir, body.file)).catch(() => {});
      return undefined;
    }
    return {
      slot: { meta, dir, hash, bodyFile: body.file, sha256: body.sha256, bytes: meta.size + metaBytes(meta), verified: false },
      storedAt: typeof record.storedAt === 'number' ? record.storedAt : 0,
    };
  }
}
