// The library's context: database, storage, link base, key source and clock, wired once by the caller.
import type { Db } from '../db/connect.ts';
import type { MediaStorage } from '../storage/store.ts';
import { randomKey, type KeySource } from './keys.ts';
import type { MetadataKind, MediaRow } from '../db/schema.ts';

export type Library = {
  readonly db: Db;
  readonly storage: MediaStorage;
  /** Base of media links, ending in '/'. */
  readonly mediaUrl: string;
  /** Signs a published link when its zone serves signed links only. */
  readonly signLink?: (url: string) => string;
  readonly keySource: KeySource;
  readonly now: () => Date;
};

/**
 * `mediaUrl` may be a function when the link base is known only later (an origin on port 0 learns
 * its port once it listens); it is read each time a link is made.
 */
export function createLibrary(parts: { db: Db; storage: MediaStorage; mediaUrl: string | (() => string); signLink?: (url: string) => string; keySource?: KeySource; now?: () => Date }): Library {
  const mediaUrl = parts.mediaUrl;
  return Object.freeze({
    db: parts.db,
    storage: parts.storage,
    get mediaUrl(): string {
      return typeof mediaUrl === 'function' ? mediaUrl() : mediaUrl;
    },
    signLink: parts.signLink,
    keySource: parts.keySource ?? randomKey,
    now: parts.now ?? (() => new Date()),
  });
}

export type Metadata =
  | { kind: 'song'; title: string; artist?: string | null; album?: string | null }
  | { kind: 'announcement'; title: string }
  | { kind: 'background'; title: string };

/** A media record with the metadata that points at it and its public link. */
export type MediaItem = {
  id: number;
  fileName: string;
  contentType: string;
  byteSize: number;
  sha256: string;
  createdAt: string;
  durationMs: number | null;
  width: number | null;
  height: number | null;
  url: string;
  kind: MetadataKind | null;
  title: string | null;
  artist: string | null;
  album: string | null;
};

/** The public link of a stored file: MEDIA_URL + file name, signed when its zone wants signed links. */
export function fileUrl(lib: Pick<Library, 'mediaUrl' | 'signLink'>, media: Pick<MediaRow, 'file_name'>): string {
  const url = lib.mediaUrl + media.file_name;
  return lib.signLink ? lib.signLink(url) : url;
}
