// The backup commands as a user runs them: create, list, verify, export to a tar that restores on its
// own, restore refusals, prune policy errors, and --then hooks that succeed and fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cliInProcess } from './helpers/cli.ts';
import { EXIT } from '../src/errors.ts';
import { backupScene, folderHashes, openLibraryAt, tableRows, tempDir } from './helpers/backup.ts';

test('create, list, verify and export through the CLI; the tar restores on its own', async (t) => {
  const { tl, r } = await backupScene(t);
  const work = await tempDir('mediacdn-cli-');
  t.after(() => work.close());
  const mediacdn = cliInProcess({ MEDIACDN_DATA: tl.dir, MEDIACDN_BACKUP_REPO: r.dir, DATABASE_URL: tl.testDb.url }, work.dir);

  const created = await mediacdn('backup', 'create', '--json');
  assert.equal(created.code, 0, created.err);
  const { id, stats } = JSON.parse(created.out) as { id: string; stats: { filesCopied: number } };
  assert.equal(stats.filesCopied, 5);

  let listed = await mediacdn('backup', 'list');
  assert.match(listed.out, new RegExp(`^${id} .* 5 file\\(s\\) .* 9 row\\(s\\)  never verified$`, 'm'));
  const verified = await mediacdn('backup', 'verify', 'latest');
  assert.equal(verified.code, 0, verified.err);
  assert.match(verified.out, new RegExp(`snapshot ${id}: OK`));
  listed = await mediacdn('backup', 'list');
  assert.match(listed.out, new RegExp(`^${id} .* verified \\d{4}-`, 'm'));

  const tar = path.join(work.dir, 'snap.tar');
  const exported = await mediacdn('backup', 'export', id, '--out', 'snap.tar');
  assert.equal(exported.code, 0, exported.err);
  const unpacked = path.join(work.dir, 'unpacked');
  await mkdir(unpacked);
  execFileSync('tar', ['-xf', tar, '-C', unpacked]);

  const target = path.join(work.dir, 'restored');
  const restored = await mediacdn('--data', target, 'backup', 'restore', id, '--repo', unpacked, '--sqlite');
  assert.equal(restored.code, 0, restored.err);
  assert.match(restored.out, /check passed/);
  const back = await openLibraryAt({ kind: 'sqlite', path: path.join(target, 'mediacdn.db') }, path.join(target, 'media'));
  t.after(() => back.close());
  assert.deepEqual(await tableRows(back.db), await tableRows(tl.db));
  assert.deepEqual(await folderHashes(path.join(target, 'media')), await folderHashes(tl.mediaDir));

  const again = await mediacdn('--data', target, 'backup', 'restore', id, '--repo', unpacked, '--sqlite');
  assert.equal(again.code, EXIT.failure, 'refused like a deletion without --force');
  assert.match(again.err, /restore target is not empty \(5 row\(s\) in media.*pass --force/);
});

test('--then gets the snapshot folder; a failing --then fails the run and says why', async (t) => {
  const { tl, r } = await backupScene(t);
  const work = await tempDir('mediacdn-then-');
  t.after(() => work.close());
  const mediacdn = cliInProcess({ MEDIACDN_DATA: tl.dir, MEDIACDN_BACKUP_REPO: r.dir, DATABASE_URL: tl.testDb.url, PATH: process.env.PATH }, work.dir);
  await writeFile(path.join(work.dir, 'record.sh'), 'printf "%s|%s" "$1" "$MEDIACDN_SNAPSHOT_ID" > "$(dirname "$0")/got"\n');
  await writeFile(path.join(work.dir, 'fail.sh'), 'echo "upload of $(basename "$1") refused" >&2\nexit 7\n');

  const ok = await mediacdn('backup', 'create', '--then', `sh ${path.join(work.dir, 'record.sh')}`, '--json');
  assert.equal(ok.code, 0, ok.err);
  const { id, dir } = JSON.parse(ok.out) as { id: string; dir: string };
  assert.equal(await readFile(path.join(work.dir, 'got'), 'utf8'), `${dir}|${id}`);

  // Another repository, so this run cannot collide with the first one's second.
  const failed = await mediacdn('backup', 'create', '--repo', path.join(work.dir, 'repo2'), '--then', `sh ${path.join(work.dir, 'fail.sh')}`);
  assert.equal(failed.code, EXIT.failure);
  assert.match(failed.err, /mediacdn: snapshot (\w+) was written to .*, but the --then command failed with exit code 7: upload of \1 refused/);
});

test('prune without a policy is refused; a dry run lists what it would remove', async (t) => {
  const { tl, r } = await backupScene(t);
  const mediacdn = cliInProcess({ MEDIACDN_DATA: tl.dir, MEDIACDN_BACKUP_REPO: r.dir, DATABASE_URL: tl.testDb.url }, tl.dir);
  const none = await mediacdn('backup', 'prune');
  assert.equal(none.code, EXIT.usage);
  assert.match(none.err, /give at least one of --keep-last/);
  assert.equal((await mediacdn('backup', 'create')).code, 0);
  const dry = await mediacdn('backup', 'prune', '--keep-last', '1', '--dry-run');
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /^keep {4}\d{8}T\d{6}Z {2}\(last\)$/m);
  assert.match(dry.out, /1 kept, 0 would remove; pool: 0 file\(s\), 0 B would remove/);
  const bad = await mediacdn('backup', 'verify', 'yesterday');
  assert.equal(bad.code, EXIT.input);
  assert.match(bad.err, /"yesterday" is not a snapshot id/);
});
