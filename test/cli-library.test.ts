// The library CLI end to end: real processes, real database (both dialects), real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, chmod, unlink, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './helpers/cli.ts';
import { makeTestDatabase } from './helpers/db.ts';
import { FIXTURES } from './helpers/library.ts';

async function setup(t: import('node:test').TestContext) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-cli-'));
  const tdb = await makeTestDatabase(dir);
  t.after(async () => {
    await tdb.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  const env = { MEDIACDN_DATA: dir, DATABASE_URL: tdb.url ?? '', MEDIA_URL: 'https://cdn.test/media/' };
  return { dir, env, cli: (args: string[]) => runCli(args, { env, cwd: dir }) };
}

test('add, ls, show, url, rm and check work together', async (t) => {
  const { dir, cli } = await setup(t);
  const add = await cli(['add', path.join(FIXTURES, 'tone-3s.mp3'), '--song', '--title', 'Tone', '--artist', 'Gen', '--json']);
  assert.equal(add.code, 0, add.stderr);
  const item = JSON.parse(add.stdout);
  assert.match(item.fileName, /^[a-z]{20}\.mp3$/);
  assert.equal(item.url, `https://cdn.test/media/${item.fileName}`);
  assert.deepEqual([item.kind, item.title, item.artist], ['song', 'Tone', 'Gen']);

  const two = await cli(['add', path.join(FIXTURES, 'loop.png'), path.join(FIXTURES, 'loop.gif'), '--background']);
  assert.equal(two.code, 0, two.stderr);
  assert.equal(two.stdout.trim().split('\n').length, 2);
  assert.match(two.stdout, /\t[a-z]{20}\.png\thttps:\/\/cdn\.test\/media\/[a-z]{20}\.png/);

  const ls = await cli(['ls', '--kind', 'background', '--json']);
  assert.equal(JSON.parse(ls.stdout).total, 2);
  const lsText = await cli(['ls', '--search', 'gen']);
  assert.match(lsText.stdout, /song: Tone — Gen/);
  assert.match(lsText.stdout, /1 of 1 item/);

  assert.equal((await cli(['url', String(item.id)])).stdout.trim(), item.url);
  assert.equal(JSON.parse((await cli(['show', item.fileName])).stdout).sha256, item.sha256);

  const refused = await cli(['rm', String(item.id)]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^mediacdn: media \d+ .* is used by 1 song record\(s\); pass --force to delete them too\n$/);
  const removed = await cli(['rm', String(item.id), '--force']);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal((await cli(['show', String(item.id)])).code, 3);

  const ok = await cli(['check']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /2 record\(s\), 2 file\(s\), 0 problem\(s\)/);
  await writeFile(path.join(dir, 'media', 'qqqqqqqqqqqqqqqqqqqq.mp3'), 'stray');
  const bad = await cli(['check']);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /orphan file: qqqqqqqqqqqqqqqqqqqq\.mp3/);
});

test('each bad input gives one clear line on stderr and its own exit code, and stores nothing', async (t) => {
  const { dir, cli } = await setup(t);
  const unreadable = path.join(dir, 'locked.mp3');
  await writeFile(unreadable, await readFile(path.join(FIXTURES, 'tone-3s.mp3')));
  await chmod(unreadable, 0o000);
  const textFile = path.join(dir, 'notes.txt');
  await writeFile(textFile, 'hello');
  const cases: Array<[string, string[], number, RegExp]> = [
    ['missing file', ['add', path.join(dir, 'nope.mp3')], 3, /^mediacdn: cannot read .*nope\.mp3: no such file$/],
    ['a directory', ['add', dir], 3, /not a regular file/],
    ['unknown type', ['add', path.join(FIXTURES, 'tone-3s.mp3'), '--type', 'text/plain'], 4, /type text\/plain is not accepted/],
    ['unknown extension', ['add', textFile], 4, /extension \.txt is not an accepted media type/],
    ['type/content mismatch', ['add', path.join(FIXTURES, 'not-audio.mp3')], 4, /not-audio\.mp3: content does not match type audio\/mpeg/],
    ['MP3 declared as PNG', ['add', path.join(FIXTURES, 'tone-3s.mp3'), '--type', 'image/png'], 4, /content does not match type image\/png \(it looks like audio\/mpeg\)/],
    ['two kinds', ['add', path.join(FIXTURES, 'tone-3s.mp3'), '--song', '--background'], 2, /only one of --song, --announcement, --background/],
    ['unknown command', ['frobnicate'], 2, /unknown command 'frobnicate'/],
    ['bad --kind', ['ls', '--kind', 'jingle'], 2, /--kind must be one of/],
    ['bad --limit', ['ls', '--limit', 'many'], 2, /--limit must be a whole number/],
    ['unknown id', ['url', '424242'], 3, /no media 424242/],
  ];
  if (process.getuid?.() !== 0) cases.push(['unreadable file', ['add', unreadable], 3, /cannot read .*locked\.mp3/]);
  for (const [what, args, code, re] of cases) {
    const r = await cli(args);
    assert.equal(r.code, code, `${what}: ${r.stderr}`);
    assert.match(r.stderr.trim(), re, what);
  }
  // Nothing was stored by any of them.
  const ls = await cli(['ls', '--json']);
  assert.equal(JSON.parse(ls.stdout).total, 0);
  await unlink(unreadable);
});

test('an unreachable database is one line and exit code 5', async (t) => {
  const { dir } = await setup(t);
  const r = await runCli(['ls'], { env: { MEDIACDN_DATA: dir, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' }, cwd: dir });
  assert.equal(r.code, 5);
  assert.match(r.stderr.trim(), /^mediacdn: cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/none: .*ECONNREFUSED/);
  const sqliteDir = path.join(dir, 'blocked');
  await writeFile(sqliteDir, 'a file where the data folder should be');
  const r2 = await runCli(['ls'], { env: { MEDIACDN_DATA: sqliteDir, DATABASE_URL: '' }, cwd: dir });
  assert.equal(r2.code, 5);
  assert.match(r2.stderr, /^mediacdn: cannot open SQLite database/);
});

test('a bad configuration names the option and exits 2', async (t) => {
  const { dir, env } = await setup(t);
  await writeFile(path.join(dir, 'mediacdn.config.json'), JSON.stringify({ orign: {} }));
  const r = await runCli(['ls'], { env, cwd: dir });
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim(), 'mediacdn: config orign: unknown option');
});
