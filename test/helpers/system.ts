// `mediacdn up` as a child process on free ports, for end-to-end tests of the whole system.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI } from './cli.ts';
import { makeTestDatabase } from './db.ts';

export const SYSTEM_TOKEN = 'system-test-admin-token-0123456789';

export type RunningUp = {
  originUrl: string;
  edgeUrl: string;
  mediaUrl: string;
  dataDir: string;
  /** The database up uses (PostgreSQL runs: a schema of its own), for CLI commands on the same library. */
  databaseUrl: string | undefined;
  output: () => string;
  /** Sends SIGINT and resolves with the exit code. */
  stop(): Promise<number | null>;
  cleanup(): Promise<void>;
};

export async function startUp(extraArgs: string[] = []): Promise<RunningUp> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-up-'));
  const tdb = await makeTestDatabase(dataDir);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, { MEDIACDN_DATA: dataDir, MEDIACDN_TOKEN: SYSTEM_TOKEN, LOG_LEVEL: 'warn' });
  if (tdb.url) env.DATABASE_URL = tdb.url;
  else delete env.DATABASE_URL;
  const child: ChildProcess = spawn(process.execPath, [CLI, 'up', '--origin-port', '0', '--edge-port', '0', ...extraArgs], {
    env,
    cwd: dataDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (out.includes('Press Ctrl-C to stop.')) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    exited.then((code) => reject(new Error(`mediacdn up exited with ${code}:\n${out}`)));
  });
  const grab = (label: string) => {
    const m = out.match(new RegExp(`${label}\\s+(http://\\S+?)/?\\s`));
    if (!m) throw new Error(`no ${label} in:\n${out}`);
    return m[1].replace(/\/$/, '');
  };
  let stopped: Promise<number | null> | undefined;
  const stop = () => (stopped ??= (child.kill('SIGINT'), exited));
  return {
    originUrl: grab('listener page:'),
    edgeUrl: grab('edge \\(CDN\\):'),
    mediaUrl: grab('media links:').replace(/<file>$/, ''),
    dataDir,
    databaseUrl: tdb.url,
    output: () => out,
    stop,
    cleanup: async () => {
      if (child.exitCode === null) await stop();
      await tdb.cleanup();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
