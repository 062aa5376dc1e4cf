// Per-zone statistics of an edge: counters, origin response-time histogram, per-minute figures for the
// last 24 hours and totals. Saved by persistence.ts, rendered by prometheus.ts and summary.ts.
//
// How the edge uses it (one EdgeStats per process, zones are the configured hosts only):
//   const stats = new EdgeStats({ now: Date.now, onWarning: (m) => log.warn(m) });
//   await stats.load(file);                     // at start; a corrupt/unknown file is ignored with a warning
//   const persisting = stats.startPersisting(file, 60_000);   // unref'd timer; `await persisting.stop()` on shutdown
//   stats.record(zone, { kind: 'response', status, outcome, bytes, aborted })       // once per response, on 'close'
//   stats.record(zone, { kind: 'origin-response', status, ms })  // origin response head received (ms since request sent)
//   stats.record(zone, { kind: 'origin-bytes', bytes })          // body bytes read from the origin (any chunking)
//   stats.record(zone, { kind: 'origin-error', code })           // origin attempt that produced no response
//   stats.record(zone, { kind: 'retry' } | { kind: 'stale-if-error' } | { kind: 'stale-while-revalidate' })
//   GET /_mediacdn/stats → JSON.stringify(stats.snapshot());  GET /_mediacdn/metrics → stats.toPrometheus()
//     with Content-Type `text/plain; version=0.0.4; charset=utf-8`.
// With several worker processes each keeps its own EdgeStats; the primary can add their snapshots with merge().
import { ORIGIN_BUCKETS_MS, MINUTE_MS, STATS_VERSION, addFigures, applyEvent, emptyFigures, viewFigures } from './figures.ts';
import type { Figures, StatsEvent, StatsSnapshot } from './figures.ts';
import { persistEvery, readSnapshotFile, writeSnapshotFile } from './persistence.ts';
import type { Persisting } from './persistence.ts';
import { renderPrometheus } from './prometheus.ts';

/** A day of minutes. */
const RING = 1440;

type LoadResult = { kind: 'loaded'; zones: number } | { kind: 'missing' } | { kind: 'ignored'; reason: string };

type ZoneState = { since: number; totals: Figures; ring: Array<{ minute: number; figures: Figures } | undefined> };

type EdgeStatsOptions = {
  /** Unix milliseconds (Date.now). */
  now: () => number;
  /** Persistence problems that are survived: unreadable or unknown-version file, failed periodic save. */
  onWarning?: (message: string) => void;
  /** Guard against recording under arbitrary Host names: events for further zones are dropped. */
  maxZones?: number;
};

export class EdgeStats {
  readonly #now: () => number;
  readonly #warn: (message: string) => void;
  readonly #maxZones: number;
  readonly #zones = new Map<string, ZoneState>();

  constructor(opts: EdgeStatsOptions) {
    this.#now = opts.now;
    this.#warn = opts.onWarning ?? ((m) => process.emitWarning(m, 'EdgeStatsWarning'));
    this.#maxZones = opts.maxZones ?? 1024;
  }

  record(zone: string, event: StatsEvent): void {
    const now = this.#now();
    const state = this.#zone(zone, now);
    if (!state) return;
    applyEvent(state.totals, event);
    applyEvent(this.#minute(state, Math.floor(now / MINUTE_MS)), event);
  }

  /** The figures as JSON-ready data (see StatsSnapshot). */
  snapshot(now: number = this.#now()): StatsSnapshot {
    const current = Math.floor(now / MINUTE_MS);
    const zones: StatsSnapshot['zones'] = {};
    for (const host of [...this.#zones.keys()].sort()) {
      const state = this.#zones.get(host)!;
      const minutes = state.ring
        .filter((m): m is NonNullable<typeof m> => m !== undefined && m.minute > current - RING && m.minute <= current)
        .sort((a, b) => a.minute - b.minute)
        .map((m) => ({ t: m.minute * MINUTE_MS, ...viewFigures(m.figures) }));
      zones[host] = { since: state.since, totals: viewFigures(state.totals), minutes };
    }
    return { version: STATS_VERSION, generatedAt: now, originResponseBucketsMs: [...ORIGIN_BUCKETS_MS], zones };
  }

  /** Prometheus text exposition format 0.0.4 of the totals. */
  toPrometheus(): string {
    return renderPrometheus(this.snapshot());
  }

  /**
   * Adds a snapshot's figures (from disk, or from another worker) to these: totals always, minutes when
   * they fall in the last 24 hours.
   */
  merge(snapshot: StatsSnapshot): void {
    const current = Math.floor(this.#now() / MINUTE_MS);
    for (const [host, saved] of Object.entries(snapshot.zones)) {
      const state = this.#zone(host, saved.since);
      if (!state) continue;
      state.since = Math.min(state.since, saved.since);
      addFigures(state.totals, saved.totals);
      for (const m of saved.minutes) {
        const minute = Math.floor(m.t / MINUTE_MS);
        if (minute > current - RING && minute <= current) addFigures(this.#minute(state, minute), m);
      }
    }
  }

  /** Atomic: writes a temporary file beside `file`, flushes it, then renames it over `file`. */
  async save(file: string): Promise<void> {
    await writeSnapshotFile(file, this.snapshot());
  }

  /** Reads a saved snapshot and merges it. A missing file is normal; anything unreadable is ignored with a warning. */
  async load(file: string): Promise<LoadResult> {
    const read = await readSnapshotFile(file);
    if (read.kind === 'missing') return read;
    if (read.kind === 'invalid') {
      this.#warn(`edge stats: ${file} ${read.reason}; starting from empty statistics`);
      return { kind: 'ignored', reason: read.reason };
    }
    this.merge(read.snapshot);
    return { kind: 'loaded', zones: Object.keys(read.snapshot.zones).length };
  }

  /** Saves every `intervalMs` on an unref'd timer (it never keeps the process alive); failures are warnings. */
  startPersisting(file: string, intervalMs: number): Persisting {
    return persistEvery(() => this.save(file), intervalMs, (err) => this.#warn(`edge stats: saving ${file} failed: ${(err as Error).message}`));
  }

  #zone(host: string, now: number): ZoneState | undefined {
    let state = this.#zones.get(host);
    if (!state) {
      if (this.#zones.size >= this.#maxZones) return undefined;
      state = { since: now, totals: emptyFigures(), ring: new Array(RING) };
      this.#zones.set(host, state);
    }
    return state;
  }

  #minute(state: ZoneState, minute: number): Figures {
    const slot = ((minute % RING) + RING) % RING;
    let entry = state.ring[slot];
    if (!entry || entry.minute !== minute) state.ring[slot] = entry = { minute, figures: emptyFigures() };
    return entry.figures;
  }
}

