// A newcomer's first commands say only what matters: `npm ci` with the machine's own npm and Node (20
// here, older than the dependencies' "engines"), `npm start` with a page view and Ctrl-C, and
// `npm run -s mediacdn -- … --json` as the README prints it. Run with the PATH of a user's shell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runProgram, userPath } from './helpers/cli.ts';

const ROOT = path.join(import.meta.dirname, '..');


const machineNode = await runProgram('node', ['-p', 'process.versions.node'], { env: { PATH: userPath } }).then(
  (r) => (r.code === 0 ? r.stdout.trim() : undefined),
  () => undefined,
);

test('npm ci prints no warnings, also where the machine Node is older than the dependencies want', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-npm-ci-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const f of ['package.json', 'package-lock.json']) await copyFile(path.join(ROOT, f), path.join(dir, f));
  // A home of its own: no user .npmrc decides what is printed. --dry-run plans the install from the
  // lockfile, engine checks included, without fetching or writing anything.
  const env = { PATH: userPath, HOME: dir, npm_config_cache: path.join(dir, 'cache'), npm_config_update_notifier: 'false' };
  const ci = () => runProgram('npm', ['ci', '--dry-run'], { cwd: dir, env });
  if (machineNode !== undefined && Number(machineNode.split('.')[0]) < 22) {
    const without = await ci();
    assert.equal(without.code, 0, without.stderr);
    assert.match(without.stderr, /npm warn EBADENGINE/, `without the project's .npmrc, npm on Node ${machineNode} warns`);
  }
  await copyFile(path.join(ROOT, '.npmrc'), path.join(dir, '.npmrc'));
  const quiet = await ci();
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, '');
  assert.match(quiet.stdout, /added \d+ packages/);
});

test('allowScripts approves every dependency with an install script (npm 11 warns about each one it does not)', async () => {
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean>; devDependencies: Record<string, string> };
  const lock = JSON.parse(await readFile(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; hasInstallScript?: boolean }> };
  const withScripts = Object.entries(lock.packages)
    .filter(([where, p]) => where !== '' && p.hasInstallScript === true)
    .map(([where, p]) => ({ name: where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length), version: p.version }));
  assert.ok(withScripts.some((p) => p.name === 'node'), 'the pinned node package installs its binary in preinstall');
  for (const p of withScripts) {
    assert.ok(pkg.allowScripts?.[p.name] === true || pkg.allowScripts?.[`${p.name}@${p.version}`] === true, `allowScripts approves ${p.name}`);
  }
});

test('`npm run -s mediacdn -- ls --json`, as the README prints it, writes clean JSON and nothing on stderr', async (t) => {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  assert.match(readme, /`npm run -s mediacdn -- …`/);
  const data = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-npm-run-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  const env = { PATH: userPath, MEDIACDN_DATA: data, DATABASE_URL: undefined, MEDIACDN_TOKEN: undefined, LOG_LEVEL: undefined };
  const res = await runProgram('npm', ['run', '-s', 'mediacdn', '--', 'ls', '--json'], { cwd: ROOT, env });
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(JSON.parse(res.stdout), { items: [], total: 0 });
  assert.equal(res.stderr, '');
});

test('npm start: the banner says the token was created and no log line says otherwise; a page view and Ctrl-C leave stderr empty', async (t) => {
  const data = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-npm-start-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !['DATABASE_URL', 'MEDIACDN_TOKEN', 'LOG_LEVEL', 'MEDIACDN_CONFIG', 'MEDIACDN_DATA'].includes(k)) env[k] = v;
  Object.assign(env, { PATH: userPath, MEDIACDN_DATA: data });
  // Its own process group, so that Ctrl-C can be sent as a terminal sends it: to npm and the server.
  const child = spawn('npm', ['start', '--', '--origin-port', '0', '--edge-port', '0'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (stdout.includes('Press Ctrl-C to stop.')) {
        child.stdout.off('data', onData);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    exited.then(({ code }) => reject(new Error(`npm start exited with ${code}:\n${stdout}${stderr}`)));
  });
  const page = /listener page: (http:\/\/\S+?)\/?\s/.exec(stdout)?.[1];
  assert.ok(page, stdout);
  const html = await (await fetch(`${page}/`)).text();
  const scripts = [...html.matchAll(/src="(\/assets\/[^"]+\.ts)"/g)].map((m) => m[1]);
  assert.ok(scripts.length > 0, 'the listener page loads its script');
  for (const s of scripts) {
    const res = await fetch(`${page}${s}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /javascript/);
    await res.text();
  }
  process.kill(-child.pid!, 'SIGINT');
  // npm leaves by the signal, as after Ctrl-C in a terminal; the server stops cleanly.
  const end = await exited;
  assert.ok(end.code === 0 || end.signal === 'SIGINT', `${JSON.stringify(end)}\n${stdout}${stderr}`);
  assert.match(stdout, /"msg":"origin stopped"/);

  assert.equal(stderr, '', 'nothing on stderr: no ExperimentalWarning, no npm warning');
  assert.match(stdout, /admin token \(created now, stored in .*admin-token; shown once\):\n {2}\S{40,}\n/);
  assert.doesNotMatch(stdout, /tokenCreated|ExperimentalWarning/);
  assert.match(stdout, /Press Ctrl-C to stop\.\nstopping…\n/);
});
