// Starts an edge: one HTTP listener serving every configured pull zone from a shared two-tier cache,
// an https listener (HTTP/2 and HTTP/1.1, certificates by SNI) beside it when edge.httpsPort is set,
// control endpoints (purge, stats, metrics) on it or on a separate admin listener, statistics kept in
// memory and saved periodically. The composition root (CLI) passes validated options; tests pass a
// fake clock.
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { edgeConfigSchema } from '../config/edge-schema.ts';
import type { EdgeConfig, EdgeConfigInput } from '../config/edge-schema.ts';
import { EdgeCache } from './cache/cache.ts';
import type { PurgeSelector } from './cache/cache.ts';
import { createControlHandler } from './control/control.ts';
import type { ControlZone } from './control/control.ts';
import { BlockedClientError, ControlRequestError } from './errors.ts';
import { EdgeHandler, requestTarget, sendError } from './handler.ts';
import { isControlTarget, isControlUrl } from './stages/recv.ts';
import { setStamp } from './stages/context.ts';
import { absoluteFormAuthority, hostFieldProblem, zoneHostOf } from './zone/zone.ts';
import type { OutcomeEvent, Zone } from './handler.ts';
import { formatAccessLogLine } from './stats/access-log.ts';
import { clientIp } from './limits/client-ip.ts';
import { createIpMatcher } from './limits/ip-match.ts';
import { ConnectionLimiter, RateLimiter } from './limits/rate-limit.ts';
import { LeasedRateLimiter } from './limits/lease.ts';
import { realTimers } from '../server/timers.ts';
import { serveHttp1 } from '../server/http1/serve.ts';
import { EdgeStats } from './stats/counting.ts';
import type { StatsSnapshot } from './stats/figures.ts';
import { httpPurgeLog, PurgeSync } from './control/purge-sync.ts';
import type { PurgeLogSource, PurgeSyncStatus } from './control/purge-sync.ts';
import { NODE_MAX_HEADER_BYTES, Upstream } from './upstream/upstream.ts';
import { ZoneCertificates, createHttpsListener } from './tls.ts';
import { systemTrust, verifyingConnector, WatchedTrust } from './upstream/trust.ts';
import { Agent } from 'undici';
import type { HttpsListener, Protocol } from './tls.ts';
import type { WorkerLink } from './cluster/worker.ts';
import { renderPrometheus } from './stats/prometheus.ts';
import { sampleProcess } from './stats/process.ts';
import { waitAtGate } from './control/purge-sync.ts';
import { sendfileHelper, type SendHeadAndFile } from '../server/sendfile.ts';

export type EdgeRuntimeOptions = Omit<EdgeConfigInput, 'workers'> & {
  /** Disk tier root; each zone's entries live in <cacheDir>/<zone>/ (the CLI passes $MEDIACDN_DATA/cache). */
  cacheDir: string;
  /** Clock for every freshness, age, rate-limit and statistics decision; default Date.now. */
  now?: () => number;
  /** Admin bearer token for /_mediacdn/ endpoints (the CLI passes resolveAdminToken(config)); absent = disabled. */
  adminToken?: string;
  /** Where statistics are saved; default <cacheDir>/stats.json; false = kept in memory only. */
  statsFile?: string | false;
  /** Retry jitter source in [0, 1); default Math.random. */
  random?: () => number;
  /** The hit lane's sendfile when `sendfile` is on; default the built helper (tests wrap it to take fewer bytes, as a fuller socket buffer does). */
  sendfileWith?: SendHeadAndFile;
  /** Per-response hook (access log, tests): zone, outcome (hit/miss/...), status, bytes, client. */
  onOutcome?: (e: OutcomeEvent) => void;
  /** The purge log to catch up on (default: edge.purgeLogUrl over HTTP with the admin token, when set). */
  purgeLog?: PurgeLogSource;
  /** Errors nobody else sees (a failed disk write); default: ignored. */
  onError?: (err: unknown) => void;
  /** Survivable problems (unreadable stats file, failed save); default process.emitWarning. */
  onWarning?: (message: string) => void;
  /** Operational lines: certificate reloads (and kept certificates), refused TLS handshakes; default onWarning. */
  onLog?: (message: string) => void;
  /** Certificate files: wait after a change event before reading them (default 250 ms) and compare them this often (default 60 s). */
  certificateSettleMs?: number;
  certificatePollMs?: number;
  /** An https connection without an open request for this long is closed; default 65 s (as the plain listener's keep-alive). */
  httpsIdleTimeoutMs?: number;
  /** Memoise response plans per stored object (default true; false only to prove both answer alike). */
  memoisePlans?: boolean;
  /** Answer fresh memory hits on plain HTTP/1.1 from the hit lane (default true; false only to prove both answer alike). */
  hitLane?: boolean;
  /**
   * One worker of several (`mediacdn edge --workers n`): fills, purges, rate limits, statistics and the
   * purge log go through the primary process (cluster/primary.ts); the disk tier is shared with the others.
   */
  cluster?: WorkerLink;
};

