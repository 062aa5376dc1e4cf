// The messages between an edge's primary process and its workers (Node's cluster IPC, JSON). Every
// message carries `edge` (its kind); requests carry an id that their reply repeats. Whatever arrives
// is checked for its kind before use: a message of another kind is ignored.
import type { PurgeSelector } from '../cache/cache.ts';
import type { DiskEvent } from '../cache/disk-store.ts';
import type { EntryMeta } from '../cache/store.ts';

/** Worker → primary. */
export type ToPrimary =
  /** Ready to serve (its cache is open): purges and statistics requests reach it from now on. */
  | { edge: 'ready' }
  /** May this worker fill `key`? Replied at once: leader, or not (then `released` follows). */
  | { edge: 'lock'; id: number; key: string }
  | { edge: 'unlock'; key: string }
  /** The lock holder's fill of `key` got a storable response: its body can be shared while it arrives. */
  | { edge: 'fill-start'; key: string; meta: EntryMeta }
  /** The first `bytes` of the fill's body are written to the file `spool` (worker waiting: see 'wanted'). */
  | { edge: 'fill-progress'; key: string; spool: string; bytes: number }
  /** The fill's body is complete in its spool (ok), or will not be (the origin failed, the spool could not be written). */
  | { edge: 'fill-end'; key: string; ok: boolean }
  /** The worker wrote or dropped an entry of the shared disk tier: the others index it. */
  | { edge: 'disk'; event: DiskEvent }
  /** A purge for the whole edge: replied with the variants removed once every worker applied it. */
  | { edge: 'purge'; id: number; selector: PurgeSelector }
  /** The whole edge's statistics. */
  | { edge: 'stats'; id: number }
  /**
   * Tokens of the zone's rate limit for a client, to spend without asking (the bucket is counted once
   * for the edge). Settles the worker's previous lease for that client first: `unused` tokens go back.
   * Replied with a LeaseResult.
   */
  | { edge: 'lease'; id: number; zone: string; ip: string; unused: number }
  /** Ends the worker's lease for a client: `unused` tokens go back to the bucket. */
  | { edge: 'settle'; zone: string; ip: string; unused: number }
  /** Requests wait for the purge log catch-up (the edge is not in step with the log). */
  | { edge: 'catch-up'; id: number }
  /** The answer to a primary's request (apply-purge, snapshot). */
  | { edge: 'reply'; id: number; value: unknown };

/** Primary → worker. */
export type ToWorker =
  | { edge: 'reply'; id: number; value: unknown }
  /** The fill a worker waited for (lock not granted) is over: look the key up again. */
  | { edge: 'released'; id: number }
  /** To the lock holder: another worker waits for `key`; write the body to a spool file as it arrives. */
  | { edge: 'wanted'; key: string }
  /** To a waiter (its lock request `id`): the fill's response, and how much of its body is in `spool`. */
  | { edge: 'filling'; id: number; meta: EntryMeta; spool: string; bytes: number }
  | { edge: 'fill-progress'; id: number; bytes: number }
  | { edge: 'fill-end'; id: number; ok: boolean }
  | { edge: 'disk'; event: DiskEvent }
  | { edge: 'apply-purge'; id: number; selector: PurgeSelector }
  | { edge: 'snapshot'; id: number }
  /** Whether the edge is in step with the purge log (false: requests ask for a catch-up first). */
  | { edge: 'in-step'; value: boolean };

export type LockReply = { leader: boolean };

const KINDS_TO_PRIMARY = new Set(['ready', 'lock', 'unlock', 'fill-start', 'fill-progress', 'fill-end', 'disk', 'purge', 'stats', 'lease', 'settle', 'catch-up', 'reply']);
const KINDS_TO_WORKER = new Set(['reply', 'released', 'wanted', 'filling', 'fill-progress', 'fill-end', 'disk', 'apply-purge', 'snapshot', 'in-step']);

export function isToPrimary(m: unknown): m is ToPrimary {
  return typeof m === 'object' && m !== null && KINDS_TO_PRIMARY.has((m as { edge?: unknown }).edge as string);
}

export function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && KINDS_TO_WORKER.has((m as { edge?: unknown }).edge as string);
}
