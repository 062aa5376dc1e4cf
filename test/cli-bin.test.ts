// The `mediacdn` bin run the ways the README runs it: `npx mediacdn …` in the checkout (as a user's
// shell would, with the machine's own node first on PATH), the pinned Node 24 on bin/mediacdn.js, and
// the machine's older Node on bin/mediacdn.js (which re-runs itself under the pinned one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runProgram, userPath, type CliResult } from './helpers/cli.ts';

const ROOT = path.join(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'mediacdn.js');
const PINNED_NODE = path.join(ROOT, 'node_modules', '.bin', 'node');
const SYSTEM_NODE = '/usr/bin/node';


type Runner = { name: string; run: (args: string[], dataDir: string) => Promise<CliResult> };

const env = (dataDir: string) => ({ PATH: userPath, MEDIACDN_DATA: dataDir, DATABASE_URL: undefined, MEDIACDN_TOKEN: undefined, LOG_LEVEL: undefined });

const runners: Runner[] = [
  { name: 'npx --no -- mediacdn', run: (args, d) => runProgram('npx', ['--no', '--', 'mediacdn', ...args], { cwd: ROOT, env: env(d) }) },
  // From another folder: the checkout's .npmrc applies through --prefix, so npm stays as quiet.
  { name: 'npx --prefix <checkout> mediacdn, from another folder', run: (args, d) => runProgram('npx', ['--prefix', ROOT, '--no', '--', 'mediacdn', ...args], { cwd: d, env: env(d) }) },
  { name: 'node_modules/.bin/node bin/mediacdn.js', run: (args, d) => runProgram(PINNED_NODE, [BIN, ...args], { cwd: ROOT, env: env(d) }) },
];
if (existsSync(SYSTEM_NODE)) {
  runners.push({ name: `${SYSTEM_NODE} bin/mediacdn.js`, run: (args, d) => runProgram(SYSTEM_NODE, [BIN, ...args], { cwd: ROOT, env: env(d) }) });
}

for (const runner of runners) {
  test(`bin: ${runner.name} runs one-shot commands with their output and exit codes`, async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-bin-'));
    try {
      // A successful one-shot command writes nothing on stderr (no npm warnings, no Node warnings):
      // a cron job mails whatever it prints there.
      const help = await runner.run(['--help'], dataDir);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^Usage: mediacdn /);
      assert.equal(help.stderr, '');

      const version = await runner.run(['--version'], dataDir);
      assert.equal(version.code, 0, version.stderr);
      assert.equal(version.stdout.trim(), '0.1.0');
      assert.equal(version.stderr, '');

      const ls = await runner.run(['ls', '--json'], dataDir);
      assert.equal(ls.code, 0, ls.stderr);
      assert.deepEqual(JSON.parse(ls.stdout), { items: [], total: 0 });
      assert.equal(ls.stderr, '');
      assert.ok(existsSync(path.join(dataDir, 'mediacdn.db')), 'ls opened the library in the data folder');

      const text = await runner.run(['ls'], dataDir);
      assert.deepEqual([text.code, text.stdout, text.stderr], [0, '0 of 0 item(s)\n', '']);

      const bad = await runner.run(['ls', '--limit', 'abc'], dataDir);
      assert.equal(bad.code, 2);
      assert.equal(bad.stdout, '');
      assert.equal(bad.stderr, 'mediacdn: --limit must be a whole number, got "abc" (see mediacdn ls --help)\n');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}
