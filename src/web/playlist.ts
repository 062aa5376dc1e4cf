// Builds the public playlist (songs, announcements, backgrounds with their MEDIA_URL links) from the catalog.
import { listMedia } from '../media/catalog.ts';
import type { Library, MediaItem } from '../media/library.ts';
import type { Playlist, PlaylistBackground, PlaylistTrack } from './client/playlist-types.ts';

/** Upper bound per kind: a radio page does not need more, and the response stays small. */
export const PLAYLIST_MAX_PER_KIND = 2000;
const PAGE = 1000;

async function allOfKind(lib: Library, kind: 'song' | 'announcement' | 'background'): Promise<MediaItem[]> {
  const out: MediaItem[] = [];
  for (let offset = 0; out.length < PLAYLIST_MAX_PER_KIND; offset += PAGE) {
    const { items, total } = await listMedia(lib, { kind, limit: PAGE, offset });
    out.push(...items);
    if (items.length < PAGE || out.length >= total) break;
  }
  // Oldest first: the order in which they were added reads naturally in a playlist.
  return out.slice(0, PLAYLIST_MAX_PER_KIND).reverse();
}

function track(item: MediaItem, kind: 'song' | 'announcement'): PlaylistTrack {
  return {
    id: item.id,
    kind,
    url: item.url,
    contentType: item.contentType,
    title: item.title ?? item.fileName,
    artist: kind === 'song' ? item.artist : null,
    album: kind === 'song' ? item.album : null,
    durationMs: item.durationMs,
  };
}

function background(item: MediaItem): PlaylistBackground {
  return {
    id: item.id,
    kind: 'background',
    url: item.url,
    contentType: item.contentType,
    title: item.title ?? item.fileName,
    artist: null,
    durationMs: null,
    width: item.width,
    height: item.height,
  };
}

/** Only playable / displayable types: a background that is not an image, or a song that is not audio, is left out. */
export async function buildPlaylist(lib: Library): Promise<Playlist> {
  const [songs, announcements, backgrounds] = await Promise.all([
    allOfKind(lib, 'song'),
    allOfKind(lib, 'announcement'),
    allOfKind(lib, 'background'),
  ]);
  const audio = (i: MediaItem) => i.contentType.startsWith('audio/');
  return {
    version: 1,
    songs: songs.filter(audio).map((i) => track(i, 'song')),
    announcements: announcements.filter(audio).map((i) => track(i, 'announcement')),
    backgrounds: backgrounds.filter((i) => i.contentType.startsWith('image/')).map(background),
  };
}
