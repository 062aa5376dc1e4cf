// V8 settings an edge process runs with. V8 sizes its young generation (where every request's short-lived
// objects are born) for throughput: up to 16 MiB per semi-space on a 64-bit machine, two of them, kept
// resident once grown. An edge's garbage is per request and dies young, so a 2 MiB semi-space collects
// it as cheaply (a scavenge costs what survives it, not what it frees) and keeps 13–29 MiB less
// resident under load, at the same CPU per request (measured with the edge bench's rows). The flags
// must be given when the process starts: a single-process edge re-executes itself with them (same pid,
// process.execve), a multi-process edge forks its workers with them. Flags a user gave (on the command
// line or in NODE_OPTIONS) win.
import cluster from 'node:cluster';

export const EDGE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/** The option name of a flag: `--max-semi-space-size` of `--max-semi-space-size=2` (dashes and underscores alike). */
function optionName(flag: string): string {
  return flag.split('=')[0].replaceAll('_', '-');
}

/** The flags of `wanted` whose option neither the command line nor NODE_OPTIONS sets already. */
export function missingFlags(wanted: readonly string[], execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter((a) => a.startsWith('--')).map(optionName));
  return wanted.filter((f) => !given.has(optionName(f)));
}

/**
 * A single-process edge: when this process lacks some of the flags, replaces it by the same command
 * with them (same pid, stdio and environment; it does not return). Nothing is done where process.execve
 * does not exist (Windows).
 */
export function reexecWithEdgeFlags(): void {
  const missing = missingFlags(EDGE_V8_FLAGS, process.execArgv, process.env.NODE_OPTIONS);
  if (missing.length === 0 || typeof process.execve !== 'function') return;
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...missing, ...process.argv.slice(1)], process.env);
}

/** A multi-process edge: its workers start with the flags (the primary, which serves nothing, keeps V8's defaults). */
export function forkWorkersWithEdgeFlags(): void {
  const missing = missingFlags(EDGE_V8_FLAGS, process.execArgv, process.env.NODE_OPTIONS);
  if (missing.length > 0) cluster.setupPrimary({ execArgv: [...process.execArgv, ...missing] });
}
