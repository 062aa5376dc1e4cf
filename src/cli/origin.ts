// `mediacdn origin`: runs the origin server, in one process or in N cluster workers sharing the port,
// prints its URLs (and the admin token when this start created it), stops gracefully on SIGTERM/SIGINT.
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import type { Command } from 'commander';
import type { Config } from '../config/index.ts';
import { resolveAdminToken } from '../config/token.ts';
import { createLogger, startOrigin, type RunningOrigin } from '../origin/server.ts';
import type { MediaItem } from '../media/library.ts';
import { EXIT, MediaCdnError, type ExitCode } from '../errors.ts';
import { configFrom, intOption, listenFailure, openLibrary, type Io } from './context.ts';
import { originExtras } from './compose.ts';
import { purgeWaves } from './purge-fleet.ts';

type OriginFlags = { port?: number; host?: string; workers?: number };

/** Messages between the primary and the workers. */
type ClusterMessage = { type: 'media-deleted'; fileName: string };
/** A worker that could not start tells the primary why; the primary reports it once and stops. */
type StartFailedMessage = { type: 'start-failed'; code: string; message: string; exitCode: ExitCode };

function isClusterMessage(m: unknown): m is ClusterMessage {
  return typeof m === 'object' && m !== null && (m as ClusterMessage).type === 'media-deleted' && typeof (m as ClusterMessage).fileName === 'string';
}

function isStartFailed(m: unknown): m is StartFailedMessage {
  return typeof m === 'object' && m !== null && (m as StartFailedMessage).type === 'start-failed' && typeof (m as StartFailedMessage).message === 'string';
}

export function workerCount(configured: number): number {
  return configured > 0 ? configured : Math.max(1, os.availableParallelism());
}

function printStart(io: Io, config: Config, url: string, token: { token: string; created: boolean }, workers: number): void {
  io.out(`origin listening on ${url} (${workers} worker${workers === 1 ? '' : 's'})`);
  io.out(`  media:  ${url}/media/<file>   (links use ${config.mediaUrl})`);
  io.out(`  api:    ${url}/api/media`);
  io.out(`  listener page: ${url}/   dashboard: ${url}/admin`);
  io.out(`  health: ${url}/healthz`);
  if (token.created) io.out(`  admin token (created now, stored in ${config.tokenFile}; shown once):\n  ${token.token}`);
}

/** Resolves when a signal has stopped the server(s). */
function onSignals(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      stop(sig).then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

/**
 * Starts one origin process with the library, the web pages and the dashboard's endpoints; deleted
 * media are purged from the fleet and origin.purgeEdges (shields first), which also supply the statistics.
 */
async function startFull(config: Config, flags: OriginFlags, onDeleted?: (item: MediaItem) => void): Promise<RunningOrigin> {
  const logger = createLogger(config);
  const { token } = await resolveAdminToken(config);
  const { lib, close: closeDb } = await openLibrary(config);
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
    throw listenFailure('origin', err);
  }
  return { ...origin, close: async () => { await origin.close(); await closeDb(); } };
}

async function runSingle(config: Config, io: Io, flags: OriginFlags): Promise<void> {
  const token = await resolveAdminToken(config);
  const origin = await startFull(config, flags);
  printStart(io, config, origin.url, token, 1);
  onSignals(() => origin.close());
}

/**
 * Forks the workers and resolves once every one is listening. A worker that exits before it listens
 * (port in use, database unreachable) stops the start: the others are stopped and its reason is thrown,
 * so the command exits non-zero instead of a primary staying up with nothing listening. After the
 * start, a worker that dies is replaced.
 */
async function runPrimary(config: Config, io: Io, flags: OriginFlags, n: number): Promise<void> {
  // Created here, once, so that it is printed once and every worker reads the same one.
  const token = await resolveAdminToken(config);
  const logger = createLogger(config);
  let stopping = false;
  let started = false;
  const listening = new Set<number>();
  const reasons = new Map<number, StartFailedMessage>();
  const spawn = (): Worker => cluster.fork({ MEDIACDN_ORIGIN_WORKER: '1' });
  const allWorkers = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  const stopAll = (sig: NodeJS.Signals): Promise<void[]> =>
    Promise.all(
      allWorkers().map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.process.kill(sig);
          }),
      ),
    );
  await new Promise<void>((resolve, reject) => {
    cluster.on('message', (from, msg: unknown) => {
      if (isStartFailed(msg)) {
        reasons.set(from.id, msg);
        return;
      }
      // A delete through one worker's API: the others drop their cached copy at once.
      if (!isClusterMessage(msg)) return;
      for (const w of allWorkers()) if (w !== from) w.send(msg);
    });
    cluster.on('listening', (w, address) => {
      listening.add(w.id);
      if (started || listening.size < n) return;
      started = true;
      const host = flags.host ?? config.origin.host;
      printStart(io, config, `${config.origin.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${address.port}`, token, n);
      resolve();
    });
    cluster.on('exit', (w, code, signal) => {
      if (stopping) return;
      if (!started) {
        stopping = true;
        const why = reasons.get(w.id);
        const err = why
          ? new MediaCdnError(why.code, why.message, { exitCode: why.exitCode })
          : new MediaCdnError('origin_start_failed', `origin: worker ${w.process.pid} ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before it listened`, { exitCode: EXIT.failure });
        stopAll('SIGTERM').then(() => reject(err), () => reject(err));
        return;
      }
      logger.error({ workerPid: w.process.pid, code, signal }, 'origin worker died; starting another');
      spawn();
    });
    for (let i = 0; i < n; i++) spawn();
  });
  onSignals(async (sig) => {
    stopping = true;
    await stopAll(sig as NodeJS.Signals);
  });
}

async function runWorker(config: Config, flags: OriginFlags): Promise<void> {
  let origin: RunningOrigin | undefined;
  process.on('message', (msg: unknown) => {
    if (isClusterMessage(msg)) origin?.forgetMedia(msg.fileName);
  });
  try {
    origin = await startFull(config, flags, (item) => process.send?.({ type: 'media-deleted', fileName: item.fileName } satisfies ClusterMessage));
  } catch (err) {
    // The primary reports it, once for all workers; this worker leaves quietly.
    const e = err instanceof MediaCdnError ? err : undefined;
    const msg: StartFailedMessage = { type: 'start-failed', code: e?.code ?? 'origin_start_failed', message: e?.message ?? `origin: ${(err as Error)?.message ?? String(err)}`, exitCode: e?.exitCode ?? EXIT.failure };
    process.exitCode = msg.exitCode;
    process.send?.(msg, undefined, {}, () => process.disconnect());
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
      if (n === 1) return runSingle(config, io, flags);
      return runPrimary(config, io, flags, n);
    });
}
