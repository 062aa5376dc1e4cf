// CPU time from /proc: of a server's process tree (sampled around a run), of a load generator (read
// by the shell that waited for it, so not a tick is lost when it exits), and of the whole machine.
// Cores: servers under test on SERVER_CORE, load generators on CLIENT_CORE (taskset).
import { execFile, execFileSync } from 'node:child_process';
import os from 'node:os';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isKernelThread, parseCpuTotals, parseProcStat, type ProcStat } from './measure.ts';
import { processTree } from './proc.ts';

export const CLIENT_CORE = 0;
export const SERVER_CORE = 1;
/**
 * Servers with a worker per core (the "every core" rows): every core of the machine, which the load
 * generator on CLIENT_CORE shares with them.
 */
export const ALL_CORES = `0-${Math.max(1, os.availableParallelism()) - 1}`;

/** Clock ticks per second (USER_HZ), the unit of /proc's CPU times. */
export const CLK_TCK: number = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // exited
  }
}

/** CPU-seconds (user + system, all threads) used so far by a process and its living descendants. */
export function treeCpuSec(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    const s = readProcStat(p);
    if (s) ticks += s.utime + s.stime;
  }
  return ticks / CLK_TCK;
}

/**
 * CPU-seconds used so far by everything this bench started: its own process, every living
 * descendant, and the descendants it already reaped (cutime + cstime), so that what is left of the
 * machine's busy time is other processes'.
 */
export function benchCpuSec(): number {
  const self = readProcStat(process.pid);
  return treeCpuSec(process.pid) + (self ? (self.cutime + self.cstime) / CLK_TCK : 0);
}

/** CPU-seconds that kernel threads (ksoftirqd, kworkers...) used so far: work the bench's own traffic causes. */
export function kernelThreadsCpuSec(): number {
  let ticks = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readProcStat(Number(name));
    if (s && isKernelThread(s)) ticks += s.utime + s.stime;
  }
  return ticks / CLK_TCK;
}

/** Busy CPU-seconds of the whole machine so far, kernel threads' left out (see parseCpuTotals for interrupts). */
export function machineBusySec(): number {
  return parseCpuTotals(readFileSync('/proc/stat', 'utf8')).busy / CLK_TCK - kernelThreadsCpuSec();
}

export function loadAverage1(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Resets the peak RSS (VmHWM) of a process tree (proc(5), clear_refs 5), so a row's peak can be read after it. */
export function resetPeakRss(pid: number): void {
  for (const p of processTree(pid)) {
    try {
      writeFileSync(`/proc/${p}/clear_refs`, '5');
    } catch {
      // not ours to reset, or gone: the peak then covers the whole life of the process
    }
  }
}

const STAT_MARK = 'BENCH_CHILD_STAT ';

/**
 * Runs a load generator pinned to `core`, under a shell that prints its own /proc/PID/stat after the
 * generator has exited and been waited for: cutime + cstime is then exactly the generator's CPU time.
 */
export function runPinned(o: { cmd: string; args: string[]; core: number; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ stdout: string; stderr: string; cpuSec: number }> {
  const script = `"$@"; rc=$?; printf '\\n${STAT_MARK}%s\\n' "$(cat /proc/$$/stat)"; exit $rc`;
  const args = ['-c', String(o.core), 'sh', '-c', script, 'sh', o.cmd, ...o.args];
  return new Promise((resolve, reject) => {
    execFile('taskset', args, { env: o.env ?? process.env, maxBuffer: 16 << 20, timeout: o.timeoutMs }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${o.cmd} failed: ${err.message}\n${stderr}`));
      const at = stdout.lastIndexOf(STAT_MARK);
      if (at < 0) return reject(new Error(`${o.cmd}: no CPU figure from the wrapper shell:\n${stdout}`));
      const shell = parseProcStat(stdout.slice(at + STAT_MARK.length).split('\n')[0]);
      resolve({ stdout: stdout.slice(0, at), stderr, cpuSec: (shell.cutime + shell.cstime) / CLK_TCK });
    });
  });
}
