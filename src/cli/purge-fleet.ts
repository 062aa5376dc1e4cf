// Which edges a purge goes to, and the purge of a deleted file: recorded in the purge log, sent only
// once no origin serves the file any more, then fanned out to every edge (shields first). Shared by
// `mediacdn purge`, `mediacdn rm`, and the origin's delete hook (`mediacdn origin`, `mediacdn up`).
import type { Config } from '../config/index.ts';
import { fleetOf } from '../config/fleet.ts';
import type { Db } from '../db/connect.ts';
import { appendPurges } from '../db/purge-log.ts';
import { purgeFleet, type EdgePurgeResult, type PurgeClientOptions, type PurgeDestination, type PurgeTarget } from '../edge/control/purge-client.ts';
import type { MediaItem } from '../media/library.ts';
import type { RunningRecord } from './running.ts';

/** The name the running `up`'s edge has in reports. */
export const LOCAL_EDGE = 'local';

/**
 * Every edge that may hold a library's files, in purge waves: the fleet's shields, then its edges,
 * origin.purgeEdges and the edge of the running `up` (each control URL once).
 */
export function purgeWaves(config: Pick<Config, 'fleet' | 'origin'>, running: Pick<RunningRecord, 'controlUrl'> | undefined): PurgeDestination[][] {
  const fleet = fleetOf(config);
  const seen = new Set<string>();
  const take = (list: PurgeDestination[]) =>
    list.filter((d) => {
      const url = d.url.replace(/\/+$/, '');
      if (seen.has(url)) return false;
      seen.add(url);
      return true;
    });
  const shields = take(fleet.shields.map((m) => ({ name: m.name, url: m.control })));
  const edges = take([
    ...fleet.edges.map((m) => ({ name: m.name, url: m.control })),
    ...config.origin.purgeEdges.map((url) => ({ name: url.replace(/\/+$/, ''), url })),
    ...(running ? [{ name: LOCAL_EDGE, url: running.controlUrl }] : []),
  ]);
  return [shields, edges].filter((w) => w.length > 0);
}

/** The absolute URL an edge caches a stored file under, for each zone host it may be asked through. */
export function mediaUrlsForPurge(item: Pick<MediaItem, 'url'>, zoneHosts: readonly string[]): string[] {
  const urls = new Set<string>();
  // A signed link's query (expires, token) is not part of what the edge stores the file under.
  const plain = item.url.split('?')[0];
  const abs = plain.startsWith('//') ? `http:${plain}` : plain;
  if (/^https?:\/\//.test(abs)) urls.add(abs);
  const path = new URL(abs, 'http://placeholder.invalid').pathname;
  for (const host of zoneHosts) urls.add(`http://${host}${path}`);
  return [...urls];
}

/** Several targets' results merged per edge: pending when any target is, else done with the sum removed. */
export function mergeByEdge(perTarget: readonly EdgePurgeResult[][]): EdgePurgeResult[] {
  const byUrl = new Map<string, EdgePurgeResult>();
  for (const results of perTarget) {
    for (const r of results) {
      const prev = byUrl.get(r.url);
      if (prev === undefined || r.state === 'pending') {
        if (prev?.state !== 'pending') byUrl.set(r.url, r);
      } else if (prev.state === 'done' && r.state === 'done') {
        byUrl.set(r.url, { ...prev, removed: prev.removed + r.removed, attempts: Math.max(prev.attempts, r.attempts) });
      }
    }
  }
  return [...byUrl.values()];
}

export type PurgeRun = {
  /** Sequence numbers in the purge log; [] when it could not be written (then `logError` says why). */
  seqs: number[];
  logError: string | undefined;
  /** One result per edge. */
  results: EdgePurgeResult[];
};

/**
 * Records the targets in the purge log (edges that miss the fan-out catch up on it), waits until
 * `notBefore` (or until `originStopped` says so, checked every 100 ms), then purges every edge.
 */
export async function recordAndPurge(opts: {
  db: Db | undefined;
  targets: readonly PurgeTarget[];
  waves: readonly (readonly PurgeDestination[])[];
  client: PurgeClientOptions;
  /** Unix ms from which edges may apply the purge; default now. */
  notBefore?: number;
  /** True once the origin the edges fill from answers 404: no need to wait for notBefore. */
  originStopped?: () => Promise<boolean>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}): Promise<PurgeRun> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const notBefore = opts.notBefore ?? now();
  let seqs: number[] = [];
  let logError: string | undefined;
  if (opts.db === undefined) logError = 'no database';
  else {
    try {
      seqs = await appendPurges(opts.db, opts.targets, notBefore, now());
    } catch (err) {
      logError = (err as Error).message;
    }
  }
  // Nothing to send: the log entry is all there is to do (edges read it when its time has come).
  while (opts.waves.length > 0 && now() < notBefore) {
    if (opts.originStopped && (await opts.originStopped().catch(() => false))) break;
    await sleep(Math.min(100, Math.max(1, notBefore - now())));
  }
  const perTarget: EdgePurgeResult[][] = [];
  perTarget.push(...(await Promise.all(opts.targets.map((target) => purgeFleet(opts.waves, target, opts.client)))));
  return { seqs, logError, results: mergeByEdge(perTarget) };
}
