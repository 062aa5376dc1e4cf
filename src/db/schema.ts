// Typed schema of the library database, shared by both dialects.
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface MediaTable {
  id: Generated<number>;
  /** `<20 lower-case letters>.<ext>`: a key, never a natural name. */
  file_name: string;
  content_type: string;
  byte_size: number;
  /** Lower-case hex SHA-256 of the stored bytes. */
  sha256: string;
  /** ISO-8601 UTC timestamp. */
  created_at: string;
  duration_ms: number | null;
  width: number | null;
  height: number | null;
}

export interface SongsTable {
  id: Generated<number>;
  media_id: number;
  title: string;
  artist: string | null;
  album: string | null;
}

export interface AnnouncementsTable {
  id: Generated<number>;
  media_id: number;
  title: string;
}

export interface BackgroundsTable {
  id: Generated<number>;
  media_id: number;
  title: string;
}

export interface PurgeLogTable {
  seq: Generated<number>;
  /** JSON of the purge body ({"url"}, {"prefix"} or {"zone"}). */
  target: string;
  /** ISO-8601 UTC timestamp. */
  created_at: string;
  /** Unix ms: edges apply it from then on. */
  not_before: number;
}

export interface Database {
  purge_log: PurgeLogTable;
  media: MediaTable;
  songs: SongsTable;
  announcements: AnnouncementsTable;
  backgrounds: BackgroundsTable;
}

export type MediaRow = Selectable<MediaTable>;
export type NewMedia = Insertable<MediaTable>;
export type MediaUpdate = Updateable<MediaTable>;
export type SongRow = Selectable<SongsTable>;
export type AnnouncementRow = Selectable<AnnouncementsTable>;
export type BackgroundRow = Selectable<BackgroundsTable>;

/** Tables in dependency order (parents first): the order to load, the reverse to delete. */
export const TABLES = ['media', 'songs', 'announcements', 'backgrounds'] as const;
export type TableName = (typeof TABLES)[number];

export const METADATA_KINDS = ['song', 'announcement', 'background'] as const;
export type MetadataKind = (typeof METADATA_KINDS)[number];
export const KIND_TABLE = { song: 'songs', announcement: 'announcements', background: 'backgrounds' } as const satisfies Record<MetadataKind, TableName>;
