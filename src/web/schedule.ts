// The station's running order, the same for every listener: songs in rounds (each song once per round,
// in an order drawn from the station's seed), an announcement after every few songs, a background per
// song. Pure: the library, the last committed item and the time are arguments (station.ts stores).
//
// Stability: what is on the air is a committed item with a fixed start; the next item is computed from
// that item's state and the library of the moment it starts. A library change therefore alters only
// what has not started yet: the item playing now keeps its place, start and length for everybody.
import { createHash } from 'node:crypto';

export type Track = { id: number; durationMs: number };
/** What the library offers the station; only tracks with a known duration can be scheduled. */
export type Catalog = { songs: readonly Track[]; announcements: readonly Track[]; backgrounds: readonly number[] };

/**
 * Where a rotation stands in its round. Each round orders the items by a hash of (seed, round, id);
 * `last` is the sort key of the latest pick, so items added later join the round at their place and
 * deleted ones simply drop out. `avoid` is the item that ended the previous round: it goes last in this
 * one, so nothing plays twice in a row.
 */
export type Cursor = { round: number; last: string | null; avoid: number | null; lastId: number | null };

export type PlanState = { songs: Cursor; announcements: Cursor; backgrounds: Cursor; songsSinceAnnouncement: number };

export type Slot = { seq: number; kind: 'song' | 'announcement'; mediaId: number; startsAt: number; durationMs: number; backgroundId: number | null };

/** An item of the running order with the rotation state after it: enough to compute what follows. */
export type Planned = { epoch: number; slot: Slot; state: PlanState };

export type PlanOptions = {
  /** Songs between two announcements. */
  songsPerAnnouncement: number;
  /** When the station was silent longer than this (server down, empty library), it restarts at `now`. */
  maxGapMs: number;
  /** Upper bound of items walked to catch up with `now`; past it the station restarts at `now`. */
  maxSteps: number;
};

export const DEFAULT_PLAN: PlanOptions = { songsPerAnnouncement: 2, maxGapMs: 60 * 60_000, maxSteps: 2000 };

const START_CURSOR: Cursor = { round: 0, last: null, avoid: null, lastId: null };
const START_STATE: PlanState = { songs: START_CURSOR, announcements: START_CURSOR, backgrounds: START_CURSOR, songsSinceAnnouncement: 0 };

export const endOf = (s: Slot): number => s.startsAt + s.durationMs;

