// Errors that cross module boundaries: a stable `code` for programs, an HTTP `status` for servers,
// and a CLI exit code, converted to responses / exit codes in one place each (origin, edge, cli).

export type ExitCode = 1 | 2 | 3 | 4 | 5;

/** Exit codes of the CLI, documented in the README. */
export const EXIT = {
  failure: 1,
  usage: 2,
  input: 3,
  rejected: 4,
  database: 5,
} as const satisfies Record<string, ExitCode>;

export class MediaCdnError extends Error {
  readonly code: string;
  readonly status: number;
  readonly exitCode: ExitCode;
  constructor(code: string, message: string, opts: { status?: number; exitCode?: ExitCode; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = opts.status ?? 500;
    this.exitCode = opts.exitCode ?? EXIT.failure;
  }
}

/** A configuration option is unknown or has a bad value; `path` names the option. */
export class ConfigError extends MediaCdnError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('config_invalid', `config ${path}: ${message}`, { status: 500, exitCode: EXIT.usage });
    this.path = path;
  }
}

/** Input that a user supplied is wrong: bad file, bad type, bad id. */
export class InputError extends MediaCdnError {
  constructor(code: string, message: string, opts: { status?: number; exitCode?: ExitCode; cause?: unknown } = {}) {
    super(code, message, { status: opts.status ?? 400, exitCode: opts.exitCode ?? EXIT.input, cause: opts.cause });
  }
}

export class NotFoundError extends MediaCdnError {
  constructor(message: string) {
    super('not_found', message, { status: 404, exitCode: EXIT.input });
  }
}

export class ConflictError extends MediaCdnError {
  constructor(code: string, message: string) {
    super(code, message, { status: 409, exitCode: EXIT.failure });
  }
}

export class DatabaseUnavailableError extends MediaCdnError {
  constructor(message: string, cause?: unknown) {
    super('database_unavailable', message, { status: 503, exitCode: EXIT.database, cause });
  }
}

/** The disk under the media storage or the database is full: 507 Insufficient Storage (RFC 4918 §11.5). */
export class StorageFullError extends MediaCdnError {
  constructor(message: string, cause?: unknown) {
    super('storage_full', message, { status: 507, exitCode: EXIT.failure, cause });
  }
}

/**
 * True for the errors that mean "no space left": ENOSPC / EDQUOT from the file system, SQLITE_FULL
 * (node:sqlite reports the primary result code 13 in `errcode`), PostgreSQL's disk_full (53100).
 */
export function isOutOfSpace(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, errcode } = err as { code?: unknown; errcode?: unknown };
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === '53100') return true;
  return code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number' && (errcode & 0xff) === 13;
}
