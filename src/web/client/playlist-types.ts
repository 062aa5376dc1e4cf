// The public playlist's JSON shape (GET /api/playlist), shared by the server and the listener page.

export type PlaylistTrack = {
  id: number;
  kind: 'song' | 'announcement';
  /** Absolute or MEDIA_URL-based link: every byte the player loads comes from there. */
  url: string;
  contentType: string;
  title: string;
  artist: string | null;
  album: string | null;
  durationMs: number | null;
};

export type PlaylistBackground = {
  id: number;
  kind: 'background';
  url: string;
  contentType: string;
  title: string;
  artist: null;
  durationMs: null;
  width: number | null;
  height: number | null;
};

export type Playlist = {
  version: 1;
  songs: PlaylistTrack[];
  announcements: PlaylistTrack[];
  backgrounds: PlaylistBackground[];
};
