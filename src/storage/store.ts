// Where media bytes live, behind one small interface. Files are written once and never overwritten.
import type { Readable, Writable } from 'node:stream';

export type StoredFile = { name: string; size: number; mtimeMs: number };

/** A file being written under a temporary name; `commit` gives it its final name exclusively. */
export interface PendingWrite {
  readonly stream: Writable;
  /** Flushes to stable storage and publishes under `name`; 'exists' if that name is taken (nothing published). */
  commit(name: string): Promise<'ok' | 'exists'>;
  /** Removes the temporary file; safe to call at any point, also after a failed commit. */
  abort(): Promise<void>;
  /** Local path of the temporary file while it exists, for sniffing before commit. */
  readonly tempPath: string;
}

export interface MediaStorage {
  readonly kind: 'local';
  beginWrite(): Promise<PendingWrite>;
  stat(name: string): Promise<StoredFile | undefined>;
  /** Reads bytes [start, end] inclusive (whole file when omitted). */
  createReadStream(name: string, range?: { start: number; end: number }): Readable;
  /** Removes a published file; false when it did not exist. */
  remove(name: string): Promise<boolean>;
  /** Published files (temporary files excluded). */
  list(): AsyncIterable<StoredFile>;
  /** Temporary files left behind by interrupted writes. */
  listTemps(): AsyncIterable<StoredFile>;
  removeTemp(name: string): Promise<void>;
  /** Local file system path of a published file: local storage can serve it with fs directly. */
  localPath(name: string): string;
  /** True when the storage root is reachable and writable. */
  check(): Promise<boolean>;
}
