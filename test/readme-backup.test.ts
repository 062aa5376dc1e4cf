// The backup commands of README.md and docs/backups.md, run as printed: the cron lines through /bin/sh
// as cron runs them (`cd <install> && … npx mediacdn …`, cron's short PATH, a stand-in rclone), then the
// restore drill line by line with `mediacdn` on PATH (npx in the checkout). The SQLite pass of the suite
// runs it on a SQLite library, the PostgreSQL pass on a library in the public schema of a throw-away
// database. Paths are the printed ones moved into a temp folder; the live library changes after the
// snapshot, so the drill must look at its copy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { DatabaseTarget } from '../src/config/index.ts';
import { ingest } from '../src/media/ingest.ts';
import { runProgram, type CliResult } from './helpers/cli.ts';
import { makeThrowawayPgDatabase, PG_URL } from './helpers/db.ts';
import { addFixtures, makeWav, openLibraryAt, tempDir } from './helpers/backup.ts';

const ROOT = path.join(import.meta.dirname, '..');

/** Lines of the first fenced block after the first line matching `heading` (inside `section`, if given). */
function blockAfter(file: string, heading: RegExp, section?: RegExp): string[] {
  let text = readFileSync(path.join(ROOT, file), 'utf8');
  if (section) {
    const start = text.search(section);
    assert.ok(start >= 0, `${file} has ${section}`);
    text = text.slice(start);
  }
  const lines = text.split('\n');
  const at = lines.findIndex((l) => heading.test(l));
  assert.ok(at >= 0, `${file} has ${heading}`);
  const open = lines.findIndex((l, i) => i > at && l.startsWith('```'));
  const close = lines.findIndex((l, i) => i > open && l.startsWith('```'));
  return lines.slice(open + 1, close).filter((l) => l.trim() !== '');
}

