// Wiring shared by the commands that start servers (`origin`, `up`): the web routes and the admin
// JSON endpoints the dashboard reads, and the purge of edges when media is deleted.
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Library } from '../media/library.ts';
import type { StartOriginOptions } from '../origin/server.ts';
import { createWebRoutes, PUBLIC_API_PATHS, webAdminJson } from '../web/routes.ts';
import { summariseBackups } from '../backup/summary.ts';
import type { PurgeDestination } from '../edge/control/purge-client.ts';
import type { StatsSnapshot } from '../edge/stats/figures.ts';
import { fetchFleetStats, statsSources } from './fleet-stats.ts';
import { mediaUrlsForPurge, recordAndPurge } from './purge-fleet.ts';

export type OriginExtras = Pick<StartOriginOptions, 'extraRoutes' | 'publicApiPaths' | 'adminJson' | 'onMediaDeleted'>;

/**
 * The listener page, dashboard and playlist; `/api/edge-stats` and `/api/backups` for the dashboard;
 * purging deleted media from the edges. `edgeStats` defaults to asking the fleet and the configured edges
 * (one row per edge and their total).
 *
 * A deleted file is recorded in the purge log at once and purged on the edges `purgeAfterMs` later:
 * the time every origin process may still serve it from its record cache (origin.recordTtlMs), 0 when
 * this process is the only origin (it forgot the file before this hook runs).
 */
export function originExtras(opts: {
  config: Config;
  library: Library;
  token: string;
  logger: Logger;
  /** Purge waves (purgeWaves()): shields first. */
  waves: readonly (readonly PurgeDestination[])[];
  zoneHosts: readonly string[];
  purgeAfterMs: number;
  edgeStats?: () => Promise<StatsSnapshot>;
}): OriginExtras {
  const edgeUrls = opts.waves.flat().map((d) => d.url);
  return {
    extraRoutes: createWebRoutes({ library: opts.library, stationDir: path.join(opts.config.dataDir, 'station') }),
    publicApiPaths: PUBLIC_API_PATHS,
    adminJson: {
      'edge-stats': opts.edgeStats ?? (() => fetchFleetStats(statsSources(opts.config, edgeUrls), opts.token)),
      backups: () => summariseBackups(opts.config.backup.repo),
      ...webAdminJson({ library: opts.library, dataDir: opts.config.dataDir }),
    },
    onMediaDeleted: (item) => {
      const targets = mediaUrlsForPurge(item, opts.zoneHosts).map((url) => ({ url }));
      recordAndPurge({ db: opts.library.db, targets, waves: opts.waves, client: { token: opts.token }, notBefore: Date.now() + opts.purgeAfterMs }).then(
        (run) => {
          if (run.logError !== undefined) opts.logger.error({ fileName: item.fileName, error: run.logError }, 'purge of deleted media not recorded in the purge log');
          for (const r of run.results) {
            if (r.state === 'pending') opts.logger.warn({ fileName: item.fileName, edge: r.edge, reason: r.reason }, 'purge of deleted media pending on an edge (it catches up on the purge log)');
          }
        },
        (err: unknown) => opts.logger.error({ err, fileName: item.fileName }, 'purge of deleted media failed'),
      );
    },
  };
}
