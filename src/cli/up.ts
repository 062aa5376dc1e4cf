// `mediacdn up` (what `npm start` runs): the whole system in one command on the embedded default.
// Starts the origin and one edge with a pull zone in front of it, points media links at the edge,
// adds generated demo content to an empty library, prints the URLs, stops cleanly on Ctrl-C.
import { createServer } from 'node:net';
import path from 'node:path';
import type { Command } from 'commander';
import { resolveAdminToken } from '../config/token.ts';
import { listMedia } from '../media/catalog.ts';
import { addDemoContent } from '../media/demo.ts';
import { createLibrary } from '../media/library.ts';
import { linkSigner } from '../edge/zone/signed-url.ts';
import { openDatabase } from '../db/connect.ts';
import { createLocalStorage } from '../storage/local-store.ts';
import { createLogger, startOrigin } from '../origin/server.ts';
import { startEdge } from '../edge/server.ts';
import { configFrom, intOption, listenFailure, type Io } from './context.ts';
import { originExtras } from './compose.ts';
import { purgeWaves } from './purge-fleet.ts';
import { removeRunning, writeRunning } from './running.ts';
import { purgesAfter } from '../db/purge-log.ts';

type UpFlags = { originPort?: number; edgePort?: number; host: string; demo: boolean };

/** A free TCP port on `host` (asked of the kernel), for `--origin-port 0` / `--edge-port 0`. */
async function freePort(host: string): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, host, resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export type RunningSystem = { originUrl: string; edgeUrl: string; mediaUrl: string; token: string; close(): Promise<void> };

export async function startSystem(cmd: Command, io: Io, flags: UpFlags): Promise<RunningSystem> {
  const base = configFrom(cmd, io);
  const host = flags.host;
  const originPort = flags.originPort ?? base.origin.port;
  const edgePort = flags.edgePort ?? base.edge.port;
  const pick = (port: number) => (port === 0 ? freePort(host).catch((err: unknown) => Promise.reject(listenFailure('up', err))) : port);
  const op = await pick(originPort);
  const ep = await pick(edgePort);
  const publicHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host === '127.0.0.1' ? 'localhost' : host;
  const edgeUrl = `http://${publicHost}:${ep}`;
  // origin.tls: the origin serves https, and the default zones fetch from it over https (verified).
  const originScheme = base.origin.tls !== undefined ? 'https' : 'http';
  const originUrl = `${originScheme}://${publicHost}:${op}`;
  // Every media link goes through the edge unless the user configured links of their own.
  const mediaUrl = base.mediaUrlSource === 'default' ? `${edgeUrl}/media/` : base.mediaUrl;
  const zones =
    base.edge.zones.length > 0
      ? base.edge.zones
      : [...new Set(['localhost', '127.0.0.1', publicHost])].map((h) => ({ host: h, origin: `${originScheme}://127.0.0.1:${op}` }));
  const config = configFrom(cmd, io, { origin: { port: op, host }, edge: { port: ep, host, zones } });
  const logger = createLogger(config);
  const token = await resolveAdminToken(config);

  const db = await openDatabase(config.database);
  const library = createLibrary({ db, storage: createLocalStorage(config.mediaDir), mediaUrl, signLink: linkSigner(mediaUrl, config.edge.zones, Date.now) });
  // The edge catches up on the purge log straight from the database (purges by other processes).
  // A server that cannot listen stops the start at once, with what was started closed again.
  const edge = await startEdge({ ...config.edge, cacheDir: path.join(config.dataDir, 'cache'), adminToken: token.token, purgeLog: (after) => purgesAfter(db, after, Date.now()) }).catch(
    async (err: unknown) => {
      await db.close();
      throw listenFailure('edge', err, { [ep]: '--edge-port' });
    },
  );
  const wildcard = host === '0.0.0.0' || host === '::';
  const controlUrl = edge.adminUrl ?? `http://${wildcard ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${edge.port}`;
  const zoneHosts = config.edge.zones.map((z) => z.host);
  const extras = originExtras({
    config,
    library,
    token: token.token,
    logger,
    waves: purgeWaves(config, { controlUrl }),
    zoneHosts,
    // This process is the only origin of its edge, and it forgets a deleted file before the hook runs.
    purgeAfterMs: 0,
    edgeStats: async () => edge.stats.snapshot(),
  });
  const origin = await startOrigin({ config, library, logger, ...extras }).catch(async (err: unknown) => {
    await edge.close();
    await db.close();
    throw listenFailure('origin', err, { [op]: '--origin-port' });
  });
  // Only once both listen: a start that fails (a taken port) leaves the library as it found it.
  let demo = 0;
  if (flags.demo && (await listMedia(library, { limit: 1 })).total === 0) demo = (await addDemoContent(library)).length;
  // Every other command of this data folder reads what runs here: links, the edge to purge, statistics.
  await writeRunning(config, { pid: process.pid, startedAt: new Date().toISOString(), originUrl, edgeUrl, controlUrl, mediaUrl, zones: zoneHosts });

  io.out(`mediacdn is up (data in ${config.dataDir}, ${config.database.kind === 'sqlite' ? `SQLite ${config.database.path}` : 'PostgreSQL'})`);
  io.out(`  listener page: ${originUrl}/`);
  io.out(`  dashboard:     ${originUrl}/admin`);
  if (edge.httpsUrl !== undefined) io.out(`  edge (https):  ${edge.httpsUrl}/ (HTTP/2, HTTP/1.1; zones with tls)`);
  io.out(`  edge (CDN):    ${edgeUrl}/   zones: ${config.edge.zones.map((z) => `${z.host} → ${z.origin}`).join(', ')}`);
  io.out(`  media links:   ${mediaUrl}<file>`);
  if (demo > 0) io.out(`  added ${demo} demo items (generated tones and a looping background, titled "Demo: …")`);
  if (token.created) io.out(`  admin token (created now, stored in ${config.tokenFile}; shown once):\n  ${token.token}`);
  else io.out(`  admin token: in ${config.token ? 'MEDIACDN_TOKEN' : config.tokenFile}`);
  io.out('Press Ctrl-C to stop.');

  let closing: Promise<void> | undefined;
  return {
    originUrl,
    edgeUrl,
    mediaUrl,
    token: token.token,
    close: () =>
      (closing ??= (async () => {
        await removeRunning(config);
        await origin.close();
        await edge.close();
        await db.close();
      })()),
  };
}

export function registerUp(program: Command, io: Io): void {
  program
    .command('up')
    .description('start the origin and an edge in front of it (demo content on an empty library)')
    .option('--origin-port <n>', 'origin port (default 4000; 0 = any free port)', intOption('--origin-port'))
    .option('--edge-port <n>', 'edge port (default 8080; 0 = any free port)', intOption('--edge-port'))
    .option('--host <host>', 'address both listen on', '127.0.0.1')
    .option('--no-demo', 'do not add demo content to an empty library')
    .action(async (flags: UpFlags, cmd: Command) => {
      const system = await startSystem(cmd, io, flags);
      let stopping = false;
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        process.on(sig, () => {
          if (stopping) return;
          stopping = true;
          io.out('stopping…');
          system.close().then(
            () => process.exit(0),
            (err: unknown) => {
              io.err(`mediacdn: shutdown failed: ${(err as Error).message}`);
              process.exit(1);
            },
          );
        });
      }
    });
}
