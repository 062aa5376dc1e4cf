// The station: what is on the air now for every listener (GET /api/now). The running order comes from
// schedule.ts; each item that goes on the air is committed to a shared store, so every worker process
// (and every listener) agrees on it, and a library change cannot move it. Commits are numbered and
// created exclusively (link(2) fails on an existing name): when two processes race, one wins and the
// other reads the winner's item.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, link, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Library } from '../media/library.ts';
import { buildPlaylist } from './playlist.ts';
import type { Playlist, PlaylistBackground, PlaylistTrack } from './client/playlist-types.ts';
import type { NowPlaying, StationItem } from './client/station-types.ts';
import { DEFAULT_PLAN, endOf, onAirAt, plannedAfter, RoundKeys, type Catalog, type Planned, type PlanOptions } from './schedule.ts';

/** Items shorter than this are not scheduled (a click is not a song, and timing would not hold). */
export const MIN_TRACK_MS = 500;
/** How many items a client may ask for, and how far past the current item `after` may reach. */
export const MAX_UPCOMING = 50;
export const MAX_AFTER_DISTANCE = 1000;

export type StationRecord = { commit: number; planned: Planned };

/** Where committed items live. `latest` is the newest readable commit and the highest commit number seen. */
export type StationStore = {
  latest(): Promise<{ top: number; record: StationRecord | undefined }>;
  /** Creates commit `commit`; false when it exists already (another process was first). */
  tryCommit(record: StationRecord): Promise<boolean>;
};

const cursorSchema = z.object({ round: z.number().int().nonnegative(), last: z.string().nullable(), avoid: z.number().int().nullable(), lastId: z.number().int().nullable() }).strict();
const fileSchema = z
  .object({
    version: z.literal(1),
    commit: z.number().int().nonnegative(),
    epoch: z.number(),
    slot: z.object({
      seq: z.number().int().nonnegative(),
      kind: z.enum(['song', 'announcement']),
      mediaId: z.number().int(),
      startsAt: z.number(),
      durationMs: z.number().positive(),
      backgroundId: z.number().int().nullable(),
    }).strict(),
    state: z.object({ songs: cursorSchema, announcements: cursorSchema, backgrounds: cursorSchema, songsSinceAnnouncement: z.number().int().nonnegative() }).strict(),
  })
  .strict();

const COMMIT_RE = /^c-(\d{12})\.json$/;
const commitName = (n: number) => `c-${String(n).padStart(12, '0')}.json`;
/** Commits kept behind the newest (the rest are removed): enough to read past a damaged file. */
const KEEP = 16;

