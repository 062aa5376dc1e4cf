// One source of truth for a library's links and the edges it purges: `mediacdn up` records its running
// edge in the data folder, and `url`, `purge`, `stats` and `rm` of the same folder use it. Deleting a
// file with `mediacdn rm` while `up` runs purges up's edge once the origin has stopped serving it: the
// edge answers 404, not a cached copy; so does a delete through up's API. On SQLite, and on PostgreSQL with DATABASE_URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { runCli } from './helpers/cli.ts';
import { startUp, SYSTEM_TOKEN } from './helpers/system.ts';
import { waitFor } from './helpers/origin.ts';
import { makeTestDatabase } from './helpers/db.ts';

type Added = { id: number; fileName: string; url: string };

test('mediacdn up: url, purge, stats and rm find its edge; rm purges it after the origin stopped serving the file', { timeout: 120_000 }, async (t) => {
  const sys = await startUp(['--no-demo']);
  t.after(() => sys.cleanup());
  // The same library as up's: its data folder, token and database (PostgreSQL runs: a schema of its own).
  const env = { MEDIACDN_DATA: sys.dataDir, MEDIACDN_TOKEN: SYSTEM_TOKEN, DATABASE_URL: sys.databaseUrl };
  const upEnv = readFileSync(path.join(sys.dataDir, 'running.json'), 'utf8');
  const record = JSON.parse(upEnv) as { pid: number; controlUrl: string; edgeUrl: string; mediaUrl: string };
  assert.equal(record.edgeUrl, sys.edgeUrl);
  assert.equal(record.mediaUrl, `${sys.mediaUrl}`);
  const cli = (...args: string[]) => runCli(args, { cwd: sys.dataDir, env });

  const added = await cli('add', path.join(import.meta.dirname, 'fixtures', 'tone-3s.mp3'), '--json');
  assert.equal(added.code, 0, added.stderr);
  const item = JSON.parse(added.stdout) as Added;
  assert.equal(item.url, `${sys.mediaUrl}${item.fileName}`, 'add prints the link up publishes');
  const url = await cli('url', String(item.id));
  assert.equal(url.code, 0, url.stderr);
  assert.equal(url.stdout.trim(), `${sys.mediaUrl}${item.fileName}`, 'url prints the link up publishes (through the edge)');

  const get = async () => {
    const r = await request(`${sys.edgeUrl}/media/${item.fileName}`);
    await r.body.arrayBuffer();
    return { status: r.statusCode, cache: r.headers['x-cache'] };
  };
  assert.deepEqual(await get(), { status: 200, cache: 'MISS' });
  assert.deepEqual(await get(), { status: 200, cache: 'HIT' });

  const stats = await cli('stats', '--json');
  assert.equal(stats.code, 0, stats.stderr);
  assert.ok(JSON.stringify(JSON.parse(stats.stdout)).includes('"hit"'), 'stats reads the running edge without --edge');

  const purged = await cli('purge', `${sys.edgeUrl}/media/${item.fileName}`);
  assert.equal(purged.code, 0, purged.stderr);
  assert.match(purged.stdout, /^local: done, removed 1$/m, 'purge finds the running edge without --edge');
  assert.match(purged.stdout, /^purge log: entry \d+$/m);
  assert.deepEqual(await get(), { status: 200, cache: 'MISS' });
  assert.deepEqual(await get(), { status: 200, cache: 'HIT' });

  const removed = await cli('rm', String(item.id));
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, new RegExp(`^removed ${item.id} ${item.fileName}$`, 'm'));
  // Removed by this purge, or already by the edge's own poll of the purge log once the entry was due.
  assert.match(removed.stdout, /^local: done, removed [01]$/m, removed.stdout);
  const after = await get();
  assert.notEqual(after.cache, 'HIT', 'the edge no longer serves its copy');
  assert.equal(after.status, 404, 'the origin had stopped serving it before the purge, so the edge could not refill it');

  // A delete through up's API: its origin forgets the file at once, so the edge is purged at once.
  const other = JSON.parse((await cli('add', path.join(import.meta.dirname, 'fixtures', 'tone-3s.mp3'), '--json')).stdout) as Added;
  const getOther = async () => {
    const r = await request(`${sys.edgeUrl}/media/${other.fileName}`);
    await r.body.arrayBuffer();
    return `${r.statusCode} ${String(r.headers['x-cache'])}`;
  };
  assert.equal(await getOther(), '200 MISS');
  assert.equal(await getOther(), '200 HIT');
  const del = await request(`${sys.originUrl}/api/media/${other.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${SYSTEM_TOKEN}` } });
  assert.equal(del.statusCode, 200);
  await del.body.dump();
  assert.equal(await waitFor(async () => ((await getOther()) === '404 MISS' ? true : undefined), 10_000, 50), true, 'the edge answers 404 once the purge reached it');

  assert.equal(await sys.stop(), 0);
  assert.equal(existsSync(path.join(sys.dataDir, 'running.json')), false, 'a clean stop removes the record');

  // A record left by a process that is gone is ignored: links are the configured ones again.
  writeFileSync(path.join(sys.dataDir, 'running.json'), JSON.stringify({ ...JSON.parse(upEnv), pid: 2 ** 22 + 1 }));
  const added2 = await cli('add', path.join(import.meta.dirname, 'fixtures', 'tone-3s.mp3'), '--json');
  assert.equal(added2.code, 0, added2.stderr);
  assert.ok(!(JSON.parse(added2.stdout) as Added).url.startsWith(sys.edgeUrl), 'a dead up does not decide the links');
  const noEdge = await cli('purge', `${sys.edgeUrl}/media/x.mp3`);
  assert.equal(noEdge.code, 2, 'no edge to purge without a running up or a fleet');
  assert.match(noEdge.stderr, /no edges/);
});


