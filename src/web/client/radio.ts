// The radio's running order: songs shuffled without repeats until each has played, with an
// announcement after every few songs. Pure (randomness injected), so it is tested without a browser.
import type { PlaylistTrack } from './playlist-types.ts';

export type RadioOptions = {
  /** Songs played between two announcements. */
  songsPerAnnouncement?: number;
  /** A number in [0, 1), like Math.random. */
  random?: () => number;
};

export type Radio = {
  /** The track after the current one, without moving on; undefined when there is nothing to play. */
  peek(): PlaylistTrack | undefined;
  /** Moves on and returns the new current track. */
  next(): PlaylistTrack | undefined;
  /** Songs started so far (announcements not counted): picks the background. */
  readonly songsStarted: number;
};

/** Fisher–Yates, returning a new array. */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Deals rounds of shuffled items; a new round never starts with the item that ended the last one. */
function dealer<T>(items: readonly T[], random: () => number): () => T | undefined {
  let round: T[] = [];
  let last: T | undefined;
  return () => {
    if (items.length === 0) return undefined;
    if (round.length === 0) {
      round = shuffle(items, random);
      if (items.length > 1 && round[0] === last) round.push(round.shift() as T);
    }
    last = round.shift();
    return last;
  };
}

export function createRadio(playlist: { songs: readonly PlaylistTrack[]; announcements: readonly PlaylistTrack[] }, opts: RadioOptions = {}): Radio {
  const random = opts.random ?? Math.random;
  const every = Math.max(1, opts.songsPerAnnouncement ?? 2);
  const nextSong = dealer(playlist.songs, random);
  const nextAnnouncement = dealer(playlist.announcements, random);
  let songsSinceAnnouncement = 0;
  let songsStarted = 0;
  let queued: PlaylistTrack | undefined;

  function draw(): PlaylistTrack | undefined {
    const announcementDue = songsSinceAnnouncement >= every || playlist.songs.length === 0;
    if (announcementDue && playlist.announcements.length > 0) {
      songsSinceAnnouncement = 0;
      return nextAnnouncement();
    }
    return nextSong();
  }

  return {
    peek() {
      queued ??= draw();
      return queued;
    },
    next() {
      const t = queued ?? draw();
      queued = undefined;
      if (t?.kind === 'song') {
        songsStarted++;
        songsSinceAnnouncement++;
      }
      return t;
    },
    get songsStarted() {
      return songsStarted;
    },
  };
}
