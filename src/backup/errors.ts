// Errors of the backup subsystem: one class with stable codes, so the CLI maps them to exit codes in one place.
import { EXIT, MediaCdnError, type ExitCode } from '../errors.ts';

export type BackupErrorCode =
  | 'manifest_invalid'
  | 'manifest_version'
  | 'snapshot_exists'
  | 'snapshot_not_found'
  | 'repo_locked'
  | 'media_missing'
  | 'media_corrupt'
  | 'dump_failed'
  | 'verify_failed'
  | 'target_not_empty'
  | 'restore_refused'
  | 'restore_failed'
  | 'then_failed'
  | 'prune_policy';

export class BackupError extends MediaCdnError {
  declare readonly code: BackupErrorCode;
  constructor(code: BackupErrorCode, message: string, opts: { exitCode?: ExitCode; status?: number; cause?: unknown } = {}) {
    super(code, message, { status: opts.status ?? 500, exitCode: opts.exitCode ?? defaultExit(code), cause: opts.cause });
  }
}

function defaultExit(code: BackupErrorCode): ExitCode {
  switch (code) {
    case 'snapshot_not_found':
      return EXIT.input;
    case 'prune_policy':
      return EXIT.usage;
    // The snapshot's content cannot go into the target as it is (a value the dialect cannot store, a
    // pooled copy missing or damaged).
    case 'restore_refused':
      return EXIT.rejected;
    // Refused for now, like a deletion without --force: a non-empty target, a busy repository, a
    // second snapshot within the same second (failure, exit 1).
    default:
      return EXIT.failure;
  }
}
