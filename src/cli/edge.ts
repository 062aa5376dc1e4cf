// `mediacdn edge`: runs a CDN edge for the configured pull zones (plus --zone flags), prints its URLs
// (and the admin token when this start created it), stops gracefully on SIGTERM/SIGINT.
//
// Workers: one process, or with --workers n (default: one per core) n processes sharing the ports and
// one disk tier under a primary that counts what must be counted once (edge-workers.ts).
import cluster from 'node:cluster';
import path from 'node:path';
import type { Command } from 'commander';
import { parseZoneFlag } from '../config/edge-schema.ts';
import { resolveAdminToken } from '../config/token.ts';
import { EXIT, MediaCdnError } from '../errors.ts';
import { startEdge } from '../edge/server.ts';
import { configFrom, intOption, listenFailure, type Io } from './context.ts';
import { onSignals, workerCount } from './cluster.ts';
import { forkWorkersWithServerSettings, reexecWithServerSettings } from './runtime-flags.ts';
import { edgeOptions, edgePortFlags, runEdgePrimary, runEdgeWorker, type EdgeStart } from './edge-workers.ts';

type EdgeFlags = { port?: number; httpsPort?: number; host?: string; workers?: number; zone?: string[]; adminPort?: number };

export class EdgeUsageError extends MediaCdnError {
  constructor(message: string) {
    super('edge_usage', message, { exitCode: EXIT.usage });
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerEdge(program: Command, io: Io): void {
  program
    .command('edge')
    .description('run a CDN edge: pull zones cached in memory and on disk, purge and statistics endpoints')
    .option('--port <n>', 'port (default 8080; 0 = any free port)', intOption('--port'))
    .option('--https-port <n>', 'also serve https (HTTP/2 and HTTP/1.1) on this port, for zones with a tls certificate', intOption('--https-port'))
    .option('--host <host>', 'address to listen on (default 0.0.0.0; :: for IPv6 and IPv4)')
    .option('--workers <n>', 'worker processes sharing the port and the disk cache (default: one per core)', intOption('--workers'))
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
      if (config.edge.zones.length === 0) throw new EdgeUsageError('edge: no pull zones; pass --zone <host>=<origin-url> or set edge.zones in the config file.');
      if (cluster.isWorker) return runEdgeWorker(config, io, Number(process.env.MEDIACDN_EDGE_WORKERS ?? '1'));
      const n = workerCount(config.edge.workers);
      // Before anything is opened or printed: how a serving process manages memory (runtime-flags.ts).
      if (io.ownsProcess === true) reexecWithServerSettings();
      if (n > 1) forkWorkersWithServerSettings();
      // Created here, once, so that it is printed once and every worker reads the same one.
      const token = await resolveAdminToken(config);
      let edge: EdgeStart;
      if (n > 1) edge = await runEdgePrimary(config, io, n, token.token);
      else {
        const single = await startEdge(edgeOptions(config, token.token, io)).catch((err: unknown) => {
          throw listenFailure('edge', err, edgePortFlags(config.edge));
        });
        edge = single;
        onSignals(() => single.close());
      }
      io.out(`edge listening on ${edge.url}${edge.httpsUrl !== undefined ? ` and ${edge.httpsUrl} (HTTP/2, HTTP/1.1)` : ''} (${n} worker${n === 1 ? '' : 's'})`);
      for (const z of config.edge.zones) {
        const tls = z.tls === undefined ? '' : `  (https: ${z.tls.cert}${z.redirectHttp ? ', http redirected' : ''}${z.hsts !== undefined ? `, hsts ${z.hsts} s` : ''})`;
        io.out(`  zone ${z.host} → ${z.shield !== undefined ? `shield ${z.shield}` : z.origin}${tls}`);
      }
      const controlBase = edge.adminUrl ?? edge.url;
      io.out(`  control: ${controlBase}/_mediacdn/purge (POST), /_mediacdn/stats, /_mediacdn/metrics (admin token)`);
      io.out(`  cache:   ${path.join(config.dataDir, 'cache')}`);
      if (token.created) io.out(`  admin token (created now, stored in ${config.tokenFile}; shown once):\n  ${token.token}`);
    });
}
