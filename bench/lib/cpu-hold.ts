// Holding a server to a share of one core (a CPU quota of the kernel's cpu controller), so that the
// server, not the load generator, is the limit of a run: with every server held to the same share,
// req/s compare what each does per CPU-second even in rows where, free, the load generator saturates
// its core first (bodies of 64 KiB and more on loopback). cgroup v1 (a `cpu` hierarchy) or v2 (the
// unified one with the cpu controller); either needs root.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processTree } from './proc.ts';

/** The quota's period: short, so a held server waits at most a few ms at a time. */
export const HOLD_PERIOD_US = 20_000;

export type CpuHold = {
  /** Share of one core a held process tree may use (0 < share ≤ 1). */
  readonly share: number;
  /** Moves a process tree (every process, all threads) under the quota. */
  enter(pid: number): void;
  /** Moves it to the hierarchy's root group, which has no quota (the bench's servers start there). */
  leave(pid: number): void;
  /** Removes the group (its processes must have left it). */
  close(): void;
};

/** The quota's lines for a share of a core: cgroup v1's cfs_quota_us, v2's "quota period" in cpu.max. */
export function quotaFor(share: number, periodUs = HOLD_PERIOD_US): number {
  if (!(share > 0 && share <= 1)) throw new Error(`a CPU hold takes a share of one core in (0, 1], got ${share}`);
  return Math.max(1000, Math.round(share * periodUs));
}

/** Where the cpu controller is: a v1 hierarchy that has it, or v2's unified mount when it offers it. */
export function cpuController(mounts: string): { version: 1 | 2; root: string } | undefined {
  let v2: string | undefined;
  for (const line of mounts.split('\n')) {
    const [, dir, type, opts] = line.split(' ');
    if (type === 'cgroup' && opts?.split(',').includes('cpu')) return { version: 1, root: dir };
    if (type === 'cgroup2') v2 ??= dir;
  }
  return v2 === undefined ? undefined : { version: 2, root: v2 };
}

/**
 * A new group held to `share` of a core, or an Error saying why there can be none here (no cpu
 * controller, not root). `name` tells groups of concurrent benches apart.
 */
export function openCpuHold(share: number, name = `mediacdn-bench-${process.pid}`): CpuHold | Error {
  const quota = quotaFor(share);
  const ctl = cpuController(readFileSync('/proc/mounts', 'utf8'));
  if (!ctl) return new Error('no cgroup cpu controller is mounted');
  const dir = path.join(ctl.root, name);
  try {
    if (ctl.version === 2) {
      const offered = readFileSync(path.join(ctl.root, 'cgroup.controllers'), 'utf8').split(/\s+/);
      if (!offered.includes('cpu')) return new Error(`cgroup v2 at ${ctl.root} does not offer the cpu controller`);
      writeFileSync(path.join(ctl.root, 'cgroup.subtree_control'), '+cpu');
    }
    if (!existsSync(dir)) mkdirSync(dir);
    if (ctl.version === 1) {
      writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(HOLD_PERIOD_US));
      writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(quota));
    } else {
      writeFileSync(path.join(dir, 'cpu.max'), `${quota} ${HOLD_PERIOD_US}`);
    }
  } catch (err) {
    return new Error(`cannot make a cgroup with a CPU quota at ${dir}: ${(err as Error).message}`);
  }
  // v1: cgroup.procs moves every thread of a process; the root group has no quota.
  const move = (to: string, pid: number) => {
    for (const p of processTree(pid)) {
      try {
        writeFileSync(path.join(to, 'cgroup.procs'), String(p));
      } catch {
        // exited meanwhile
      }
    }
  };
  return {
    share,
    enter: (pid) => move(dir, pid),
    leave: (pid) => move(ctl.root, pid),
    close: () => {
      try {
        rmdirSync(dir);
      } catch {
        // a process still in it (stopped later with it): the group goes when it is empty and removed
      }
    },
  };
}
