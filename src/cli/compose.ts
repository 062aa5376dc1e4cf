// Wiring shared by the commands that start servers (`origin`, `up`): the web routes and the admin
// JSON endpoints the dashboard reads, and the purge of edges when media is deleted.
import { request } from 'undici';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Library, MediaItem } from '../media/library.ts';
import type { StartOriginOptions } from '../origin/server.ts';
import { createWebRoutes, PLAYLIST_PATH } from '../web/routes.ts';
import { summariseBackups } from '../backup/summary.ts';
import { mediaPurger } from '../edge/purge-client.ts';
import { EdgeStats, parseSnapshot, type StatsSnapshot } from '../edge/stats.ts';

/** The absolute URL an edge caches a stored file under, for each zone host it may be asked through. */
export function mediaUrlsForPurge(item: Pick<MediaItem, 'url'>, zoneHosts: readonly string[]): string[] {
  const urls = new Set<string>();
  const abs = item.url.startsWith('//') ? `http:${item.url}` : item.url;
  if (/^https?:\/\//.test(abs)) urls.add(abs);
  const path = new URL(abs, 'http://placeholder.invalid').pathname;
  for (const host of zoneHosts) urls.add(`http://${host}${path}`);
  return [...urls];
}

/** Statistics of several edges added together (each edge's /_mediacdn/stats). */
export async function fetchEdgeStats(edges: readonly string[], token: string): Promise<StatsSnapshot> {
  const total = new EdgeStats({ now: Date.now, onWarning: () => {} });
  for (const edge of edges) {
    const res = await request(`${edge.replace(/\/+$/, '')}/_mediacdn/stats`, { headers: { authorization: `Bearer ${token}` }, headersTimeout: 5000, bodyTimeout: 5000 }).catch(() => undefined);
    if (!res) continue;
    if (res.statusCode !== 200) {
      await res.body.dump();
      continue;
    }
    const parsed = parseSnapshot(await res.body.json());
    if (parsed.kind === 'ok') total.merge(parsed.snapshot);
  }
  return total.snapshot();
}

export type OriginExtras = Pick<StartOriginOptions, 'extraRoutes' | 'publicApiPaths' | 'adminJson' | 'onMediaDeleted'>;

/**
 * The listener page, dashboard and playlist; `/api/edge-stats` and `/api/backups` for the dashboard;
 * purging deleted media from the edges. `edgeStats` defaults to asking the configured edges.
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
    extraRoutes: createWebRoutes({ library: opts.library }),
    publicApiPaths: [PLAYLIST_PATH],
    adminJson: {
      'edge-stats': opts.edgeStats ?? (() => fetchEdgeStats(opts.edges, opts.token)),
      backups: () => summariseBackups(opts.config.backup.repo),
    },
    onMediaDeleted: (item) => {
      for (const url of mediaUrlsForPurge(item, opts.zoneHosts)) {
        purge(url).catch((err: unknown) => opts.logger.error({ err, url }, 'purge of deleted media failed'));
      }
    },
  };
}