/** A folder of commit files `c-<number>.json`, shared by the processes that serve the station. */
export function createFileStationStore(dir: string): StationStore {
  let ready: Promise<unknown> | undefined;
  return {
    async latest() {
      const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return [] as string[];
        throw err;
      });
      const numbers = names.map((n) => COMMIT_RE.exec(n)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => b - a);
      const top = numbers[0] ?? -1;
      // A damaged or unknown file is skipped (never trusted), and its number is still taken.
      for (const n of numbers.slice(0, KEEP)) {
        const text = await readFile(path.join(dir, commitName(n)), 'utf8').catch(() => undefined);
        if (text === undefined) continue;
        let parsed: z.infer<typeof fileSchema> | undefined;
        try {
          const r = fileSchema.safeParse(JSON.parse(text));
          if (r.success && r.data.commit === n) parsed = r.data;
        } catch {
          parsed = undefined;
        }
        if (parsed !== undefined) return { top, record: { commit: n, planned: { epoch: parsed.epoch, slot: parsed.slot, state: parsed.state } } };
      }
      return { top, record: undefined };
    },
    async tryCommit(record) {
      ready ??= mkdir(dir, { recursive: true });
      await ready;
      const body = JSON.stringify({ version: 1, commit: record.commit, ...record.planned });
      const tmp = path.join(dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
      await writeFile(tmp, body, { flag: 'wx' });
      try {
        await link(tmp, path.join(dir, commitName(record.commit)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      } finally {
        await rm(tmp, { force: true });
      }
      if (record.commit >= KEEP) {
        const names = await readdir(dir).catch(() => [] as string[]);
        for (const n of names) {
          const m = COMMIT_RE.exec(n);
          if (m !== null && Number(m[1]) < record.commit - KEEP) await rm(path.join(dir, n), { force: true });
        }
      }
      return true;
    },
  };
}

/** The same in memory, for a single process (and tests). */
export function createMemoryStationStore(): StationStore {
  const commits = new Map<number, StationRecord>();
  return {
    async latest() {
      const top = Math.max(-1, ...commits.keys());
      return { top, record: commits.get(top) };
    },
    async tryCommit(record) {
      if (commits.has(record.commit)) return false;
      commits.set(record.commit, structuredClone(record));
      return true;
    },
  };
}

export type StationOptions = {
  library: Library;
  store: StationStore;
  /** The station's clock (ms); injected in tests. */
  now?: () => number;
  /** How long a read of the library is reused (ms): a change shows within this time. */
  catalogTtlMs?: number;
  plan?: PlanOptions;
};

export type Station = {
  nowPlaying(opts?: { upcoming?: number; after?: number }): Promise<NowPlaying>;
};

type Resolved = { playlist: Playlist; catalog: Catalog; tracks: Map<number, PlaylistTrack>; backgrounds: Map<number, PlaylistBackground> };

function resolveCatalog(playlist: Playlist): Resolved {
  const playable = (t: PlaylistTrack) => t.durationMs !== null && t.durationMs >= MIN_TRACK_MS;
  const songs = playlist.songs.filter(playable);
  const announcements = playlist.announcements.filter(playable);
  return {
    playlist,
    catalog: {
      songs: songs.map((t) => ({ id: t.id, durationMs: t.durationMs as number })),
      announcements: announcements.map((t) => ({ id: t.id, durationMs: t.durationMs as number })),
      backgrounds: playlist.backgrounds.map((b) => b.id),
    },
    tracks: new Map([...songs, ...announcements].map((t) => [t.id, t])),
    backgrounds: new Map(playlist.backgrounds.map((b) => [b.id, b])),
  };
}

export function createStation(opts: StationOptions): Station {
  const now = opts.now ?? Date.now;
  const ttl = opts.catalogTtlMs ?? 2000;
  const plan = opts.plan ?? DEFAULT_PLAN;
  const keys = new RoundKeys();
  let cached: { at: number; value: Promise<Resolved> } | undefined;
  let known: StationRecord | undefined;
  let knownTop = -1;
  let settling: Promise<{ record: StationRecord | undefined; r: Resolved }> | undefined;

  function catalog(t: number, fresh = false): Promise<Resolved> {
    if (fresh || cached === undefined || t - cached.at >= ttl || t < cached.at) {
      const value = buildPlaylist(opts.library).then(resolveCatalog);
      cached = { at: t, value };
      value.catch(() => {
        if (cached?.value === value) cached = undefined;
      });
    }
    return cached.value;
  }

  /** The committed item on the air at `t` (committing a new one when the last has ended), with the library it was read against. */
  async function settle(t: number): Promise<{ record: StationRecord | undefined; r: Resolved }> {
    let r = await catalog(t);
    let refreshed = false;
    const holds = (x: StationRecord | undefined) => x !== undefined && onAirAt(x.planned, r.catalog, t, plan, keys).kind === 'unchanged';
    if (holds(known)) return { record: known, r };
    for (let attempt = 0; attempt < 8; attempt++) {
      const disk = await opts.store.latest();
      if (disk.top > knownTop || known === undefined) {
        knownTop = Math.max(knownTop, disk.top);
        known = disk.record ?? known;
      }
      if (holds(known)) return { record: known, r };
      // Another process may have put on the air what this one's (up to catalogTtlMs old) read of the
      // library does not know yet: read again before deciding the item is gone.
      if (!refreshed && known !== undefined && t < endOf(known.planned.slot)) {
        refreshed = true;
        r = await catalog(t, true);
        if (holds(known)) return { record: known, r };
      }
      const next = onAirAt(known?.planned, r.catalog, t, plan, keys);
      if (next.kind !== 'new') return { record: undefined, r };
      const record = { commit: knownTop + 1, planned: next.planned };
      if (await opts.store.tryCommit(record)) {
        known = record;
        knownTop = record.commit;
        return { record, r };
      }
    }
    throw new Error('the station could not commit its next item: too many concurrent writers');
  }

  function item(p: Planned, r: Resolved): StationItem | undefined {
    const track = r.tracks.get(p.slot.mediaId);
    if (track === undefined) return undefined;
    const background = p.slot.backgroundId === null ? null : r.backgrounds.get(p.slot.backgroundId) ?? null;
    return { ...track, seq: p.slot.seq, startsAt: p.slot.startsAt, endsAt: endOf(p.slot), background };
  }

  return {
    async nowPlaying(q = {}) {
      const t = now();
      // One settle at a time per process: listeners arriving together at a boundary share it.
      const mine = (settling ??= settle(t).finally(() => {
        settling = undefined;
      }));
      const { record, r } = await mine;
      const library = { songs: r.catalog.songs.length, announcements: r.catalog.announcements.length, backgrounds: r.catalog.backgrounds.length };
      const onAirSince = record?.planned.epoch ?? known?.planned.epoch ?? null;
      if (record === undefined) return { version: 1, serverTime: t, onAirSince, current: null, offsetMs: null, upcoming: [], library };
      const current = item(record.planned, r) as StationItem;
      const count = Math.min(MAX_UPCOMING, Math.max(0, q.upcoming ?? 5));
      let from = record.planned;
      if (q.after !== undefined && q.after > from.slot.seq) {
        const walk = plannedAfter(from, r.catalog, Math.min(q.after - from.slot.seq, MAX_AFTER_DISTANCE), plan, keys);
        from = walk.at(-1) ?? from;
      }
      const upcoming = plannedAfter(from, r.catalog, count, plan, keys).map((p) => item(p, r) as StationItem);
      return { version: 1, serverTime: t, onAirSince, current, offsetMs: t - current.startsAt, upcoming, library };
    },
  };
}
