// The listener page's arithmetic, kept pure (tested without a browser): the station's clock from the
// server's answers, where in an item the station is, and which item comes next.
import type { StationItem } from './station-types.ts';

/** One exchange with the server: when the request left, when the answer came, the server's clock in it. */
export type ClockSample = { sentAt: number; receivedAt: number; serverTime: number };

/**
 * server clock − own clock, from the sample with the shortest round trip (NTP's rule: its midpoint is
 * the best estimate of when the server read its clock). Off by at most half that round trip.
 */
export function clockOffset(samples: readonly ClockSample[]): number {
  let best: ClockSample | undefined;
  for (const s of samples) {
    if (s.receivedAt < s.sentAt) continue;
    if (best === undefined || s.receivedAt - s.sentAt < best.receivedAt - best.sentAt) best = s;
  }
  return best === undefined ? 0 : best.serverTime - (best.sentAt + best.receivedAt) / 2;
}

/** Keeps the last few samples: enough to pick a good one, few enough to follow a clock that is set. */
export function addSample(samples: readonly ClockSample[], s: ClockSample, keep = 5): ClockSample[] {
  return [...samples, s].slice(-keep);
}

/** Seconds into `item` at station time `t` (ms), never below 0 (an item that has not started yet). */
export function positionAt(item: Pick<StationItem, 'startsAt'>, t: number): number {
  return Math.max(0, (t - item.startsAt) / 1000);
}

/** The item on the air at station time `t` among `items`, if any of them covers it. */
export function itemAt(items: readonly StationItem[], t: number): StationItem | undefined {
  return items.find((i) => i.startsAt <= t && t < i.endsAt);
}

/** The item after `seq` in the running order, if known. */
export function itemAfter(items: readonly StationItem[], seq: number): StationItem | undefined {
  let best: StationItem | undefined;
  for (const i of items) if (i.seq > seq && (best === undefined || i.seq < best.seq)) best = i;
  return best;
}

/**
 * Known items with a newer answer merged in. `fresh` is a run of consecutive items; it replaces the
 * known items with the same seq, and when it differs from what was known (the library changed), the
 * plan after it is dropped too. Items before `keepFrom` are forgotten.
 */
export function mergeItems(old: readonly StationItem[], fresh: readonly StationItem[], keepFrom: number): StationItem[] {
  if (fresh.length === 0) return old.filter((i) => i.seq >= keepFrom);
  const first = fresh[0].seq;
  const last = fresh[fresh.length - 1].seq;
  const bySeq = new Map(fresh.map((i) => [i.seq, i]));
  const changed = old.some((i) => {
    const f = bySeq.get(i.seq);
    return f !== undefined && (f.id !== i.id || f.startsAt !== i.startsAt);
  });
  const kept = old.filter((i) => i.seq >= keepFrom && (i.seq < first || (i.seq > last && !changed)));
  return [...kept, ...fresh].sort((a, b) => a.seq - b.seq);
}

/**
 * How far the playing position may stray from the station's before the page seeks back: more than a
 * stall or a slow start, less than the one second listeners may differ by.
 */
export const MAX_DRIFT_S = 0.6;

export function needsResync(currentTime: number, live: number, duration: number): boolean {
  // Past the end of the file (its real length is a little shorter than recorded): nothing to seek to.
  if (Number.isFinite(duration) && live >= duration - 0.1) return false;
  return Math.abs(currentTime - live) > MAX_DRIFT_S;
}
