// Which snapshots a retention policy keeps: keep-last / daily / weekly / monthly buckets in UTC, newest
// first, as restic and borg count them. Pure: the caller lists snapshots and removes what this returns.
import { BackupError } from './errors.ts';
import { snapshotTime } from './manifest.ts';

export type RetentionPolicy = { keepLast?: number; keepDaily?: number; keepWeekly?: number; keepMonthly?: number };

export type KeepReason = 'last' | 'daily' | 'weekly' | 'monthly' | 'newest-verified';

export type PruneCandidate = { id: string; verified: boolean };

export type PrunePlan = {
  keep: Array<{ id: string; reasons: KeepReason[] }>;
  remove: string[];
};

const RULES: ReadonlyArray<readonly [keyof RetentionPolicy, KeepReason, (d: Date) => string]> = [
  ['keepLast', 'last', (d) => d.toISOString()],
  ['keepDaily', 'daily', (d) => d.toISOString().slice(0, 10)],
  ['keepWeekly', 'weekly', isoWeek],
  ['keepMonthly', 'monthly', (d) => d.toISOString().slice(0, 7)],
];

/** ISO 8601 week (weeks start on Monday; week 1 holds the year's first Thursday), e.g. `2026-W48`. */
export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

export function planPrune(snapshots: readonly PruneCandidate[], policy: RetentionPolicy): PrunePlan {
  const active = RULES.filter(([key]) => (policy[key] ?? 0) > 0);
  // Like restic: an empty policy is a mistake, not an order to delete everything.
  if (active.length === 0) throw new BackupError('prune_policy', 'give at least one of --keep-last, --keep-daily, --keep-weekly, --keep-monthly');
  const newestFirst = [...snapshots].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const reasons = new Map<string, KeepReason[]>(newestFirst.map((s) => [s.id, []]));
  for (const [key, reason, bucketOf] of active) {
    let left = policy[key] ?? 0;
    let lastBucket: string | undefined;
    for (const s of newestFirst) {
      if (left === 0) break;
      const bucket = bucketOf(snapshotTime(s.id));
      if (bucket === lastBucket) continue;
      lastBucket = bucket;
      reasons.get(s.id)!.push(reason);
      left--;
    }
  }
  // Whatever the policy says, the newest snapshot known to restore stays.
  const newestVerified = newestFirst.find((s) => s.verified);
  if (newestVerified) reasons.get(newestVerified.id)!.push('newest-verified');
  const plan: PrunePlan = { keep: [], remove: [] };
  for (const s of newestFirst) {
    const r = reasons.get(s.id)!;
    if (r.length > 0) plan.keep.push({ id: s.id, reasons: r });
    else plan.remove.push(s.id);
  }
  return plan;
}