export type EdgeHandle = {
  url: string;
  port: number;
  address: string;
  /** The admin listener's URL when edge.adminPort is set (control endpoints live there only). */
  adminUrl: string | undefined;
  /** The https listener's URL (https://<address>:<port>) when edge.httpsPort is set. */
  httpsUrl: string | undefined;
  httpsPort: number | undefined;
  /** The zones' watched certificates (check() reads the files now). */
  certificates: ZoneCertificates | undefined;
  /** The zones' watched CA files, by zone (check() reads a file now). */
  caFiles: ReadonlyMap<string, WatchedTrust>;
  /** Removes stored responses of a zone on THIS edge only (no forwarding to a shield); returns the count. */
  purge(selector: PurgeSelector): Promise<number>;
  /** Where this edge is in the purge log (undefined without one). */
  purgeLog(): PurgeSyncStatus | undefined;
  /** Catches up on the purge log now; false when it could not be read (true without a log). */
  purgeLogCatchUp(): Promise<boolean>;
  /** Bytes and entries per tier. */
  usage(): ReturnType<EdgeCache['usage']>;
  stats: EdgeStats;
  /** How many requests the hit lane answered (edge/hit-lane.ts). */
  hitLaneAnswers(): number;
  /** Disk-tier bodies held open for the hit lane's sendfile (DiskStore.bodyFd). */
  openBodies(): number;
  /** Resolves when no background refresh (stale-while-revalidate) runs and every cache write reached its tier. */
  idle(): Promise<void>;
  /** Stops accepting, ends connections, saves statistics, closes the tiers. */
  close(): Promise<void>;
};

