// The purge log: every purge of the edges gets a sequence number in the library's database, so the
// origin and the CLI (any process that purges) write one log, and an edge that missed purges while it
// was down or cut off asks for those after the last it applied (GET /api/purges?after=N).
import { sql } from 'kysely';
import type { Db } from './connect.ts';

/** What a purge removes, as POST /_mediacdn/purge takes it. */
export type PurgeLogTarget = { url: string } | { prefix: string } | { zone: string };

export type PurgeLogEntry = { seq: number; target: PurgeLogTarget };

/**
 * One page of the log after `after`: the entries an edge may apply now (in order), `last` the sequence
 * number the edge has caught up to once it applied them, and `reset` when the edge cannot catch up
 * entry by entry (its number is older than the oldest entry kept, or newer than the log: another
 * library) and must drop everything it holds, then continue from `last`.
 */
export type PurgeLogPage = { purges: PurgeLogEntry[]; last: number; reset: boolean; more: boolean };

/** Entries kept; older ones are dropped as new ones come (an edge further behind drops its whole cache). */
export const PURGE_LOG_KEEP = 100_000;
export const PURGE_LOG_PAGE = 1000;

/** Appends purges that edges may apply from `notBefore` (Unix ms) on; returns their sequence numbers. */
export async function appendPurges(db: Db, targets: readonly PurgeLogTarget[], notBefore: number, now = Date.now(), keep = PURGE_LOG_KEEP): Promise<number[]> {
  if (targets.length === 0) return [];
  const rows = targets.map((t) => ({ target: JSON.stringify(t), created_at: new Date(now).toISOString(), not_before: Math.ceil(notBefore) }));
  return db.kysely.transaction().execute(async (trx) => {
    // PostgreSQL hands out sequence numbers before commit: two writers could commit 6 before 5, and an
    // edge that read up to 6 would never see 5. One writer at a time keeps commit order = number
    // order (SQLite has a single writer anyway).
    if (db.dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(current_schema() || '.mediacdn.purge_log'))`.execute(trx);
    const inserted = await trx.insertInto('purge_log').values(rows).returning('seq').execute();
    const seqs = inserted.map((r) => Number(r.seq)).sort((a, b) => a - b);
    const cut = seqs[seqs.length - 1] - keep;
    // Now and then (every hundredth number), not on every append.
    if (cut > 0 && (seqs[0] % 100 < targets.length || keep < 100)) await trx.deleteFrom('purge_log').where('seq', '<=', cut).execute();
    return seqs;
  });
}

/**
 * The entries after `after` that edges may apply at `now`: in sequence order, up to the first one
 * whose time has not come (a deletion's purge waits until no origin serves the file any more), so
 * that an edge's position in the log is one number. `after` = -1 means "never caught up": reset.
 */
export async function purgesAfter(db: Db, after: number, now: number, limit = PURGE_LOG_PAGE): Promise<PurgeLogPage> {
  // Two queries: each of min() and max() alone is one index probe; together SQLite scans the table.
  const low = await db.kysely.selectFrom('purge_log').select('seq').orderBy('seq', 'asc').limit(1).executeTakeFirst();
  const high = await db.kysely.selectFrom('purge_log').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
  const first = low === undefined ? undefined : Number(low.seq);
  const max = high === undefined ? 0 : Number(high.seq);
  const lost = first !== undefined && after < first - 1;
  const reset = after < 0 || after > max || lost;
  // The first entry not yet due caps what anyone may apply. Entries up to `after` were due when the
  // edge passed them, so an edge in step costs a short range read from its position, not a scan.
  const waiting = await db.kysely
    .selectFrom('purge_log')
    .select('seq')
    .where('seq', '>', reset ? 0 : after)
    .where('not_before', '>', now)
    .orderBy('seq')
    .limit(1)
    .executeTakeFirst();
  const due = waiting === undefined ? max : Number(waiting.seq) - 1;
  if (reset) return { purges: [], last: due, reset: true, more: false };
  if (after >= due) return { purges: [], last: after, reset: false, more: false };
  const rows = await db.kysely
    .selectFrom('purge_log')
    .select(['seq', 'target'])
    .where('seq', '>', after)
    .where('seq', '<=', due)
    .orderBy('seq')
    .limit(limit)
    .execute();
  const purges: PurgeLogEntry[] = rows.map((r) => ({ seq: Number(r.seq), target: JSON.parse(r.target) as PurgeLogTarget }));
  const last = purges.length > 0 ? purges[purges.length - 1].seq : due;
  return { purges, last, reset: false, more: last < due };
}
