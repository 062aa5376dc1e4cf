// Backup commands: backup create, list, verify, restore, prune, export.
import path from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config/index.ts';
import { EXIT, InputError } from '../errors.ts';
import { createSnapshot, type CreateProgress } from '../backup/create.ts';
import { BackupError } from '../backup/errors.ts';
import { exportSnapshot } from '../backup/export.ts';
import { pruneRepo } from '../backup/prune.ts';
import { listSnapshots, openRepo, removeAbandonedTemps, resolveSnapshotId, type Repo } from '../backup/repo.ts';
import { restoreSnapshot } from '../backup/restore.ts';
import { runThen } from '../backup/then.ts';
import { verifySnapshot } from '../backup/verify.ts';
import { configFrom, intOption, progressBar, type Io } from './context.ts';
import { withLibrary } from './open-library.ts';
import { formatBytes } from '../web/client/format.ts';
import { VERSION } from './version.ts';

type RepoOpts = { repo?: string };

function repoFrom(cmd: Command, io: Io, o: RepoOpts, overrides: Record<string, unknown> = {}): { config: Config; repo: Repo } {
  const config = configFrom(cmd, io, { ...overrides, ...(o.repo !== undefined ? { backup: { repo: o.repo } } : {}) });
  return { config, repo: openRepo(config.backup.repo) };
}

/** Test seam for the crash test: stop before the final rename until killed or sent SIGUSR2. */
function holdHook(io: Io): ((tempDir: string) => Promise<void>) | undefined {
  if (io.env.MEDIACDN_BACKUP_TEST_HOLD !== '1') return undefined;
  return (tempDir) =>
    new Promise<void>((resolve) => {
      const keepAlive = setInterval(() => {}, 1 << 30);
      process.once('SIGUSR2', () => {
        clearInterval(keepAlive);
        resolve();
      });
      io.err(`holding before rename: ${tempDir}`);
    });
}

function createProgressReporter(io: Io): (p: CreateProgress) => void {
  let bar: ReturnType<typeof progressBar> | undefined;
  return (p) => {
    if (p.phase === 'database' && io.isTTY) io.err('copying the database…');
    if (p.phase === 'media') {
      bar ??= progressBar(io, `media ${p.filesTotal} file(s)`, p.bytesTotal);
      bar.update(p.bytes);
    }
    if (p.phase === 'finishing') bar?.done();
  };
}

