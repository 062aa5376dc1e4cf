// How a serving process's memory is managed (the edge's and the origin's): settings that must be in
// place when the process starts, so the process started re-executes itself with them (same pid,
// process.execve) and a multi-process server's primary forks its workers with them. (The primary
// serves nothing, but its garbage dies young too: 94 -> 85 MiB resident for a 2-worker edge's
// primary, idle and after 4 KiB hits.) Settings a user gave (node's command line, NODE_OPTIONS, the
// environment) win.
//
// - V8's young generation, where every request's short-lived objects are born, grows up to 16 MiB
//   per semi-space on a 64-bit machine (two of them) and stays resident. A server's garbage is per
//   request and dies young, so a 2 MiB semi-space collects it as cheaply (a scavenge costs what
//   survives it, not what it frees).
// - glibc's malloc, which holds the Buffers' memory: it gives each thread that allocates (the libuv
//   threads that read and write files) an arena of its own, and after a large block is freed
//   it raises the size from which blocks are mapped on their own, so later large Buffers come from
//   the heap, where freed memory stays resident. Two arenas and a fixed 128 KiB threshold return
//   that memory. (Other C libraries ignore these variables.)
//
// Measured with the bench's rows, interleaved: the edge's peak resident 168 -> 137 MiB for the malloc
// settings, 185 -> 172 MiB for the semi-space, CPU per request unchanged within the runs' noise; the
// origin's 168 -> 143 MiB for both (most of it the semi-space), its radio row 0-7 % more CPU per GB.
import cluster from 'node:cluster';

export const SERVER_V8_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
export const SERVER_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };

/** The option name of a flag: `--max-semi-space-size` of `--max-semi-space-size=2` (dashes and underscores alike). */
function optionName(flag: string): string {
  return flag.split('=')[0].replaceAll('_', '-');
}

/** The flags of `wanted` whose option neither the command line nor NODE_OPTIONS sets already. */
export function missingFlags(wanted: readonly string[], execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter((a) => a.startsWith('--')).map(optionName));
  return wanted.filter((f) => !given.has(optionName(f)));
}

/** The variables of `wanted` that `env` does not set (to anything, even empty). */
export function missingEnv(wanted: Readonly<Record<string, string>>, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(wanted).filter(([k]) => env[k] === undefined));
}

/**
 * A server's first process: when it lacks some of the settings, replaces it by the same command
 * with them (same pid, stdio and environment plus the settings; it does not return). Nothing is done
 * where process.execve does not exist (Windows).
 */
export function reexecWithServerSettings(): void {
  const flags = missingFlags(SERVER_V8_FLAGS, process.execArgv, process.env.NODE_OPTIONS);
  const env = missingEnv(SERVER_MALLOC_ENV, process.env);
  if ((flags.length === 0 && Object.keys(env).length === 0) || typeof process.execve !== 'function') return;
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...flags, ...process.argv.slice(1)], { ...process.env, ...env });
}

/** A multi-process server: its workers start with the settings (also when the primary could not re-execute: a CLI run in a test's process). */
export function forkWorkersWithServerSettings(): void {
  const flags = missingFlags(SERVER_V8_FLAGS, process.execArgv, process.env.NODE_OPTIONS);
  if (flags.length > 0) cluster.setupPrimary({ execArgv: [...process.execArgv, ...flags] });
  // cluster.fork() gives each worker this process's environment.
  Object.assign(process.env, missingEnv(SERVER_MALLOC_ENV, process.env));
}
