// Library integrity: every record has its file with the recorded size and SHA-256, every file a record.
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { Library } from './library.ts';

export type Problem =
  | { kind: 'missing-file'; id: number; fileName: string }
  | { kind: 'size-mismatch'; id: number; fileName: string; expected: number; actual: number }
  | { kind: 'hash-mismatch'; id: number; fileName: string; expected: string; actual: string }
  | { kind: 'orphan-file'; fileName: string; size: number; ageMs: number }
  | { kind: 'stale-temp'; fileName: string; size: number; ageMs: number };

export type CheckReport = { records: number; files: number; problems: Problem[]; fixed: string[] };

export type CheckOptions = {
  /** Hash every file (default true); false checks sizes only. */
  hash?: boolean;
  /** Remove orphan files and temp files older than `graceMs`. Never touches records or young files. */
  fix?: boolean;
  graceMs?: number;
};

export async function hashStoredFile(lib: Library, name: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(lib.storage.createReadStream(name), new Writable({ write(chunk, _e, cb) { h.update(chunk); cb(); } }));
  return h.digest('hex');
}

/** How old an orphan or temp file must be before `fix` removes it: younger ones may be a write in progress. */
export const FIX_GRACE_MS = 60 * 60 * 1000;

export async function checkLibrary(lib: Library, opts: CheckOptions = {}): Promise<CheckReport> {
  const graceMs = opts.graceMs ?? FIX_GRACE_MS;
  const now = lib.now().getTime();
  const rows = await lib.db.kysely.selectFrom('media').select(['id', 'file_name', 'byte_size', 'sha256']).orderBy('id').execute();
  const known = new Set(rows.map((r) => r.file_name));
  const problems: Problem[] = [];
  for (const r of rows) {
    const st = await lib.storage.stat(r.file_name);
    if (!st) {
      problems.push({ kind: 'missing-file', id: r.id, fileName: r.file_name });
      continue;
    }
    if (st.size !== Number(r.byte_size)) {
      problems.push({ kind: 'size-mismatch', id: r.id, fileName: r.file_name, expected: Number(r.byte_size), actual: st.size });
      continue;
    }
    if (opts.hash !== false) {
      const actual = await hashStoredFile(lib, r.file_name);
      if (actual !== r.sha256) problems.push({ kind: 'hash-mismatch', id: r.id, fileName: r.file_name, expected: r.sha256, actual });
    }
  }
  let files = 0;
  for await (const f of lib.storage.list()) {
    files++;
    if (!known.has(f.name)) problems.push({ kind: 'orphan-file', fileName: f.name, size: f.size, ageMs: now - f.mtimeMs });
  }
  for await (const f of lib.storage.listTemps()) problems.push({ kind: 'stale-temp', fileName: f.name, size: f.size, ageMs: now - f.mtimeMs });

  const fixed: string[] = [];
  if (opts.fix) {
    for (const p of problems) {
      if (p.kind === 'orphan-file' && p.ageMs > graceMs) {
        // Re-check right before removing: an upload may have inserted its row meanwhile.
        const row = await lib.db.kysely.selectFrom('media').select('id').where('file_name', '=', p.fileName).executeTakeFirst();
        if (!row && (await lib.storage.remove(p.fileName))) fixed.push(p.fileName);
      } else if (p.kind === 'stale-temp' && p.ageMs > graceMs) {
        await lib.storage.removeTemp(p.fileName);
        fixed.push(p.fileName);
      }
    }
  }
  return { records: rows.length, files, problems, fixed };
}

export function describeProblem(p: Problem): string {
  switch (p.kind) {
    case 'missing-file':
      return `missing file: media ${p.id} ${p.fileName}`;
    case 'size-mismatch':
      return `size mismatch: media ${p.id} ${p.fileName} is ${p.actual} bytes, recorded ${p.expected}`;
    case 'hash-mismatch':
      return `corrupt file: media ${p.id} ${p.fileName} has SHA-256 ${p.actual}, recorded ${p.expected}`;
    case 'orphan-file':
      return `orphan file: ${p.fileName} (${p.size} bytes, no record)`;
    case 'stale-temp':
      return `temp file: ${p.fileName} (${p.size} bytes, left by an interrupted write)`;
  }
}