export function registerBackup(program: Command, io: Io): void {
  const backup = program.command('backup').description('snapshots of the database and media that are proven to restore');
  const repoOption = ['--repo <dir>', 'backup repository (MEDIACDN_BACKUP_REPO, default $MEDIACDN_DATA/backups)'] as const;

  backup
    .command('create')
    .description('take a snapshot: database copy, new media files into the shared pool, manifest')
    .option(...repoOption)
    .option('--then <command>', 'shell command run after the snapshot with its folder as last argument (config backup.then)')
    .option('--json', 'print JSON')
    .action(async (o: RepoOpts & { then?: string; json?: boolean }, cmd: Command) => {
      const { config, repo } = repoFrom(cmd, io, o);
      const result = await withLibrary(config, (lib) =>
        createSnapshot(lib, repo, { toolVersion: VERSION, onProgress: createProgressReporter(io), hooks: { beforeRename: holdHook(io) } }),
      );
      const s = result.stats;
      if (o.json) io.out(JSON.stringify({ id: result.id, dir: result.dir, stats: s, totals: result.manifest.totals, rows: result.manifest.rows }, null, 2));
      else {
        io.out(`snapshot ${result.id}: ${result.manifest.totals.files} file(s), ${formatBytes(result.manifest.totals.bytes)} of media; ${Object.entries(result.manifest.rows).map(([t, n]) => `${n} ${t}`).join(', ')}`);
        io.out(`  copied ${s.filesCopied} new file(s) (${formatBytes(s.bytesCopied)}), ${s.filesReused} already in the pool${s.attempts > 1 ? `, ${s.attempts} database copies` : ''}`);
      }
      const then = o.then ?? config.backup.then;
      if (then !== undefined) await runThen(then, { id: result.id, dir: result.dir, repo: repo.root }, io);
    });

  backup
    .command('list')
    .description('list snapshots with time, size, files, rows and last verification')
    .option(...repoOption)
    .option('--json', 'print JSON')
    .action(async (o: RepoOpts & { json?: boolean }, cmd: Command) => {
      const { repo } = repoFrom(cmd, io, o);
      const removed = await removeAbandonedTemps(repo);
      for (const r of removed) io.err(`removed unfinished ${r}`);
      const all = await listSnapshots(repo, { cleanTemps: false });
      if (o.json) {
        io.out(JSON.stringify(all.map((s) => (s.state === 'complete' ? { id: s.id, state: s.state, createdAt: s.manifest.createdAt, dialect: s.manifest.database.dialect, totals: s.manifest.totals, rows: s.manifest.rows, verification: s.verification } : s)), null, 2));
        return;
      }
      for (const s of all) {
        if (s.state === 'unreadable') {
          io.out(`${s.id}  UNREADABLE: ${s.error}`);
          continue;
        }
        const m = s.manifest;
        const rows = Object.values(m.rows).reduce((a, b) => a + b, 0);
        const v = s.verification ? `${s.verification.ok ? 'verified' : 'FAILED'} ${s.verification.at}${s.verification.filesChecked < s.verification.filesTotal ? ` (sample ${s.verification.filesChecked})` : ''}` : 'never verified';
        io.out(`${s.id}  ${m.createdAt}  ${m.database.dialect.padEnd(8)}  ${String(m.totals.files).padStart(6)} file(s)  ${formatBytes(m.totals.bytes).padStart(9)}  ${String(rows).padStart(7)} row(s)  ${v}`);
      }
      io.out(`${all.length} snapshot(s) in ${repo.root}`);
    });

  backup
    .command('verify')
    .description('load the dump into a scratch database, compare row counts, check pooled files against their SHA-256')
    .argument('<id>', 'snapshot id or "latest"')
    .option(...repoOption)
    .option('--sample <n>', 'hash only n randomly chosen media files', intOption('--sample'))
    .option('--database-url <url>', 'PostgreSQL server for the scratch database (default: DATABASE_URL)')
    .option('--json', 'print JSON')
    .action(async (ref: string, o: RepoOpts & { sample?: number; databaseUrl?: string; json?: boolean }, cmd: Command) => {
      const { config, repo } = repoFrom(cmd, io, o);
      const id = await resolveSnapshotId(repo, ref);
      const pgUrl = o.databaseUrl ?? (config.database.kind === 'postgres' ? config.database.url : undefined);
      const r = await verifySnapshot(repo, id, { sample: o.sample, postgresUrl: pgUrl });
      if (o.json) io.out(JSON.stringify({ id, ...r }, null, 2));
      else {
        for (const p of r.problems) io.out(`problem: ${p}`);
        io.out(`snapshot ${id}: ${r.ok ? 'OK' : 'FAILED'}: dump and export loaded, ${r.filesChecked} of ${r.filesTotal} media file(s) hashed, ${r.problems.length} problem(s)`);
      }
      if (!r.ok) throw new BackupError('verify_failed', `snapshot ${id} failed verification with ${r.problems.length} problem(s)`);
    });

  backup
    .command('restore')
    .description('restore a snapshot into an empty library: the one named by --data / --database-url')
    .argument('<id>', 'snapshot id or "latest"')
    .option(...repoOption)
    .option('--database-url <url>', 'target PostgreSQL database (default: DATABASE_URL, else SQLite in the data directory)')
    .option('--sqlite', 'target SQLite in the data directory even when DATABASE_URL is set')
    .option('--force', 'replace the rows and media files of a non-empty target')
    .action(async (ref: string, o: RepoOpts & { databaseUrl?: string; sqlite?: boolean; force?: boolean }, cmd: Command) => {
      if (o.sqlite && o.databaseUrl !== undefined) throw new InputError('bad_target', 'give --sqlite or --database-url, not both', { exitCode: EXIT.usage });
      const targetIo: Io = o.sqlite ? { ...io, env: { ...io.env, DATABASE_URL: undefined } } : io;
      const { config, repo } = repoFrom(cmd, targetIo, o, o.databaseUrl !== undefined ? { databaseUrl: o.databaseUrl } : {});
      const id = await resolveSnapshotId(repo, ref);
      let bar: ReturnType<typeof progressBar> | undefined;
      const r = await restoreSnapshot(repo, id, { database: config.database, mediaDir: config.mediaDir }, {
        force: o.force,
        onProgress: (p) => (bar ??= progressBar(io, `restoring ${p.filesTotal} file(s)`, p.bytesTotal)).update(p.bytes),
      });
      bar?.done();
      const where = config.database.kind === 'sqlite' ? config.database.path : 'PostgreSQL';
      io.out(`restored ${id}: ${r.files} file(s) (${formatBytes(r.bytes)}) into ${config.mediaDir}; ${Object.entries(r.rows).map(([t, n]) => `${n} ${t}`).join(', ')} into ${where}; check passed`);
    });

  backup
    .command('prune')
    .description('remove snapshots outside the retention policy (never the newest verified), then unreferenced pooled files')
    .option(...repoOption)
    .option('--keep-last <n>', 'keep the n newest snapshots', intOption('--keep-last'))
    .option('--keep-daily <n>', 'keep the newest snapshot of each of the last n days', intOption('--keep-daily'))
    .option('--keep-weekly <n>', 'keep the newest snapshot of each of the last n ISO weeks', intOption('--keep-weekly'))
    .option('--keep-monthly <n>', 'keep the newest snapshot of each of the last n months', intOption('--keep-monthly'))
    .option('--dry-run', 'only say what would be removed')
    .option('--json', 'print JSON')
    .action(async (o: RepoOpts & { keepLast?: number; keepDaily?: number; keepWeekly?: number; keepMonthly?: number; dryRun?: boolean; json?: boolean }, cmd: Command) => {
      const { repo } = repoFrom(cmd, io, o);
      const r = await pruneRepo(repo, { keepLast: o.keepLast, keepDaily: o.keepDaily, keepWeekly: o.keepWeekly, keepMonthly: o.keepMonthly }, { dryRun: o.dryRun });
      if (o.json) {
        io.out(JSON.stringify(r, null, 2));
        return;
      }
      const verb = r.dryRun ? 'would remove' : 'removed';
      for (const k of r.plan.keep) io.out(`keep    ${k.id}  (${k.reasons.join(', ')})`);
      for (const id of r.plan.remove) io.out(`${r.dryRun ? 'remove? ' : 'removed '}${id}`);
      io.out(`${r.plan.keep.length} kept, ${r.plan.remove.length} ${verb}; pool: ${r.poolSkipped ? `not collected (${r.poolSkipped})` : `${r.pool.files} file(s), ${formatBytes(r.pool.bytes)} ${verb}`}`);
    });

  backup
    .command('export')
    .description('write one self-contained tar of a snapshot and its media (extract it, then restore with --repo)')
    .argument('<id>', 'snapshot id or "latest"')
    .requiredOption('--out <file>', 'tar file to write')
    .option(...repoOption)
    .action(async (ref: string, o: RepoOpts & { out: string }, cmd: Command) => {
      const { repo } = repoFrom(cmd, io, o);
      const id = await resolveSnapshotId(repo, ref);
      const out = path.resolve(io.cwd, o.out);
      const r = await exportSnapshot(repo, id, out);
      io.out(`exported ${id} to ${out}: ${formatBytes(r.bytes)}, ${r.files} media file(s)`);
    });
}
