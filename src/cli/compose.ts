// Wiring shared by the commands that start servers (`origin`, `up`): the web routes and the admin
// JSON endpoints the dashboard reads, and the purge of edges when media is deleted.
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Library, MediaItem } from '../media/library.ts';
import type { StartOriginOptions } from '../origin/server.ts';
import { createWebRoutes, PUBLIC_API_PATHS, webAdminJson } from '../web/routes.ts';
import { summariseBackups } from '../backup/summary.ts';
import { mediaPurger } from '../edge/control/purge-client.ts';
import type { StatsSnapshot } from '../edge/stats/figures.ts';
import { fetchFleetStats, statsSources } from './fleet-stats.ts';

/** The absolute URL an edge caches a stored file under, for each zone host it may be asked through. */
export function mediaUrlsForPurge(item: Pick<MediaItem, 'url'>, zoneHosts: readonly string[]): string[] {
  const urls = new Set<string>();
  const abs = item.url.startsWith('//') ? `http:${item.url}` : item.url;
  if (/^https?:\/\//.test(abs)) urls.add(abs);
  const path = new URL(abs, 'http://placeholder.invalid').pathname;
  for (const host of zoneHosts) urls.add(`http://${host}${path}`);
  return [...urls];
}

export type OriginExtras = Pick<StartOriginOptions, 'extraRoutes' | 'publicApiPaths' | 'adminJson' | 'onMediaDeleted'>;

/**
 * The listener page, dashboard and playlist; `/api/edge-stats` and `/api/backups` for the dashboard;
 * purging deleted media from the edges. `edgeStats` defaults to asking the fleet and the configured edges
 * (one row per edge and their total).
 */
export function originExtras(opts: {
  config: Config;
  library: Library;
  token: string;
  logger: Logger;
  edges: readonly string[];
  zoneHosts: readonly string[];
  edgeStats?: () => Promise<StatsSnapshot>;
}): OriginExtras {
  const purge = mediaPurger({
    edges: opts.edges,
    token: opts.token,
    onFailure: (r) => opts.logger.error({ edge: r.edge, status: r.status, error: r.error }, 'purge of deleted media failed on an edge'),
  });
  return {
    extraRoutes: createWebRoutes({ library: opts.library, stationDir: path.join(opts.config.dataDir, 'station') }),
    publicApiPaths: PUBLIC_API_PATHS,
    adminJson: {
      'edge-stats': opts.edgeStats ?? (() => fetchFleetStats(statsSources(opts.config, opts.edges), opts.token)),
      backups: () => summariseBackups(opts.config.backup.repo),
      ...webAdminJson({ library: opts.library, dataDir: opts.config.dataDir }),
    },
    onMediaDeleted: (item) => {
      for (const url of mediaUrlsForPurge(item, opts.zoneHosts)) {
        purge(url).catch((err: unknown) => opts.logger.error({ err, url }, 'purge of deleted media failed'));
      }
    },
  };
}
