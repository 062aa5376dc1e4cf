// Debian's Varnish as an edge baseline: `varnishd -s malloc` in the foreground on loopback, pinned to
// the server core, default parameters, a VCL that only puts a path prefix on backend requests (so the
// counting proxy can tell whose request it is) and says X-Cache HIT / MISS like our edge.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SERVER_CORE } from './cpu.ts';
import { freePort, spawnUntilAnswering, stopProcess } from './proc.ts';

export type VarnishServer = { url: string; pid: number; stop(): Promise<void> };

export function varnishVcl(upstream: URL): string {
  const prefix = upstream.pathname.replace(/\/+$/, '');
  return `vcl 4.1;
backend origin { .host = "${upstream.hostname}"; .port = "${upstream.port}"; }
sub vcl_backend_fetch { set bereq.url = "${prefix}" + bereq.url; }
sub vcl_deliver {
  if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
`;
}

/** varnishd with `-s malloc,<mallocMiB>m` in front of `upstream` (scheme, host, port and a path prefix). */
export async function startVarnish(dir: string, upstream: string, mallocMiB = 1024): Promise<VarnishServer> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const vcl = path.join(dir, 'bench.vcl');
  await writeFile(vcl, varnishVcl(new URL(upstream)));
  const args = ['-F', '-n', path.join(dir, 'work'), '-j', 'none', '-a', `127.0.0.1:${port}`, '-T', 'none', '-f', vcl, '-s', `malloc,${mallocMiB}m`];
  const child = await spawnUntilAnswering({ cmd: 'varnishd', args, core: SERVER_CORE, port, timeoutMs: 20_000 });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid as number, stop: () => stopProcess(child) };
}
