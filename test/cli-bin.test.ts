// The `mediacdn` bin run the ways the README runs it: `npx mediacdn …` in the checkout (as a user's
// shell would, with the machine's own node first on PATH), the pinned Node 24 on bin/mediacdn.js, and
// the machine's older Node on bin/mediacdn.js (which re-runs itself under the pinned one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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

// A probe loaded into every process of a run (NODE_OPTIONS reaches cluster workers too): at exit it
// says whether Node's TypeScript stripper was loaded in that process.
const PROBE = `process.on('exit', () => process.stderr.write('stripper ' + process.pid + ' ' + (process.moduleLoadList.some((m) => m.includes('amaro')) ? 'loaded' : 'not loaded') + '\\n'));\n`;

test('bin: a later run loads our TypeScript from the compile cache in the checkout, without the type stripper, in the primary and in its cluster workers', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-compile-cache-'));
  try {
    const probe = path.join(tmp, 'probe.mjs');
    await writeFile(probe, PROBE);
    const probed = { ...env(path.join(tmp, 'data')), NODE_COMPILE_CACHE: undefined, NODE_OPTIONS: `--import=${probe}` };
    const strippers = (stderr: string) => [...stderr.matchAll(/^stripper \d+ (.+)$/gm)].map((m) => m[1]);

    // Without the cache the stripper is loaded (the probe sees it).
    const off = await runProgram(PINNED_NODE, [BIN, '--version'], { cwd: ROOT, env: { ...probed, NODE_DISABLE_COMPILE_CACHE: '1' } });
    assert.deepEqual([off.code, off.stdout, strippers(off.stderr)], [0, '0.1.0\n', ['loaded']]);

    // A run fills the cache in node_modules/.cache (if an earlier one has not).
    const help = await runProgram(PINNED_NODE, [BIN, '--help'], { cwd: ROOT, env: probed });
    assert.equal(help.code, 0, help.stderr);
    assert.ok(existsSync(path.join(ROOT, 'node_modules', '.cache', 'node-compile-cache')));

    // An edge with two workers: the primary and both workers find every module in the cache.
    const edge = spawn(PINNED_NODE, [BIN, 'edge', '--workers', '2', '--host', '127.0.0.1', '--port', '0', '--zone', 'a.test=http://127.0.0.1:1'], {
      cwd: ROOT,
      env: Object.fromEntries(Object.entries({ ...process.env, ...probed, MEDIACDN_TOKEN: 'compile-cache-token-0123456789', LOG_LEVEL: 'warn' }).filter(([, v]) => v !== undefined)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    edge.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((resolve) => edge.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      edge.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (/edge listening on \S+ \(2 workers\)/.test(out)) resolve();
      });
      void exited.then((code) => reject(new Error(`edge exited (${code}): ${out}${err}`)));
    });
    edge.kill('SIGTERM');
    assert.equal(await exited, 0, err);
    assert.deepEqual(strippers(err), ['not loaded', 'not loaded', 'not loaded'], err);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