export async function startEdge(options: EdgeRuntimeOptions): Promise<EdgeHandle> {
  const { cacheDir, now = Date.now, adminToken, statsFile, random, onOutcome, onError, onWarning, purgeLog, memoisePlans, hitLane: useHitLane = true, onLog, certificateSettleMs, certificatePollMs, httpsIdleTimeoutMs, cluster, sendfileWith, ...rest } = options;
  const config = edgeConfigSchema.parse(rest);
  const log = onLog ?? onWarning ?? ((m: string) => process.emitWarning(m));
  // Certificates first: a missing or bad file stops the start before anything listens.
  const certificates = config.httpsPort === undefined
    ? undefined
    : await ZoneCertificates.open(config.zones.map((z, index) => ({ host: z.host, tls: z.tls, index })), { onLog: log, settleMs: certificateSettleMs, pollMs: certificatePollMs });
  if (certificates?.size === 0) log('tls: edge.httpsPort is set but no zone has a tls certificate: every handshake on the https listener is refused');
  const root = path.resolve(cacheDir);
  const stats = new EdgeStats({ now, onWarning, maxZones: Math.max(1, config.zones.length) });
  const file = statsFile === false ? undefined : (statsFile ?? path.join(root, 'stats.json'));
  if (file) await stats.load(file);
  const cache = await EdgeCache.open({
    cacheDir: root,
    memoryCacheBytes: config.memoryCacheBytes,
    memoryObjectMaxBytes: config.memoryObjectMaxBytes,
    diskCacheBytes: config.diskCacheBytes,
    now,
    onDiskShared: cluster ? (e) => cluster.shareDisk(e) : undefined,
  });
  const zones = new Map<string, Zone>();
  const controlZones = new Map<string, ControlZone>();
  // CA files first too: a zone that cannot verify its https upstream does not start.
  const trust = new Map<string, WatchedTrust>();
  try {
    for (const [i, z] of config.zones.entries()) {
      if (z.caFile === undefined) continue;
      trust.set(z.host, await WatchedTrust.open(z.caFile, `edge.zones[${i}].caFile`, { label: `zone ${z.host} caFile`, onReload: log, onRejected: log, settleMs: certificateSettleMs, pollMs: certificatePollMs }));
    }
  } catch (err) {
    for (const t of trust.values()) t.close();
    certificates?.close();
    throw err;
  }
  const trustOf = (host: string) => {
    const t = trust.get(host);
    return t ? () => t.current : systemTrust;
  };
  const dispatchers: Agent[] = [];
  for (const z of config.zones) {
    const upstreamUrl = (z.shield ?? z.origin)!;
    zones.set(z.host, {
      host: z.host,
      upstream: new Upstream({
        origin: upstreamUrl,
        // A shield serves zones by Host like any edge: ask it for this zone.
        originHost: z.originHost ?? (z.shield !== undefined ? z.host : undefined),
        trust: trustOf(z.host),
        connectTimeoutMs: z.connectTimeoutMs ?? config.connectTimeoutMs,
        headersTimeoutMs: z.headersTimeoutMs ?? config.headersTimeoutMs,
        bodyTimeoutMs: z.bodyTimeoutMs ?? config.bodyTimeoutMs,
        maxHeaderBytes: z.originMaxHeaderBytes ?? (z.shield !== undefined ? config.maxHeaderBytes : NODE_MAX_HEADER_BYTES),
        connections: config.originConnections,
        retries: z.retries ?? config.retries,
        retryOnStatus: z.retryOnStatus ?? config.retryOnStatus,
        retryBaseDelayMs: config.retryBaseDelayMs,
        retryMaxDelayMs: config.retryMaxDelayMs,
        downForMs: config.originDownMs,
        random,
        onEvent: (e) => stats.record(z.host, e),
      }),
      maxObjectBytes: z.maxObjectBytes ?? config.maxObjectBytes,
      heuristics: { heuristicFraction: z.heuristicFraction, heuristicMaxSeconds: z.heuristicMaxSeconds },
      staleIfErrorSeconds: z.staleIfErrorSeconds ?? config.staleIfErrorSeconds,
      staleWhileRevalidateSeconds: z.staleWhileRevalidateSeconds ?? config.staleWhileRevalidateSeconds,
      edgeTtlSeconds: z.edgeTtlSeconds,
      browserTtlSeconds: z.browserTtlSeconds,
      queryString: z.queryString,
      cors: { origins: z.corsOrigins, maxAgeSeconds: z.corsMaxAgeSeconds },
      rateLimiter: z.rateLimit && cluster
        ? new LeasedRateLimiter({ timers: { ...realTimers, now }, line: { lease: (ip, unused) => cluster.lease(z.host, ip, unused), settle: (ip, unused) => cluster.settle(z.host, ip, unused) } })
        : z.rateLimit
        ? new RateLimiter({ ratePerSecond: z.rateLimit.requestsPerSecond, burst: z.rateLimit.burst ?? Math.max(1, Math.ceil(z.rateLimit.requestsPerSecond)), now })
        : undefined,
      blocked: createIpMatcher(z.blockList),
      signingKeys: z.signedUrls?.keys,
      referrers: z.allowedReferrers ? { allowed: z.allowedReferrers, allowEmpty: z.allowEmptyReferrer } : undefined,
    });
    const shieldAdmin = z.shield !== undefined ? (z.shieldAdmin ?? z.shield) : undefined;
    // An https shieldAdmin is the shield's https listener, which knows its zones by SNI.
    const shieldDispatcher = shieldAdmin?.startsWith('https://')
      ? new Agent({ connect: verifyingConnector({ servername: z.host }, trustOf(z.host)) })
      : undefined;
    if (shieldDispatcher) dispatchers.push(shieldDispatcher);
    controlZones.set(z.host, { host: z.host, queryString: z.queryString, shieldAdmin, shieldDispatcher });
  }
  /** This process's figures with its memory (a worker's go to the primary, which adds its own). */
  const withProcess = (role: 'edge' | 'worker'): StatsSnapshot => ({ ...stats.snapshot(), processes: [sampleProcess(role, cluster?.index, cache.memory?.usage())] });
  // Opened below, once the handler exists; control requests are served only after that.
  let sync: PurgeSync | undefined;
  const control = createControlHandler({
    token: adminToken,
    zones: controlZones,
    // With several workers a purge is answered once every worker applied it, and statistics are the edge's.
    // A direct purge also brings the edge up to date with the purge log (see PurgeSync.afterDirectPurge).
    purge: cluster
      ? (selector) => cluster.purgeAll(selector)
      : async (selector) => {
          const removed = await cache.purge(selector);
          await sync?.afterDirectPurge();
          return removed;
        },
    statsJson: cluster ? () => cluster.stats() : () => withProcess('edge'),
    metricsText: async () => renderPrometheus(cluster ? await cluster.stats() : withProcess('edge')),
  });
  const trustedProxies = createIpMatcher(config.trustedProxies);
  const blocked = createIpMatcher(config.blockList);
  const separateAdmin = config.adminPort !== undefined;
  // No per-client logs unless asked for; then every line carries a truncated address only.
  const accessLog = config.accessLog === undefined ? undefined : config.accessLog === '-' ? process.stdout : createWriteStream(config.accessLog, { flags: 'a', mode: 0o600 });
  const outcome = !accessLog
    ? onOutcome
    : (e: OutcomeEvent) => {
        accessLog.write(`${formatAccessLogLine({ ...e, target: e.target, durationMs: e.ms })}\n`);
        onOutcome?.(e);
      };
  const handler = new EdgeHandler({
    zones,
    cache,
    now,
    coalesceTimeoutMs: config.coalesceTimeoutMs,
    onOutcome: outcome,
    onStats: (zone, e) => stats.record(zone, e),
    onError,
    trustedProxies,
    blocked,
    clientBodyIdleTimeoutMs: config.clientBodyIdleTimeoutMs,
    connections: config.maxConnectionsPerIp > 0 ? new ConnectionLimiter({ maxPerKey: config.maxConnectionsPerIp }) : undefined,
    control: separateAdmin ? undefined : control,
    memoisePlans,
    machine: cluster,
  });
  // The purge log is read by the primary when there are several workers; they wait at its gate.
  sync = cluster ? undefined : await openPurgeSync(purgeLog, config, root, adminToken, controlZones, cache, onWarning);
  const handle = sync ? sync.wrap(handler.handle) : cluster ? waitAtGate(() => cluster.gate(), handler.handle) : handler.handle;
  const workerField = cluster ? String(cluster.index) : undefined;
  // Before listening: the primary's purges (a purge log catch-up a first request waits for) reach this worker.
  cluster?.serve({ applyPurge: (selector) => cache.purge(selector), snapshot: () => withProcess('worker'), disk: (e) => cache.shared(e) });
  // What the listeners do before the request path: count the protocol, redirect to https, add HSTS.
  const zoneTls = new Map(config.zones.map((z) => [z.host, { redirectHttp: z.redirectHttp, hsts: z.hsts }]));
  let httpsPort: number | undefined;
  // The fields every response of a listener carries, prebuilt: the request path appends them to a
  // stored answer's field list (setHeader would send node:http's writeHead down its slower path).
  const workerStamp: readonly string[] = workerField === undefined ? [] : ['x-edge-worker', workerField];
  const hstsStamps = new Map(config.zones.flatMap((z) => (z.hsts === undefined ? [] : [[z.host, [...workerStamp, 'strict-transport-security', `max-age=${z.hsts}`]] as const])));
  const redirects = config.zones.some((z) => z.redirectHttp);
  const front = (protocol: Protocol) => (req: IncomingMessage, res: ServerResponse): void => {
    // Nothing to decide per zone (no redirect on plain http, no HSTS over TLS): straight on.
    if (protocol === 'http1' ? !redirects : hstsStamps.size === 0) return handle(req, res, workerStamp);
    const host = zoneHostOf(absoluteFormAuthority(req.url ?? '') ?? req.headers.host);
    const zone = zoneTls.get(host);
    let stamp = workerStamp;
    if (zone && !isControlUrl(req.url ?? '')) {
      // Requests the path answers are counted by protocol with their response (recv's accounting).
      // (A request with several Host lines goes on to recv, which refuses it.)
      if (protocol === 'http1' && zone.redirectHttp && httpsPort !== undefined && hostFieldProblem(req.rawHeaders) === undefined) {
        stats.record(host, { kind: 'protocol', protocol });
        setStamp(res, stamp);
        return redirectToHttps(req, res, host, httpsPort);
      }
      if (protocol !== 'http1') stamp = hstsStamps.get(host) ?? stamp;
    }
    handle(req, res, stamp);
  };
  const servers: Server[] = [];
  const server = createServer({ keepAliveTimeout: 65_000, maxHeaderSize: config.maxHeaderBytes }, front('http1'));
  // Expect: 100-continue goes to the handler too, which sends 100 Continue only once it forwards the body.
  server.on('checkContinue', front('http1'));
  // Plain GET / HEAD / OPTIONS requests are read and answered by our own HTTP/1.1 handling; the rest
  // of a connection goes to node:http from its first request that needs it (server/http1/serve.ts).
  // Fresh memory hits on plain HTTP/1.1 skip the request objects (edge/hit-lane.ts); not where the
  // listener itself answers first (redirects to https), nor before the purge-log gate opens.
  const gateOpen = sync ? () => sync.open : cluster ? () => cluster.open : () => true;
  const lane = useHitLane && !redirects ? handler.hitLane(workerStamp, gateOpen, config.sendfile ? (sendfileWith ?? sendfileHelper()) : undefined) : undefined;
  const plain = serveHttp1(server, front('http1'), { maxHeaderBytes: config.maxHeaderBytes, answer: lane });
  servers.push(server);
  const main = await listen(server, config.port, config.host);
  let https: HttpsListener | undefined;
  let httpsUrl: string | undefined;
  if (certificates) {
    const onHttps = front('http1-tls');
    const onH2 = front('h2');
    https = createHttpsListener({
      certificates,
      maxHeaderBytes: config.maxHeaderBytes,
      handshakeTimeoutMs: config.tlsHandshakeTimeoutMs,
      idleTimeoutMs: httpsIdleTimeoutMs ?? 65_000,
      onRequest: (req, res) => (req.httpVersionMajor === 2 ? onH2 : onHttps)(req, res),
      onLog: log,
      now,
    });
    const bound = await listen(https.server as unknown as Server, config.httpsPort!, config.host);
    httpsPort = bound.port;
    httpsUrl = bound.url.replace(/^http:/, 'https:');
  }
  let adminUrl: string | undefined;
  if (separateAdmin) {
    const admin = createServer((req: IncomingMessage, res: ServerResponse) => {
      // The same front door as the main listener: block list first, then only /_mediacdn/.
      if (blocked(clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], trustedProxies))) return sendError(res, new BlockedClientError(), 'pass');
      let target = '';
      try {
        target = requestTarget(req.url ?? '');
      } catch {
        // answered below as not found
      }
      if (!isControlTarget(target)) return sendError(res, new ControlRequestError('The admin listener serves /_mediacdn/ endpoints only.', 404), 'pass');
      control(req, res);
    });
    servers.push(admin);
    adminUrl = (await listen(admin, config.adminPort!, config.adminHost)).url;
  }
  const persisting = file ? stats.startPersisting(file, config.statsIntervalMs) : undefined;
  sync?.start();
  return {
    url: main.url,
    port: main.port,
    address: main.address,
    adminUrl,
    httpsUrl,
    httpsPort,
    certificates,
    caFiles: trust,
    purge: (selector) => cache.purge(selector),
    usage: () => cache.usage(),
    purgeLog: () => sync?.status(),
    purgeLogCatchUp: () => sync?.catchUp() ?? Promise.resolve(true),
    stats,
    hitLaneAnswers: () => plain.directAnswers,
    openBodies: () => cache.disk?.openBodies ?? 0,
    async idle() {
      await handler.idle();
      await cache.whenWritten();
    },
    async close() {
      certificates?.close();
      for (const t of trust.values()) t.close();
      const httpsClosed = https && new Promise<void>((resolve) => https.server.close(() => resolve()));
      https?.destroyConnections();
      await httpsClosed;
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
              if (s === server) plain.closeAll();
            }),
        ),
      );
      // Clients are gone; background refreshes still waiting on an upstream are abandoned.
      await Promise.all([...zones.values()].map((z) => z.upstream.destroy()));
      await Promise.all(dispatchers.map((d) => d.destroy()));
      await sync?.close();
      await handler.idle();
      await persisting?.stop();
      await cache.close();
      if (accessLog && accessLog !== process.stdout) await new Promise<void>((resolve) => (accessLog as ReturnType<typeof createWriteStream>).end(resolve));
    },
  };
}