/** Sort keys of a round, memoised: a walk over many items hashes each (round, id) once. */
export class RoundKeys {
  readonly #memo = new Map<string, string>();
  key(seed: number, rotation: string, round: number, id: number, avoid: number | null): string {
    // '~' sorts after every hex digit: the avoided item goes last in its round.
    const prefix = id === avoid ? '~' : '';
    const memoKey = `${rotation}/${round}/${id}`;
    let h = this.#memo.get(memoKey);
    if (h === undefined) {
      if (this.#memo.size > 200_000) this.#memo.clear();
      h = `${createHash('sha256').update(`${seed}/${memoKey}`).digest('hex').slice(0, 16)}:${String(id).padStart(16, '0')}`;
      this.#memo.set(memoKey, h);
    }
    return prefix + h;
  }
}

/** The next item of a rotation after `cursor`, and the cursor after it; undefined when `ids` is empty. */
export function pick(ids: readonly number[], cursor: Cursor, seed: number, rotation: string, keys: RoundKeys): { id: number; cursor: Cursor } | undefined {
  if (ids.length === 0) return undefined;
  const smallest = (round: number, avoid: number | null, above: string | null) => {
    let best: { id: number; key: string } | undefined;
    for (const id of ids) {
      const k = keys.key(seed, rotation, round, id, avoid);
      if (above !== null && k <= above) continue;
      if (best === undefined || k < best.key) best = { id, key: k };
    }
    return best;
  };
  const inRound = smallest(cursor.round, cursor.avoid, cursor.last);
  if (inRound !== undefined) return { id: inRound.id, cursor: { ...cursor, last: inRound.key, lastId: inRound.id } };
  const round = cursor.round + 1;
  const avoid = ids.length > 1 ? cursor.lastId : null;
  const first = smallest(round, avoid, null) as { id: number; key: string };
  return { id: first.id, cursor: { round, last: first.key, avoid, lastId: first.id } };
}

/** The item after `prev` (or the very first), starting at `startsAt`; undefined when nothing can play. */
export function nextPlanned(prev: Planned | undefined, cat: Catalog, startsAt: number, opts: PlanOptions = DEFAULT_PLAN, keys = new RoundKeys()): Planned | undefined {
  const epoch = prev?.epoch ?? startsAt;
  const state = prev?.state ?? START_STATE;
  const seq = prev === undefined ? 0 : prev.slot.seq + 1;
  const bgIds = cat.backgrounds;
  const announcementDue = state.songsSinceAnnouncement >= Math.max(1, opts.songsPerAnnouncement) || cat.songs.length === 0;
  if (announcementDue && cat.announcements.length > 0) {
    const a = pick(cat.announcements.map((t) => t.id), state.announcements, epoch, 'announcement', keys) as { id: number; cursor: Cursor };
    const track = cat.announcements.find((t) => t.id === a.id) as Track;
    // An announcement keeps the background of the song before it, while that background exists.
    const prevBg = prev?.slot.backgroundId ?? null;
    let backgroundId = prevBg !== null && bgIds.includes(prevBg) ? prevBg : null;
    let backgrounds = state.backgrounds;
    if (backgroundId === null && bgIds.length > 0) {
      const b = pick(bgIds, backgrounds, epoch, 'background', keys) as { id: number; cursor: Cursor };
      backgroundId = b.id;
      backgrounds = b.cursor;
    }
    return {
      epoch,
      slot: { seq, kind: 'announcement', mediaId: a.id, startsAt, durationMs: track.durationMs, backgroundId },
      state: { ...state, announcements: a.cursor, backgrounds, songsSinceAnnouncement: 0 },
    };
  }
  if (cat.songs.length === 0) return undefined;
  const s = pick(cat.songs.map((t) => t.id), state.songs, epoch, 'song', keys) as { id: number; cursor: Cursor };
  const track = cat.songs.find((t) => t.id === s.id) as Track;
  const b = pick(bgIds, state.backgrounds, epoch, 'background', keys);
  return {
    epoch,
    slot: { seq, kind: 'song', mediaId: s.id, startsAt, durationMs: track.durationMs, backgroundId: b?.id ?? null },
    state: { ...state, songs: s.cursor, backgrounds: b?.cursor ?? state.backgrounds, songsSinceAnnouncement: state.songsSinceAnnouncement + 1 },
  };
}

/** True while the library still offers the item as what it was scheduled as. */
export function isPlayable(slot: Slot, cat: Catalog): boolean {
  const list = slot.kind === 'song' ? cat.songs : cat.announcements;
  return list.some((t) => t.id === slot.mediaId);
}

export type OnAir =
  | { kind: 'off-air' }
  /** `latest` still holds: nothing to commit. */
  | { kind: 'unchanged'; planned: Planned }
  /** A new item is on the air: commit it (another process may have committed first). */
  | { kind: 'new'; planned: Planned };

/**
 * What is on the air at `now`, given the latest committed item. The committed item holds while it lasts
 * and its media is still a playable track. After it, the station walks the running order from its end
 * (as if it had played on while nobody asked) to the item that covers `now`; after a long silence it
 * restarts at `now`. An item whose media was deleted gives way at once to the next, starting at `now`.
 */
export function onAirAt(latest: Planned | undefined, cat: Catalog, now: number, opts: PlanOptions = DEFAULT_PLAN, keys = new RoundKeys()): OnAir {
  if (latest !== undefined) {
    const s = latest.slot;
    // A clock that went back (or an item that starts later) keeps the committed item: listeners wait for it.
    if (now < endOf(s) && isPlayable(s, cat)) return { kind: 'unchanged', planned: latest };
  }
  if (cat.songs.length === 0 && cat.announcements.length === 0) return { kind: 'off-air' };
  if (latest === undefined) return { kind: 'new', planned: nextPlanned(undefined, cat, now, opts, keys) as Planned };
  if (now < endOf(latest.slot)) return { kind: 'new', planned: nextPlanned(latest, cat, now, opts, keys) as Planned };
  let p = latest;
  for (let steps = 0; endOf(p.slot) <= now; steps++) {
    const restart = now - endOf(p.slot) > opts.maxGapMs || steps >= opts.maxSteps;
    p = nextPlanned(p, cat, restart ? now : endOf(p.slot), opts, keys) as Planned;
  }
  return { kind: 'new', planned: p };
}

/** The `count` items after `from`, as planned with today's library (each starts when the one before ends). */
export function plannedAfter(from: Planned, cat: Catalog, count: number, opts: PlanOptions = DEFAULT_PLAN, keys = new RoundKeys()): Planned[] {
  const out: Planned[] = [];
  let p: Planned | undefined = from;
  while (out.length < count) {
    p = nextPlanned(p, cat, endOf(p.slot), opts, keys);
    if (p === undefined) break;
    out.push(p);
  }
  return out;
}
