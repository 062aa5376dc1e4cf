// `mediacdn edge`: runs a CDN edge for the configured pull zones (plus --zone flags), prints its URLs
// (and the admin token when this start created it), stops gracefully on SIGTERM/SIGINT.
//
// Workers: one process only. Several processes would each hold their own memory tier and answer purge
// and statistics requests for themselves alone (a purge reaching one worker would leave the others
// serving the old object), and the disk tier is not safe for several processes sharing a folder. To
// use more cores, run several edges on their own ports and data folders behind a load balancer.
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { parseZoneFlag } from '../config/edge-schema.ts';
import { resolveAdminToken } from '../config/token.ts';
import { EXIT, MediaCdnError } from '../errors.ts';
import { startEdge } from '../edge/server.ts';
import { configFrom, intOption, listenFailure, type Io } from './context.ts';

type EdgeFlags = { port?: number; httpsPort?: number; host?: string; workers?: number; zone?: string[]; adminPort?: number };

export class EdgeUsageError extends MediaCdnError {
  constructor(message: string) {
    super('edge_usage', message, { exitCode: EXIT.usage });
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Resolves edge.workers (0 = one per core) and refuses more than one process, saying why. */
export function checkWorkers(configured: number): void {
  const n = configured > 0 ? configured : Math.max(1, os.availableParallelism());
  if (n > 1) {
    throw new EdgeUsageError(
      `edge: ${n} workers requested, but an edge runs as one process for now: purge and statistics would reach only one worker, ` +
        'and the disk cache is not safe for several processes. Run several edges (own --port and --data each) behind a load balancer, or use --workers 1.',
    );
  }
}

export function registerEdge(program: Command, io: Io): void {
  program
    .command('edge')
    .description('run a CDN edge: pull zones cached in memory and on disk, purge and statistics endpoints')
    .option('--port <n>', 'port (default 8080; 0 = any free port)', intOption('--port'))
    .option('--https-port <n>', 'also serve https (HTTP/2 and HTTP/1.1) on this port, for zones with a tls certificate', intOption('--https-port'))
    .option('--host <host>', 'address to listen on (default 0.0.0.0; :: for IPv6 and IPv4)')
    .option('--workers <n>', 'worker processes (only 1 is supported for now)', intOption('--workers'))
    .option('--zone <host=origin>', 'pull zone, e.g. cdn.example.com=http://127.0.0.1:4000 (repeatable; adds to or replaces config zones)', collect)
    .option('--admin-port <n>', 'serve /_mediacdn/ control endpoints on this port only (on edge.adminHost)', intOption('--admin-port'))
    .action(async (flags: EdgeFlags, cmd: Command) => {
      const base = configFrom(cmd, io);
      const fromFlags = (flags.zone ?? []).map(parseZoneFlag);
      const zones = [...base.edge.zones.filter((z) => !fromFlags.some((f) => f.host === z.host)), ...fromFlags];
      const config = configFrom(cmd, io, {
        edge: {
          ...(flags.port !== undefined ? { port: flags.port } : {}),
          ...(flags.httpsPort !== undefined ? { httpsPort: flags.httpsPort } : {}),
          ...(flags.host !== undefined ? { host: flags.host } : {}),
          ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
          ...(flags.adminPort !== undefined ? { adminPort: flags.adminPort } : {}),
          zones,
        },
      });
      checkWorkers(config.edge.workers);
      if (config.edge.zones.length === 0) throw new EdgeUsageError('edge: no pull zones; pass --zone <host>=<origin-url> or set edge.zones in the config file.');
      const token = await resolveAdminToken(config);
      const { workers: _workers, ...edgeOptions } = config.edge;
      const edge = await startEdge({
        ...edgeOptions,
        cacheDir: path.join(config.dataDir, 'cache'),
        adminToken: token.token,
        onError: (err) => io.err(`edge: ${(err as Error)?.message ?? String(err)}`),
        onWarning: (message) => io.err(message),
        onLog: (message) => io.err(message),
      }).catch((err: unknown) => {
        throw listenFailure('edge', err);
      });
      io.out(`edge listening on ${edge.url}${edge.httpsUrl !== undefined ? ` and ${edge.httpsUrl} (HTTP/2, HTTP/1.1)` : ''}`);
      for (const z of config.edge.zones) {
        const tls = z.tls === undefined ? '' : `  (https: ${z.tls.cert}${z.redirectHttp ? ', http redirected' : ''}${z.hsts !== undefined ? `, hsts ${z.hsts} s` : ''})`;
        io.out(`  zone ${z.host} → ${z.shield !== undefined ? `shield ${z.shield}` : z.origin}${tls}`);
      }
      const controlBase = edge.adminUrl ?? edge.url;
      io.out(`  control: ${controlBase}/_mediacdn/purge (POST), /_mediacdn/stats, /_mediacdn/metrics (admin token)`);
      io.out(`  cache:   ${path.join(config.dataDir, 'cache')}`);
      if (token.created) io.out(`  admin token (created now, stored in ${config.tokenFile}; shown once):\n  ${token.token}`);
      let stopping = false;
      for (const sig of ['SIGTERM', 'SIGINT'] as const) {
        process.on(sig, () => {
          if (stopping) return;
          stopping = true;
          edge.close().then(
            () => process.exit(0),
            (err: unknown) => {
              io.err(`edge: shutdown failed: ${(err as Error)?.message ?? String(err)}`);
              process.exit(1);
            },
          );
        });
      }
    });
}