test('mediacdn rm: an edge that does not confirm is reported pending with its reason, exit 1, and the purge stays in the log', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-rm-pending-'));
  const tdb = await makeTestDatabase(dir);
  t.after(async () => {
    await tdb.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  // An edge nobody listens for, and no record-cache wait (no origin runs).
  writeFileSync(path.join(dir, 'mediacdn.config.json'), JSON.stringify({ dataDir: path.join(dir, 'data'), origin: { recordTtlMs: 0, purgeEdges: ['http://127.0.0.1:9'] } }));
  const env = { MEDIACDN_TOKEN: SYSTEM_TOKEN, DATABASE_URL: tdb.url, MEDIACDN_DATA: undefined };
  const cli = (...args: string[]) => runCli(args, { cwd: dir, env });
  const added = await cli('add', path.join(import.meta.dirname, 'fixtures', 'tone-3s.mp3'), '--json');
  assert.equal(added.code, 0, added.stderr);
  const item = JSON.parse(added.stdout) as Added;
  // Without the token the edges need, nothing is deleted (a deleted file nobody can purge would linger).
  const noToken = await runCli(['rm', String(item.id)], { cwd: dir, env: { ...env, MEDIACDN_TOKEN: undefined } });
  assert.equal(noToken.code, 2, noToken.stderr);
  assert.match(noToken.stderr, /no admin token/);
  assert.equal((await cli('show', String(item.id))).code, 0, 'still there');
  const removed = await cli('rm', String(item.id));
  assert.equal(removed.code, 1, removed.stderr);
  assert.match(removed.stdout, new RegExp(`^removed ${item.id} ${item.fileName}$`, 'm'), 'the record is gone either way');
  assert.match(removed.stderr, /^http:\/\/127\.0\.0\.1:9: pending \(unreachable: .*\(after 4 attempts\)\)$/m);
  assert.match(removed.stderr, new RegExp(`mediacdn: ${item.fileName} is deleted, but its purge is pending on 1 edge`));
  assert.match(removed.stdout, /^purge log: entry 1$/m, 'an edge that catches up on the log applies it later');
  const purge = await cli('purge', '--zone', 'media.test', '--attempts', '1');
  assert.equal(purge.code, 1);
  assert.match(purge.stderr, /^http:\/\/127\.0\.0\.1:9: pending \(unreachable: [^()]*\)$/m, 'one attempt, no retry');
  assert.match(purge.stdout, /^purge log: entry 2$/m);
});
