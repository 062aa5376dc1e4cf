// `mediacdn origin` as a real process with two cluster workers: prints its URL, serves, forgets a
// file deleted through either worker, and stops cleanly on SIGTERM; `add|ls|rm --remote` use its API.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run } from '../src/cli/main.ts';
import type { Io } from '../src/cli/context.ts';
import { makeTestDatabase } from './helpers/db.ts';
import { FIXTURES } from './helpers/library.ts';
import { request, TEST_TOKEN } from './helpers/origin.ts';
import { childrenOf, memorySettings, SERVING } from './helpers/proc.ts';

const MAIN = path.join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

function cliIo(env: Record<string, string | undefined>, cwd: string): Io & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { out: (l) => lines.push(l), err: (l) => errors.push(l), isTTY: false, env, cwd, lines, errors };
}

/** `mediacdn origin --workers n` as a child process on a free port, with its own data folder and database. */
async function startOrigin(t: TestContext, workers: number): Promise<{ child: ChildProcess; url: string; output(): string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-cli-origin-'));
  const testDb = await makeTestDatabase(dir);
  t.after(async () => {
    await testDb.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  // The memory settings come from the command, not from the test's environment.
  const env: NodeJS.ProcessEnv = { ...process.env, MEDIACDN_DATA: dir, MEDIACDN_TOKEN: TEST_TOKEN, LOG_LEVEL: 'warn', DATABASE_URL: testDb.url ?? '' };
  delete env.MALLOC_ARENA_MAX;
  delete env.MALLOC_MMAP_THRESHOLD_;
  const child = spawn(process.execPath, [MAIN, 'origin', '--port', '0', '--workers', String(workers)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  const listening = new RegExp(`origin listening on (http://\\S+) \\(${workers} workers?\\)`);
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = listening.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`origin exited with ${code}: ${out}`)));
  });
  return { child, url, output: () => out };
}

test('mediacdn origin --workers 2: serves, applies deletes in every worker, stops on SIGTERM; add/ls/rm --remote', async (t) => {
  const { child, url, output } = await startOrigin(t, 2);

  // A client in another process (no database of its own needed) talks to the API.
  const clientDir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-cli-client-'));
  t.after(() => rm(clientDir, { recursive: true, force: true }));
  const io = cliIo({ MEDIACDN_TOKEN: TEST_TOKEN, MEDIACDN_DATA: clientDir }, clientDir);
  assert.equal(await run(['add', '--remote', url, '--song', '--title', 'Remote tone', '--artist', 'CLI', path.join(FIXTURES, 'tone-3s.mp3')], io), 0, io.errors.join('\n'));
  const [id, fileName] = io.lines[0].split('\t');
  assert.equal(await run(['add', '--remote', url, path.join(FIXTURES, 'not-audio.mp3')], io), 4, 'rejected content → exit 4');
  assert.match(io.errors.at(-1) ?? '', /not-audio\.mp3: .*does not match/);

  io.lines.length = 0;
  assert.equal(await run(['ls', '--remote', url, '--json'], io), 0);
  const listed = JSON.parse(io.lines.join('\n'));
  assert.equal(listed.total, 1);
  assert.deepEqual([listed.items[0].title, listed.items[0].artist], ['Remote tone', 'CLI']);
  // Port 0: the links name the port the origin got, in its start lines and in what it publishes.
  const port = new URL(url).port;
  assert.match(output(), new RegExp(`\\(links use http://localhost:${port}/media/\\)`));
  assert.equal(listed.items[0].url, `http://localhost:${port}/media/${fileName}`);

  // Warm both workers' caches (new connections are spread over the workers), then delete through one.
  for (let i = 0; i < 8; i++) assert.equal((await request(`${url}/media/${fileName}`)).status, 200);
  assert.equal(await run(['rm', '--remote', url, id], io), 1, 'in use by a song → refused');
  assert.equal(await run(['rm', '--remote', url, '--force', id], io), 0, `${io.errors.join('\n')}\nserver: ${output()}`);
  for (let i = 0; i < 8; i++) assert.equal((await request(`${url}/media/${fileName}`)).status, 404, `request ${i} after the delete`);

  const wrong = cliIo({ MEDIACDN_TOKEN: 'wrong-token-wrong-token', MEDIACDN_DATA: clientDir }, clientDir);
  assert.equal(await run(['ls', '--remote', url], wrong), 2);
  assert.match(wrong.errors.join('\n'), /admin token/);

  // The workers and the primary (the process started, re-executed) run with the memory settings (src/cli/runtime-flags.ts).
  const workers = childrenOf(child.pid!);
  assert.equal(workers.length, 2);
  for (const pid of [child.pid!, ...workers]) assert.deepEqual(memorySettings(pid), SERVING, `pid ${pid}`);

  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  assert.equal(await exit, 0, output());
});

test('mediacdn origin --workers 1: the process started is the one serving, re-executed with the memory settings', async (t) => {
  const { child, url, output } = await startOrigin(t, 1);
  assert.equal((await request(`${url}/healthz`)).status, 200);
  assert.deepEqual(childrenOf(child.pid!), []);
  assert.deepEqual(memorySettings(child.pid!), SERVING);
  assert.equal(output().match(/origin listening/g)?.length, 1, output());
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  assert.equal(await exit, 0, output());
});
