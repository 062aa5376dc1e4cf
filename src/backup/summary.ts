// One line per snapshot for the dashboard's backups list: when, how big, what it holds, last verify.
import { listSnapshots, openRepo } from './repo.ts';

export type BackupSummary = {
  id: string;
  createdAt: string;
  sizeBytes: number;
  files: number;
  rows: number;
  dialect: string;
  lastVerified: { at: string; ok: boolean; message?: string } | null;
};

/** Newest first; a repository that does not exist yet is an empty list. Never cleans temps (read-only). */
export async function summariseBackups(repoRoot: string): Promise<BackupSummary[]> {
  const entries = await listSnapshots(openRepo(repoRoot), { cleanTemps: false });
  const out: BackupSummary[] = [];
  for (const e of entries) {
    if (e.state !== 'complete') continue;
    const m = e.manifest;
    const v = e.verification;
    out.push({
      id: e.id,
      createdAt: m.createdAt,
      sizeBytes: m.totals.bytes + m.database.dump.bytes + m.export.tables.reduce((n, t) => n + t.bytes, 0),
      files: m.totals.files,
      rows: Object.values(m.rows).reduce((n, r) => n + r, 0),
      dialect: m.database.dialect,
      lastVerified: v ? { at: v.at, ok: v.ok, ...(v.problems[0] !== undefined ? { message: v.problems[0] } : {}) } : null,
    });
  }
  return out.reverse();
}
