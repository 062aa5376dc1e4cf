// `backup prune`: removes snapshots the retention policy does not keep (never the newest verified one),
// then pooled media files that no remaining snapshot lists.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { collectPoolGarbage } from './pool.ts';
import { planPrune, type PrunePlan, type RetentionPolicy } from './prune-plan.ts';
import { lockRepo, listSnapshots, tempName, type Repo } from './repo.ts';

export type PruneResult = {
  plan: PrunePlan;
  dryRun: boolean;
  /** Pooled files removed (or, on a dry run, that would be). */
  pool: { files: number; bytes: number };
  /** Why pool garbage collection was skipped, if it was. */
  poolSkipped: string | undefined;
};

export async function pruneRepo(repo: Repo, policy: RetentionPolicy, opts: { dryRun?: boolean } = {}): Promise<PruneResult> {
  const dryRun = opts.dryRun === true;
  const unlock = await lockRepo(repo, 'backup prune');
  try {
    const all = await listSnapshots(repo);
    const complete = all.filter((s) => s.state === 'complete');
    const plan = planPrune(
      complete.map((s) => ({ id: s.id, verified: s.verification?.ok === true })),
      policy,
    );
    if (!dryRun) {
      for (const id of plan.remove) {
        // Rename first so a half-deleted snapshot never looks complete; the temp is gone after rm.
        const doomed = path.join(repo.snapshotsDir, tempName(`rm-${id}`));
        await fsp.rename(path.join(repo.snapshotsDir, id), doomed);
        await fsp.rm(doomed, { recursive: true, force: true });
      }
    }
    const unreadable = all.filter((s) => s.state === 'unreadable');
    // A snapshot whose manifest cannot be read may still need pooled files: keep them all then.
    if (unreadable.length > 0) {
      return { plan, dryRun, pool: { files: 0, bytes: 0 }, poolSkipped: `snapshot ${unreadable.map((s) => s.id).join(', ')} cannot be read` };
    }
    const kept = new Set(plan.keep.map((k) => k.id));
    const referenced = new Set<string>();
    for (const s of complete) if (kept.has(s.id)) for (const f of s.manifest.files) referenced.add(f.sha256);
    return { plan, dryRun, pool: await collectPoolGarbage(repo, referenced, dryRun), poolSkipped: undefined };
  } finally {
    await unlock();
  }
}
