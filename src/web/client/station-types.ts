// The station's JSON shape (GET /api/now), shared by the server and the listener page: what is on the
// air for every listener, since when, and what follows, with the server's clock.
import type { PlaylistBackground, PlaylistTrack } from './playlist-types.ts';

/** One item of the running order: a song or an announcement at a fixed time, over a background. */
export type StationItem = PlaylistTrack & {
  /** Position in the station's running order; grows by one per item. */
  seq: number;
  /** When it starts and ends on the station's clock (ms since the Unix epoch). */
  startsAt: number;
  endsAt: number;
  /** The picture shown while it plays; null when the library has none. */
  background: PlaylistBackground | null;
};

export type NowPlaying = {
  version: 1;
  /** The server's clock when it answered (ms): the page corrects its own clock with it. */
  serverTime: number;
  /** When this station first went on the air; null before it ever has. */
  onAirSince: number | null;
  /** What every listener hears now; null when there is nothing to play. */
  current: StationItem | null;
  /** serverTime − current.startsAt: how far into the current item the station is. */
  offsetMs: number | null;
  /** The items that follow `current` (or the item named by `after`), as planned now. */
  upcoming: StationItem[];
  /** What the library offers the station: playable songs and announcements, backgrounds. */
  library: { songs: number; announcements: number; backgrounds: number };
};
