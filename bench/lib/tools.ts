// The programs a bench section needs, checked before anything starts: a missing one is named with the
// Debian package that brings it, and the section does not run.
import { spawnSync } from 'node:child_process';

/** Program → Debian package. */
export const TOOL_PACKAGES: Record<string, string> = {
  nginx: 'nginx-light',
  wrk: 'wrk',
  varnishd: 'varnish',
  taskset: 'util-linux',
  curl: 'curl',
  nsd: 'nsd',
  dnsperf: 'dnsperf',
  dig: 'bind9-dnsutils',
  h2load: 'nghttp2-client',
  openssl: 'openssl',
};

export function missingTools(tools: string[]): string[] {
  return tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0);
}

/** Throws one message naming every missing program, the sections that need it, and the apt-get line that installs them. */
export function requireTools(needs: Record<string, string[]>): void {
  const missing = missingTools([...new Set(Object.values(needs).flat())]);
  if (missing.length === 0) return;
  const who = (t: string) => Object.keys(needs).filter((section) => needs[section].includes(t)).join(', ');
  const packages = [...new Set(missing.map((t) => TOOL_PACKAGES[t] ?? t))];
  throw new Error(`not installed here: ${missing.map((t) => `${t} (for ${who(t)})`).join(', ')}. On Debian: apt-get install -y ${packages.join(' ')} (or BENCH_ONLY=<section> for a section that has what it needs)`);
}
