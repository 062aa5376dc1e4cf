// Runs the real CLI in a child process under the test's own Node (24) and collects its output.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { run } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/context.ts';

export const CLI = path.join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

/** PATH as a user's shell has it: without the node_modules/.bin that `npm test` puts first. */
export const userPath = (process.env.PATH ?? '')
  .split(path.delimiter)
  .filter((p) => !p.includes(`node_modules${path.sep}.bin`))
  .join(path.delimiter);

export type CliResult = { code: number | null; stdout: string; stderr: string };

export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return runProgram(process.execPath, [CLI, ...args], opts);
}

export type RunOptions = {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  /** Kill the program after this long (a command that should exit but keeps running); code is then null. */
  killAfterMs?: number;
};

/** Runs any program (npx, another Node, the bin) with the test's environment plus `opts.env`. */
export function runProgram(command: string, args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    // npm's lifecycle variables (npm_config_*, npm_package_*, …) are left out: `npm test` sets them, a
    // user's shell does not, and npm or npx started with them would follow the test run's settings.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
    for (const [k, v] of Object.entries({ ...inherited, LOG_LEVEL: 'warn', ...opts.env })) if (v !== undefined) env[k] = v;
    const child = spawn(command, args, { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = opts.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A program that exits (or closes its stdin) before taking its input makes the write fail with
    // EPIPE: what it printed and its exit code are the result, not that failed write.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** The CLI in this process (faster than a child; same error handling): argv → exit code, stdout, stderr. */
export function cliInProcess(env: Record<string, string | undefined>, cwd: string): (...argv: string[]) => Promise<{ code: number; out: string; err: string }> {
  return async (...argv) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), isTTY: false, env, cwd };
    const code = await run(argv, io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
}