const README = { cron: blockAfter('README.md', /^Cron\b/, /^## Backups/m), drill: blockAfter('README.md', /^Restore drill\b/, /^## Backups/m) };
const DOCS = { cron: blockAfter('docs/backups.md', /^## Cron/), drill: blockAfter('docs/backups.md', /^## Restore drill/) };

test('README.md and docs/backups.md print the same cron lines and the same restore drill', () => {
  assert.deepEqual(README.cron, DOCS.cron);
  assert.deepEqual(README.drill, DOCS.drill);
  assert.equal(README.cron.length, 2);
});

/** The printed paths, moved into `dir`; the install folder is this checkout. */
function localise(line: string, dir: string): string {
  return line
    .replaceAll('/srv/mediacdn/data', path.join(dir, 'data'))
    .replaceAll('/srv/mediacdn', ROOT)
    .replaceAll('/backup/mediacdn', path.join(dir, 'backup'))
    .replaceAll('/tmp/drill', path.join(dir, 'drill'));
}

/** Runs the section on the library that `databaseIn(dir)` names (its media in `<dir>/data/media`). */
async function runBackupSection(t: { after(fn: () => Promise<void>): void }, databaseIn: (dir: string) => DatabaseTarget) {
  const work = await tempDir('mediacdn-readme-');
  t.after(() => work.close());
  const dir = work.dir;
  const database = databaseIn(dir);
  const databaseUrl = database.kind === 'postgres' ? database.url : undefined;
  const mediaDir = path.join(dir, 'data', 'media');
  const live = await openLibraryAt(database, mediaDir);
  await addFixtures(live.lib);
  await live.close();

  // cron's environment: a short PATH (here with a stand-in rclone and, for the drill, `mediacdn`).
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  await writeFile(path.join(bin, 'rclone'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${dir}/rclone-args'\nmkdir -p '${dir}/offsite' && cp -R "$2/." '${dir}/offsite/'\n`);
  await writeFile(path.join(bin, 'mediacdn'), `#!/bin/sh\nexec npx --prefix '${ROOT}' mediacdn "$@"\n`);
  for (const f of ['rclone', 'mediacdn']) await chmod(path.join(bin, f), 0o755);
  const env = { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`, HOME: process.env.HOME, SHELL: '/bin/sh', DATABASE_URL: databaseUrl, MEDIACDN_DATA: undefined, MEDIACDN_BACKUP_REPO: undefined, LOG_LEVEL: undefined };
  const sh = (line: string): Promise<CliResult> => runProgram('/bin/sh', ['-c', line], { cwd: dir, env });

  // The cron lines: the five schedule fields off, the command through /bin/sh.
  const [nightly, weekly] = README.cron.map((l) => localise(l.replace(/^(\S+\s+){5}/, ''), dir));
  const created = await sh(nightly);
  assert.equal(created.code, 0, `${nightly}\n${created.stdout}${created.stderr}`);
  // cron mails whatever a job writes; a night that went well writes nothing on stderr.
  assert.equal(created.stderr, '', nightly);
  assert.match(created.stdout, /^snapshot \d{8}T\d{6}Z: 5 file\(s\)/m);
  assert.match(created.stdout, /^1 kept, 0 removed; pool: 0 file\(s\), 0 B removed$/m);
  const snapshots = await readdir(path.join(dir, 'backup', 'snapshots'));
  assert.equal(snapshots.length, 1);
  assert.deepEqual((await readFile(path.join(dir, 'rclone-args'), 'utf8')).split('\n').filter(Boolean), ['sync', path.join(dir, 'backup'), 'remote:mediacdn', '--exclude', '/snapshots/.tmp-*']);
  assert.ok(existsSync(path.join(dir, 'offsite', 'snapshots', snapshots[0], 'manifest.json')), 'the whole repository went offsite');
  const verified = await sh(weekly);
  assert.equal(verified.code, 0, `${weekly}\n${verified.stdout}${verified.stderr}`);
  assert.equal(verified.stderr, '', weekly);
  assert.match(verified.stdout, new RegExp(`^snapshot ${snapshots[0]}: OK: .* 5 of 5 media file\\(s\\) hashed, 0 problem\\(s\\)$`, 'm'));

  // The live library moves on after the snapshot: the drill must show the snapshot, not the live library.
  const later = await openLibraryAt(database, mediaDir);
  await ingest(later.lib, { source: Readable.from([makeWav(7)]), declaredType: 'audio/wav', metadata: { kind: 'song', title: 'Added after the snapshot' } });
  await later.close();

  const drill = README.drill.map((l) => localise(l, dir));
  const outputs: CliResult[] = [];
  for (const line of drill) {
    const r = await sh(line);
    assert.equal(r.code, 0, `${line}\n${r.stdout}${r.stderr}`);
    assert.equal(r.stderr, '', line);
    outputs.push(r);
  }
  const outputOf = (command: RegExp) => {
    const i = drill.findIndex((l) => command.test(l));
    assert.ok(i >= 0, `the drill has a line matching ${command}`);
    return outputs[i].stdout;
  };
  assert.match(outputOf(/ backup verify /), / OK: /);
  assert.match(outputOf(/ backup restore /), /^restored \d{8}T\d{6}Z: 5 file\(s\) .* into .*drill.*mediacdn\.db; check passed$/m);
  assert.match(outputOf(/ check\b/), /^5 record\(s\), 5 file\(s\), 0 problem\(s\)$/m);
  const listed = outputOf(/ ls --limit 5/);
  assert.match(listed, /Gate 4 — now boarding/);
  assert.doesNotMatch(listed, /Added after the snapshot/);
  assert.equal(existsSync(path.join(dir, 'drill')), false, 'the drill cleans up');
}

// Each pass of the suite runs the section on its own dialect: SQLite, or PostgreSQL in public.
test(`README backup section as printed on ${PG_URL ? 'PostgreSQL (public schema)' : 'SQLite'}: cron lines through sh with npx, then the restore drill`, async (t) => {
  if (!PG_URL) {
    await runBackupSection(t, (dir) => ({ kind: 'sqlite', path: path.join(dir, 'data', 'mediacdn.db') }));
    return;
  }
  const pgDb = await makeThrowawayPgDatabase();
  t.after(() => pgDb.cleanup());
  await runBackupSection(t, () => ({ kind: 'postgres', url: pgDb.url }));
});