/** The purge log catch-up, when there is a log to read (given in-process, or edge.purgeLogUrl). */
async function openPurgeSync(
  source: PurgeLogSource | undefined,
  config: EdgeConfig,
  root: string,
  adminToken: string | undefined,
  zones: ReadonlyMap<string, ControlZone>,
  cache: EdgeCache,
  onWarning: ((message: string) => void) | undefined,
): Promise<PurgeSync | undefined> {
  const from = source ?? (config.purgeLogUrl !== undefined && adminToken !== undefined ? httpPurgeLog(config.purgeLogUrl, adminToken, config.purgeLogTimeoutMs) : undefined);
  if (from === undefined) return undefined;
  return PurgeSync.open({
    source: from,
    stateFile: path.join(root, 'purge-log.json'),
    zones,
    purge: (selector) => cache.purge(selector),
    intervalMs: config.purgeLogIntervalMs,
    onWarning: onWarning ?? ((m) => process.emitWarning(m)),
  });
}

/**
 * The plain listener's answer for a zone with redirectHttp: the same URL on https. 301 for GET and
 * HEAD; 308 for other methods, which must keep their method and body (RFC 9110 §15.4.9).
 */
function redirectToHttps(req: IncomingMessage, res: ServerResponse, host: string, port: number): void {
  let target: string;
  try {
    target = requestTarget(req.url ?? '');
  } catch (err) {
    sendError(res, err, 'pass');
    return;
  }
  const location = `https://${host}${port === 443 ? '' : `:${port}`}${target}`;
  const body = `Moved to ${location}\n`;
  res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 301 : 308, {
    location,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'max-age=3600',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function listen(server: Server, port: number, host: string): Promise<{ url: string; port: number; address: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return { url: `http://${urlHost}:${addr.port}`, port: addr.port, address: addr.address };
}
