// `mediacdn origin`: runs the origin server, in one process or in N cluster workers sharing the port,
// prints its URLs (and the admin token when this start created it), stops gracefully on SIGTERM/SIGINT.
import cluster from 'node:cluster';
import type { Command } from 'commander';
import type { Config } from '../config/index.ts';
import { resolveAdminToken } from '../config/token.ts';
import { createLogger, startOrigin, type RunningOrigin } from '../origin/server.ts';
import type { MediaItem } from '../media/library.ts';
import { configFrom, intOption, listenFailure, type Io } from './context.ts';
import { openLibrary } from './open-library.ts';
import { publicMediaUrl } from './running.ts';
import { originExtras } from './compose.ts';
import { purgeWaves } from './purge-fleet.ts';
import { onSignals, reportStartFailure, superviseWorkers, workerCount } from './cluster.ts';
import { forkWorkersWithServerSettings, reexecWithServerSettings } from './runtime-flags.ts';

type OriginFlags = { port?: number; host?: string; workers?: number };

/** Messages between the primary and the workers. */
type ClusterMessage = { type: 'media-deleted'; fileName: string };
function isClusterMessage(m: unknown): m is ClusterMessage {
  return typeof m === 'object' && m !== null && (m as ClusterMessage).type === 'media-deleted' && typeof (m as ClusterMessage).fileName === 'string';
}

/**
 * The base of media links: the configured one, except the default (this origin's own /media/) of an
 * origin asked for port 0, which names the port it got.
 */
function linkBase(config: Config, requestedPort: number, boundPort: number | undefined): string {
  const own = config.mediaUrlSource === 'default' && requestedPort === 0 && boundPort !== undefined;
  return own ? config.mediaUrl.replace(/:0\//, `:${boundPort}/`) : publicMediaUrl(config);
}

function printStart(io: Io, config: Config, url: string, links: string, token: { token: string; created: boolean }, workers: number): void {
  io.out(`origin listening on ${url} (${workers} worker${workers === 1 ? '' : 's'})`);
  io.out(`  media:  ${url}/media/<file>   (links use ${links})`);
  io.out(`  api:    ${url}/api/media`);
  io.out(`  listener page: ${url}/   dashboard: ${url}/admin`);
  io.out(`  health: ${url}/healthz`);
  if (token.created) io.out(`  admin token (created now, stored in ${config.tokenFile}; shown once):\n  ${token.token}`);
}

/**
 * Starts one origin process with the library, the web pages and the dashboard's endpoints; deleted
 * media are purged from the fleet and origin.purgeEdges (shields first), which also supply the statistics.
 */
async function startFull(config: Config, flags: OriginFlags, onDeleted?: (item: MediaItem) => void): Promise<RunningOrigin> {
  const logger = createLogger(config);
  const { token } = await resolveAdminToken(config);
  const requested = flags.port ?? config.origin.port;
  let bound: number | undefined;
  const { lib, close: closeDb } = await openLibrary(config, () => linkBase(config, requested, bound));
  const extras = originExtras({
    config,
    library: lib,
    token,
    logger,
    waves: purgeWaves(config, undefined),
    zoneHosts: config.edge.zones.map((z) => z.host),
    // Other workers (and other origin hosts on the same database) may serve the file this long.
    purgeAfterMs: config.origin.recordTtlMs,
  });
  let origin: RunningOrigin;
  try {
    origin = await startOrigin({
      config,
      library: lib,
      logger,
      host: flags.host,
      port: flags.port,
      ...extras,
      onMediaDeleted: (item) => {
        extras.onMediaDeleted?.(item);
        onDeleted?.(item);
      },
    });
  } catch (err) {
    await closeDb();
    throw listenFailure('origin', err, { [requested]: '--port' });
  }
  bound = origin.port;
  return { ...origin, close: async () => { await origin.close(); await closeDb(); } };
}

async function runSingle(config: Config, io: Io, flags: OriginFlags): Promise<void> {
  const token = await resolveAdminToken(config);
  const origin = await startFull(config, flags);
  printStart(io, config, origin.url, linkBase(config, flags.port ?? config.origin.port, origin.port), token, 1);
  onSignals(() => origin.close());
}

/** Forks the workers (see cluster.ts) and prints the start once every one is listening. */
async function runPrimary(config: Config, io: Io, flags: OriginFlags, n: number): Promise<void> {
  // Created here, once, so that it is printed once and every worker reads the same one.
  const token = await resolveAdminToken(config);
  const logger = createLogger(config);
  const running = await superviseWorkers({
    what: 'origin',
    n,
    // A delete through one worker's API: the others drop their cached copy at once.
    onMessage: (from, msg) => {
      if (!isClusterMessage(msg)) return;
      for (const w of running.workers()) if (w !== from) w.send(msg);
    },
    onReplace: (w, code, signal) => logger.error({ workerPid: w.process.pid, code, signal }, 'origin worker died; starting another'),
  });
  const host = flags.host ?? config.origin.host;
  printStart(io, config, `${config.origin.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${running.port}`, linkBase(config, flags.port ?? config.origin.port, running.port), token, n);
  onSignals((sig) => running.stop(sig as NodeJS.Signals));
}

async function runWorker(config: Config, flags: OriginFlags): Promise<void> {
  let origin: RunningOrigin | undefined;
  process.on('message', (msg: unknown) => {
    if (isClusterMessage(msg)) origin?.forgetMedia(msg.fileName);
  });
  try {
    origin = await startFull(config, flags, (item) => process.send?.({ type: 'media-deleted', fileName: item.fileName } satisfies ClusterMessage));
  } catch (err) {
    reportStartFailure('origin', err);
    return;
  }
  const o = origin;
  onSignals(() => o.close());
  // Ctrl-C in a terminal reaches every process of the group; the primary also forwards signals.
}

export function registerOrigin(program: Command, io: Io): void {
  program
    .command('origin')
    .description('serve the library over HTTP: media with Range and conditional requests, the admin API, the listener page and dashboard')
    .option('--port <n>', 'port (default 4000; 0 = any free port)', intOption('--port'))
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--workers <n>', 'worker processes (default: one per core; 1 = no cluster)', intOption('--workers'))
    .action(async (flags: OriginFlags, cmd: Command) => {
      const config = configFrom(cmd, io, {
        origin: {
          ...(flags.port !== undefined ? { port: flags.port } : {}),
          ...(flags.host !== undefined ? { host: flags.host } : {}),
          ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
        },
      });
      if (cluster.isWorker) return runWorker(config, flags);
      const n = workerCount(config.origin.workers);
      // Before anything is opened or printed: how a serving process manages memory (runtime-flags.ts).
      if (io.ownsProcess === true) reexecWithServerSettings();
      if (n > 1) forkWorkersWithServerSettings();
      if (n === 1) return runSingle(config, io, flags);
      return runPrimary(config, io, flags, n);
    });
}
