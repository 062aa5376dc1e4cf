// The messages between an edge's primary process and its workers (Node's cluster IPC, JSON). Every
// message carries `edge` (its kind); requests carry an id that their reply repeats. Whatever arrives
// is checked for its kind before use: a message of another kind is ignored.
import type { PurgeSelector } from '../cache/cache.ts';
import type { DiskEvent } from '../cache/disk-store.ts';

/** Worker → primary. */
export type ToPrimary =
  /** Ready to serve (its cache is open): purges and statistics requests reach it from now on. */
  | { edge: 'ready' }
  /** May this worker fill `key`? Replied at once: leader, or not (then `released` follows). */
  | { edge: 'lock'; id: number; key: string }
  | { edge: 'unlock'; key: string }
  /** The worker wrote or dropped an entry of the shared disk tier: the others index it. */
  | { edge: 'disk'; event: DiskEvent }
  /** A purge for the whole edge: replied with the variants removed once every worker applied it. */
  | { edge: 'purge'; id: number; selector: PurgeSelector }
  /** The whole edge's statistics. */
  | { edge: 'stats'; id: number }
  /** One token of the zone's rate limit for a client, counted once for the edge. */
  | { edge: 'take'; id: number; zone: string; ip: string }
  /** Requests wait for the purge log catch-up (the edge is not in step with the log). */
  | { edge: 'catch-up'; id: number }
  /** The answer to a primary's request (apply-purge, snapshot). */
  | { edge: 'reply'; id: number; value: unknown };

/** Primary → worker. */
export type ToWorker =
  | { edge: 'reply'; id: number; value: unknown }
  /** The fill a worker waited for (lock not granted) is over: look the key up again. */
  | { edge: 'released'; id: number }
  | { edge: 'disk'; event: DiskEvent }
  | { edge: 'apply-purge'; id: number; selector: PurgeSelector }
  | { edge: 'snapshot'; id: number }
  /** Whether the edge is in step with the purge log (false: requests ask for a catch-up first). */
  | { edge: 'in-step'; value: boolean };

export type LockReply = { leader: boolean };

const KINDS_TO_PRIMARY = new Set(['ready', 'lock', 'unlock', 'disk', 'purge', 'stats', 'take', 'catch-up', 'reply']);
const KINDS_TO_WORKER = new Set(['reply', 'released', 'disk', 'apply-purge', 'snapshot', 'in-step']);

export function isToPrimary(m: unknown): m is ToPrimary {
  return typeof m === 'object' && m !== null && KINDS_TO_PRIMARY.has((m as { edge?: unknown }).edge as string);
}

export function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && KINDS_TO_WORKER.has((m as { edge?: unknown }).edge as string);
}
