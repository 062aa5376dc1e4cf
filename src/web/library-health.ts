// The library's integrity for the dashboard (admin GET /api/library-check and /api/library-verify),
// from the same check as `mediacdn check` (src/media/check.ts). Sizes are checked on every look (a
// stat per record, reused for a few seconds); contents (SHA-256 of every file) only when asked, and
// that result is kept in the data folder, so every worker process shows it until the next run.
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { getMedia } from '../media/catalog.ts';
import { checkLibrary, describeProblem, type Problem } from '../media/check.ts';
import type { Library } from '../media/library.ts';

/** Orphan and temp files younger than this are uploads in progress, not problems. */
export const YOUNG_FILE_MS = 60 * 60 * 1000;
/** How long a size check is reused by default. */
const SIZES_TTL_MS = 10_000;
/** At most this many problems carry the title of their record (one lookup each). */
const MAX_TITLED = 200;

export type HealthProblem = Problem & {
  /** What the dashboard says, as `mediacdn check` does. */
  message: string;
  title: string | null;
  /** song, announcement, background, or null (no metadata, or no record). */
  mediaKind: string | null;
};

export type LibraryHealth = {
  version: 1;
  /** When sizes were checked (ISO). */
  checkedAt: string;
  records: number;
  files: number;
  /** The last check of every file's SHA-256, or null when there has been none. */
  contents: { checkedAt: string; records: number; problems: number } | null;
  problems: HealthProblem[];
};

const hashProblem = z.object({ kind: z.literal('hash-mismatch'), id: z.number().int(), fileName: z.string(), expected: z.string(), actual: z.string() }).strict();
const stateSchema = z.object({ version: z.literal(1), checkedAt: z.string(), records: z.number().int().nonnegative(), problems: z.array(hashProblem) }).strict();
type ContentsState = z.infer<typeof stateSchema>;

export type LibraryHealthService = {
  /** Sizes now (cached a few seconds), contents as of the last verify. */
  check(): Promise<LibraryHealth>;
  /** Hashes every file now, keeps the result, and answers as check() does. */
  verify(): Promise<LibraryHealth>;
};

export function createLibraryHealth(opts: { library: Library; stateFile: string; now?: () => number; sizesTtlMs?: number }): LibraryHealthService {
  const lib = opts.library;
  const now = opts.now ?? Date.now;
  const ttl = opts.sizesTtlMs ?? SIZES_TTL_MS;
  let sizes: { at: number; value: Promise<Awaited<ReturnType<typeof checkLibrary>>> } | undefined;
  let verifying: Promise<LibraryHealth> | undefined;

  async function readContents(): Promise<ContentsState | null> {
    const text = await readFile(opts.stateFile, 'utf8').catch(() => undefined);
    if (text === undefined) return null;
    try {
      const r = stateSchema.safeParse(JSON.parse(text));
      return r.success ? r.data : null;
    } catch {
      return null;
    }
  }

  async function writeContents(state: ContentsState): Promise<void> {
    const tmp = path.join(path.dirname(opts.stateFile), `.tmp-${path.basename(opts.stateFile)}-${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(tmp, JSON.stringify(state));
      await rename(tmp, opts.stateFile);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  function sizeCheck(fresh: boolean) {
    const t = now();
    if (fresh || sizes === undefined || t - sizes.at >= ttl || t < sizes.at) {
      const value = checkLibrary(lib, { hash: false });
      sizes = { at: t, value };
      value.catch(() => {
        if (sizes?.value === value) sizes = undefined;
      });
    }
    return sizes.value;
  }

  async function report(fresh: boolean): Promise<LibraryHealth> {
    const t = now();
    const [r, contents] = await Promise.all([sizeCheck(fresh), readContents()]);
    const problems: Problem[] = r.problems.filter((p) => !((p.kind === 'orphan-file' || p.kind === 'stale-temp') && p.ageMs < YOUNG_FILE_MS));
    const flagged = new Set(problems.map((p) => p.fileName));
    // A content problem found earlier still stands while its record does and no size problem says more.
    for (const p of contents?.problems ?? []) {
      if (flagged.has(p.fileName)) continue;
      const row = await lib.db.kysely.selectFrom('media').select(['sha256']).where('id', '=', p.id).executeTakeFirst();
      if (row !== undefined && row.sha256 === p.expected) problems.push(p);
    }
    const out: HealthProblem[] = [];
    for (const [i, p] of problems.entries()) {
      const item = 'id' in p && i < MAX_TITLED ? await getMedia(lib, p.id) : undefined;
      out.push({ ...p, message: describeProblem(p), title: item?.title ?? null, mediaKind: item?.kind ?? null });
    }
    return {
      version: 1,
      checkedAt: new Date(t).toISOString(),
      records: r.records,
      files: r.files,
      contents: contents === null ? null : { checkedAt: contents.checkedAt, records: contents.records, problems: contents.problems.length },
      problems: out,
    };
  }

  return {
    check: () => report(false),
    verify() {
      verifying ??= (async () => {
        try {
          const t = now();
          const r = await checkLibrary(lib, { hash: true });
          const problems = r.problems.filter((p): p is Extract<Problem, { kind: 'hash-mismatch' }> => p.kind === 'hash-mismatch');
          await writeContents({ version: 1, checkedAt: new Date(t).toISOString(), records: r.records, problems });
          return await report(true);
        } finally {
          verifying = undefined;
        }
      })();
      return verifying;
    },
  };
}
