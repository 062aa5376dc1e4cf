// What /proc says about a process the test started: its children, and the memory settings it runs with.
import { readdirSync, readFileSync } from 'node:fs';

/** The processes whose parent is `pid` (a server's cluster workers). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export type MemorySettings = { semiSpace: string | undefined; arenas: string | undefined; threshold: string | undefined };

/**
 * The memory settings a process started with (src/cli/runtime-flags.ts): the value of
 * --max-semi-space-size on its command line, MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_ in its
 * environment.
 */
export function memorySettings(pid: number): MemorySettings {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const value = (list: string[], prefix: string) => list.find((v) => v.startsWith(prefix))?.slice(prefix.length);
  return { semiSpace: value(argv, '--max-semi-space-size='), arenas: value(env, 'MALLOC_ARENA_MAX='), threshold: value(env, 'MALLOC_MMAP_THRESHOLD_=') };
}

/** What runtime-flags.ts gives a serving process. */
export const SERVING: MemorySettings = { semiSpace: '2', arenas: '2', threshold: '131072' };
