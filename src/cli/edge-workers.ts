// `mediacdn edge --workers n` (n > 1; the default is one per core): the primary forks n workers that
// share the ports and one disk tier, and holds what is counted once for the machine (EdgePrimary:
// fill locks, rate limits, purges answered when every worker applied them, merged statistics, the
// purge log). Each worker's memory tier gets memoryCacheBytes / n, so the edge keeps its configured budget.
import path from 'node:path';
import type { Config } from '../config/index.ts';
import { resolveAdminToken } from '../config/token.ts';
import { EdgePrimary } from '../edge/cluster/primary.ts';
import { clearSpools } from '../edge/cache/spool.ts';
import { WorkerLink } from '../edge/cluster/worker.ts';
import { httpPurgeLog, PurgeSync } from '../edge/control/purge-sync.ts';
import type { ControlZone } from '../edge/control/control.ts';
import { startEdge } from '../edge/server.ts';
import type { EdgeHandle, EdgeRuntimeOptions } from '../edge/server.ts';
import { persistEvery, writeSnapshotFile } from '../edge/stats/persistence.ts';
import { onSignals, reportStartFailure, superviseWorkers, workerIndex } from './cluster.ts';
import { listenFailure, type Io } from './context.ts';

/** What a worker tells the primary once it listens: its URLs, for the start lines. */
type Started = { type: 'edge-started'; url: string; httpsUrl: string | undefined; adminUrl: string | undefined };

function isStarted(m: unknown): m is Started {
  return typeof m === 'object' && m !== null && (m as Started).type === 'edge-started' && typeof (m as Started).url === 'string';
}

/** The options startEdge gets from the config, in one process or in each worker. */
export function edgeOptions(config: Config, token: string, io: Io): EdgeRuntimeOptions {
  const { workers: _workers, ...edge } = config.edge;
  return {
    ...edge,
    cacheDir: path.join(config.dataDir, 'cache'),
    adminToken: token,
    onError: (err) => io.err(`edge: ${(err as Error)?.message ?? String(err)}`),
    onWarning: (message) => io.err(message),
    onLog: (message) => io.err(message),
  };
}

export type EdgeStart = { url: string; httpsUrl: string | undefined; adminUrl: string | undefined };

/** The flag that sets each of the edge's ports, for the hint when one is in use. */
export function edgePortFlags(e: Pick<Config['edge'], 'port' | 'httpsPort' | 'adminPort'>): Record<number, string> {
  return {
    [e.port]: '--port',
    ...(e.httpsPort !== undefined ? { [e.httpsPort]: '--https-port' } : {}),
    ...(e.adminPort !== undefined ? { [e.adminPort]: '--admin-port' } : {}),
  };
}

/** One worker: the edge with its line to the primary. */
export async function runEdgeWorker(config: Config, io: Io, n: number): Promise<void> {
  // Requests wait for the primary's first purge log catch-up when there is a log.
  const link = WorkerLink.fromProcess(workerIndex(), config.edge.purgeLogUrl === undefined);
  let edge: EdgeHandle;
  try {
    const { token } = await resolveAdminToken(config);
    const options = edgeOptions(config, token, io);
    edge = await startEdge({ ...options, memoryCacheBytes: Math.floor(config.edge.memoryCacheBytes / n), statsFile: false, cluster: link }).catch((err: unknown) => {
      throw listenFailure('edge', err, edgePortFlags(config.edge));
    });
  } catch (err) {
    reportStartFailure('edge', err);
    return;
  }
  process.send?.({ type: 'edge-started', url: edge.url, httpsUrl: edge.httpsUrl, adminUrl: edge.adminUrl } satisfies Started);
  onSignals(() => edge.close());
}

/** The primary: forks the workers, resolves with their URLs once every one listens. */
export async function runEdgePrimary(config: Config, io: Io, n: number, token: string): Promise<EdgeStart> {
  let sync: PurgeSync | undefined;
  const cacheDir = path.join(config.dataDir, 'cache');
  // Spool files of fills shared between workers: none of them is in progress any more.
  await clearSpools(cacheDir);
  const e = config.edge;
  const primary = new EdgePrimary({
    now: Date.now,
    rateLimits: e.zones.flatMap((z) => (z.rateLimit ? [{ zone: z.host, requestsPerSecond: z.rateLimit.requestsPerSecond, burst: z.rateLimit.burst ?? Math.max(1, Math.ceil(z.rateLimit.requestsPerSecond)) }] : [])),
    maxZones: Math.max(1, e.zones.length),
    lockTimeoutMs: e.coalesceTimeoutMs,
    catchUp: (): Promise<unknown> | undefined => sync?.gate(),
    afterDirectPurge: async () => sync?.afterDirectPurge(),
    onWarning: (m) => io.err(m),
  });
  const statsFile = path.join(cacheDir, 'stats.json');
  await primary.loadStats(statsFile);
  const zones = new Map<string, ControlZone>(e.zones.map((z) => [z.host, { host: z.host, queryString: z.queryString, shieldAdmin: undefined }]));
  // The purge log is read here, once for the machine; its purges reach every worker.
  sync = e.purgeLogUrl === undefined
    ? undefined
    : await PurgeSync.open({
        source: httpPurgeLog(e.purgeLogUrl, token, e.purgeLogTimeoutMs),
        stateFile: path.join(cacheDir, 'purge-log.json'),
        zones,
        purge: (selector) => primary.purgeAll(selector),
        intervalMs: e.purgeLogIntervalMs,
        onWarning: (m) => io.err(m),
        onInStep: (inStep) => primary.setInStep(inStep),
      });
  const started: Started[] = [];
  let allStarted: (() => void) | undefined;
  const workersStarted = new Promise<void>((resolve) => (allStarted = resolve));
  const running = await superviseWorkers({
    what: 'edge',
    n,
    listenersPerWorker: 1 + (e.httpsPort !== undefined ? 1 : 0) + (e.adminPort !== undefined ? 1 : 0),
    env: { MEDIACDN_EDGE_WORKERS: String(n) },
    onFork: (w) => primary.add({ id: w.id, send: (m) => w.isConnected() && w.send(m) }),
    onMessage: (w, msg) => {
      if (!isStarted(msg)) return primary.receive(w.id, msg);
      started.push(msg);
      if (started.length === n) allStarted?.();
    },
    onExit: (w) => primary.remove(w.id),
    onReplace: (w, code, signal) => io.err(`edge: worker ${w.process.pid} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}; starting another`),
  });
  await workersStarted;
  sync?.start();
  const save = () => primary.stats().then((s) => writeSnapshotFile(statsFile, s));
  const persisting = persistEvery(save, e.statsIntervalMs, (err) => io.err(`edge stats: saving ${statsFile} failed: ${(err as Error).message}`));
  onSignals(async (sig) => {
    await sync?.close();
    await persisting.stop();
    await running.stop(sig as NodeJS.Signals);
  });
  const first = started[0];
  return { url: first.url, httpsUrl: first.httpsUrl, adminUrl: first.adminUrl };
}
