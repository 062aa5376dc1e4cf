// Starts an edge: one HTTP listener serving every configured pull zone from a shared two-tier cache.
// The composition root (CLI) passes validated options; tests pass a fake clock.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { edgeConfigSchema } from '../config/edge-schema.ts';
import type { EdgeConfigInput } from '../config/edge-schema.ts';
import { EdgeCache } from './cache.ts';
import type { PurgeSelector } from './cache.ts';
import { EdgeHandler } from './handler.ts';
import type { OutcomeEvent, Zone } from './handler.ts';
import { Upstream } from './upstream.ts';

export type EdgeRuntimeOptions = Omit<EdgeConfigInput, 'workers'> & {
  /** Disk tier root; each zone's entries live in <cacheDir>/<zone>/ (the CLI passes $MEDIACDN_DATA/cache). */
  cacheDir: string;
  /** Clock for every freshness and age decision; default Date.now. */
  now?: () => number;
  /** Per-response hook for statistics: zone, outcome (hit/miss/...), status. */
  onOutcome?: (e: OutcomeEvent) => void;
  /** Errors nobody else sees (a failed disk write); default: ignored. */
  onError?: (err: unknown) => void;
};

export type EdgeHandle = {
  url: string;
  port: number;
  address: string;
  /** Removes stored responses of a zone (one URL path, a path prefix or everything); returns the count. */
  purge(selector: PurgeSelector): Promise<number>;
  /** Bytes and entries per tier. */
  usage(): ReturnType<EdgeCache['usage']>;
  close(): Promise<void>;
};

export async function startEdge(options: EdgeRuntimeOptions): Promise<EdgeHandle> {
  const { cacheDir, now = Date.now, onOutcome, onError, ...rest } = options;
  const config = edgeConfigSchema.parse(rest);
  const cache = await EdgeCache.open({
    cacheDir: path.resolve(cacheDir),
    memoryCacheBytes: config.memoryCacheBytes,
    memoryObjectMaxBytes: config.memoryObjectMaxBytes,
    diskCacheBytes: config.diskCacheBytes,
    now,
  });
  const zones = new Map<string, Zone>();
  for (const z of config.zones) {
    zones.set(z.host, {
      host: z.host,
      upstream: new Upstream({
        origin: z.origin,
        originHost: z.originHost,
        connectTimeoutMs: z.connectTimeoutMs ?? config.connectTimeoutMs,
        headersTimeoutMs: z.headersTimeoutMs ?? config.headersTimeoutMs,
        bodyTimeoutMs: z.bodyTimeoutMs ?? config.bodyTimeoutMs,
        connections: config.originConnections,
      }),
      maxObjectBytes: z.maxObjectBytes ?? config.maxObjectBytes,
      heuristics: { heuristicFraction: z.heuristicFraction, heuristicMaxSeconds: z.heuristicMaxSeconds },
      staleIfErrorSeconds: 0,
    });
  }
  const handler = new EdgeHandler({ zones, cache, now, coalesceTimeoutMs: config.coalesceTimeoutMs, onOutcome, onError });
  const server = createServer({ keepAliveTimeout: 65_000 }, handler.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${urlHost}:${addr.port}`,
    port: addr.port,
    address: addr.address,
    purge: (selector) => cache.purge(selector),
    usage: () => cache.usage(),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.all([...zones.values()].map((z) => z.upstream.close()));
      await cache.close();
    },
  };
}
