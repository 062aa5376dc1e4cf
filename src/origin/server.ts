// The origin server: media GET/HEAD/OPTIONS, the admin API, /healthz, and a hook for routes added
// by other modules. Usable in-process (tests, `mediacdn up`) and by `mediacdn origin` in each worker.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { resolveAdminToken } from '../config/token.ts';
import { openDatabase } from '../db/connect.ts';
import { sql } from 'kysely';
import { createLocalStorage } from '../storage/local-store.ts';
import { createLibrary, type Library, type MediaItem } from '../media/library.ts';
import { linkSigner } from '../edge/zone/signed-url.ts';
import { purgesAfter } from '../db/purge-log.ts';
import { createMediaCache, type MediaCache } from './media-cache.ts';
import { CORS_HEADERS, MEDIA_PREFIX, MEDIA_TAIL_200, createMediaHandler, createMediaLane, type LaneCounters } from './media-handler.ts';
import { sendfileHelper } from '../server/sendfile.ts';
import { API_PREFIX, createApiHandler } from './api.ts';
import { HttpError, sendError, sendJson } from './respond.ts';
import { answerClientError } from '../server/client-error.ts';
import { bodyMayIdle, connectionsCheckingInterval, watchBodyIdle } from '../server/slow-client.ts';
import { WatchedCertificate, secureContextOptions } from '../server/certificate.ts';
import { answerPlainHttp } from '../server/tls-answers.ts';
import { serveHttp1 } from '../server/http1/serve.ts';

/** Answers a request and returns true, or returns false to let the origin answer 404. */
export type ExtraRoutes = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export type StartOriginOptions = {
  config: Config;
  /** An open library; when absent one is opened from config and closed by close(). */
  library?: Library;
  logger?: Logger;
  /** Clock in ms, for the record cache's trust period. */
  now?: () => number;
  /** Called after a delete through the API (e.g. to purge edges or tell other workers). */
  onMediaDeleted?: (item: MediaItem) => void;
  /** Extra routes tried after /media/, /api/ and /healthz (the web dashboard, the playlist). */
  extraRoutes?: ExtraRoutes;
  /** Paths under /api/ that are public and go to extraRoutes instead of the admin API (e.g. /api/playlist). */
  publicApiPaths?: readonly string[];
  /** Read-only admin JSON endpoints added to the API: GET /api/<name>. */
  adminJson?: Readonly<Record<string, () => Promise<unknown>>>;
  /** Overrides config.origin.host / port (e.g. port 0 in tests). */
  host?: string;
  port?: number;
  /** Overrides config.origin.recordTtlMs: how long a looked-up record is trusted (see media-cache.ts). */
  recordTtlMs?: number;
  /** Answer media GETs held in memory from the media lane (default true; false only to prove both answer alike). */
  mediaLane?: boolean;
};

export type RunningOrigin = {
  url: string;
  port: number;
  server: http.Server;
  /** The admin token and whether this start generated it (print it once). */
  token: string;
  tokenCreated: boolean;
  /** Drops what is cached about a file: call when another process deleted it. */
  forgetMedia(fileName: string): void;
  cacheStats(): ReturnType<MediaCache['stats']>;
  /** How many requests the media lane answered (createMediaLane). */
  mediaLaneAnswers(): number;
  /** Whether large bodies go out with the sendfile helper (built, and origin.sendfile), and what it sent. */
  sendfileStats(): { helper: boolean } & LaneCounters;
  /** Stops accepting, lets in-flight requests finish up to config.origin.shutdownGraceMs, then closes. */
  close(): Promise<void>;
};

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  // No client addresses: pino's default serializers are not used for requests, and we log none.
  return pino({ level: config.logLevel, base: { pid: process.pid, service: 'origin' } });
}

export async function startOrigin(opts: StartOriginOptions): Promise<RunningOrigin> {
  const { config } = opts;
  const oc = config.origin;
  const logger = opts.logger ?? createLogger(config);
  const now = opts.now ?? Date.now;
  const { token, created } = await resolveAdminToken(config);
  // origin.tls: https with a watched certificate; a renewal is used for new connections (setSecureContext).
  const certificate = oc.tls === undefined
    ? undefined
    : await WatchedCertificate.open(oc.tls, 'origin.tls', {
        label: 'origin',
        onReload: (message) => logger.info(message),
        onRejected: (message) => logger.warn(message),
      });

  let ownDb: Awaited<ReturnType<typeof openDatabase>> | undefined;
  let lib = opts.library;
  if (lib === undefined) {
    ownDb = await openDatabase(config.database);
    lib = createLibrary({ db: ownDb, storage: createLocalStorage(config.mediaDir), mediaUrl: config.mediaUrl, signLink: linkSigner(config.mediaUrl, config.edge.zones, now) });
  }
  const library = lib;

  const cache = createMediaCache({
    lib: library,
    logger,
    now,
    tail200: MEDIA_TAIL_200,
    tail304: CORS_HEADERS,
    cacheControl: oc.cacheControl,
    memoryCacheBytes: oc.memoryCacheBytes,
    memoryCacheMaxFileBytes: oc.memoryCacheMaxFileBytes,
    ttlMs: opts.recordTtlMs ?? oc.recordTtlMs,
  });
  const media = createMediaHandler({ cache, logger, cacheControl: oc.cacheControl, notFoundMaxAge: oc.notFoundMaxAge });
  const api = createApiHandler({
    lib: library,
    token,
    logger,
    maxUploadBytes: oc.maxUploadBytes,
    adminJson: opts.adminJson,
    purgeLog: (after) => purgesAfter(library.db, after, now()),
    onUploaded: (item) => cache.forget(item.fileName),
    onDeleted: (item) => {
      cache.forget(item.fileName);
      try {
        opts.onMediaDeleted?.(item);
      } catch (err) {
        logger.error({ err, fileName: item.fileName }, 'onMediaDeleted hook failed');
      }
    },
  });

  async function health(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', 'use GET', { allow: 'GET, HEAD' });
    const [database, storage] = await Promise.all([
      sql`select 1 as ok`.execute(library.db.kysely).then(() => true, () => false),
      library.storage.check(),
    ]);
    const ok = database && storage;
    sendJson(res, ok ? 200 : 503, { ok, database: database ? 'ok' : 'unreachable', storage: storage ? 'ok' : 'unreachable' });
  }

  async function rest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url as string;
    if (url === '/healthz' || url.startsWith('/healthz?')) return health(req, res);
    if (opts.extraRoutes && (await opts.extraRoutes(req, res))) return;
    throw new HttpError(404, 'not_found', 'not found');
  }

  const publicApi = opts.publicApiPaths ?? [];
  const isPublicApi = (url: string) => publicApi.some((p) => url === p || url.startsWith(`${p}?`));

  const serverOptions = {
    headersTimeout: oc.headersTimeoutMs,
    keepAliveTimeout: oc.keepAliveTimeoutMs,
    requestTimeout: oc.requestTimeoutMs,
    connectionsCheckingInterval: connectionsCheckingInterval(oc.headersTimeoutMs),
    // Media responses build their own header lists; Date is still added by node (cached per second).
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url as string;
    if (bodyMayIdle(req, oc.bodyIdleTimeoutMs)) watchBodyIdle(req, oc.bodyIdleTimeoutMs, () => cutIdleBody(req, res));
    if (url.startsWith(MEDIA_PREFIX)) return media(req, res);
    if (url.startsWith(API_PREFIX) && !isPublicApi(url)) return api(req, res);
    rest(req, res).catch((err) => sendError(res, err, logger, { method: req.method, path: url.split('?')[0] }));
  };
  const server: http.Server = certificate
    ? https.createServer({ ...serverOptions, ...secureContextOptions(certificate.current.cert, certificate.current.key) }, onRequest)
    : http.createServer(serverOptions, onRequest);
  // Plain GET / HEAD / OPTIONS requests are read and answered by our own HTTP/1.1 handling; a
  // connection goes to node:http from its first request with a body (uploads, the API) or anything
  // unusual (server/http1/serve.ts).
  // A media GET answered whole from memory skips the request objects (createMediaLane).
  const laneCounters: LaneCounters = { sendfileAnswers: 0, sendfileBytes: 0, sendfileRest: 0, sendfileTails: 0 };
  const sendfile = config.origin.sendfile ? sendfileHelper() : undefined;
  const lane = opts.mediaLane === false ? undefined : createMediaLane(cache, { sendfile, counters: laneCounters, logger });
  const plain = serveHttp1(server, onRequest, { maxHeaderBytes: http.maxHeaderSize, answer: lane });
  if (certificate) {
    certificate.onChange((c) => (server as https.Server).setSecureContext(secureContextOptions(c.cert, c.key)));
    server.on('tlsClientError', (err: Error, socket: unknown) => answerPlainHttp(err, socket));
  }
  // RFC 9110 §10.1.1: an expectation other than 100-continue gets 417 (node's own 417 has no body).
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('connection', 'close');
    sendError(res, new HttpError(417, 'expectation_failed', 'the only expectation understood is Expect: 100-continue'), logger, { method: req.method, path: (req.url ?? '').split('?')[0] });
  });
  server.on('clientError', (err, socket) => {
    const answer = answerClientError(err, socket);
    logger.debug({ code: (err as NodeJS.ErrnoException).code, status: answer?.status }, 'client error');
  });

  /**
   * A body that stopped arriving: 408 if nothing was answered yet, then the request is destroyed (its
   * handler sees the abort and cleans up, e.g. an upload's temp file) and the connection with it. The
   * request must be destroyed explicitly: once a response has finished, closing the socket no
   * longer aborts the request it answered.
   */
  function cutIdleBody(req: IncomingMessage, res: ServerResponse): void {
    if (res.headersSent) {
      req.destroy();
      return;
    }
    res.once('finish', () => req.destroy());
    sendError(res, new HttpError(408, 'body_timeout', `no byte of the request body arrived for ${oc.bodyIdleTimeoutMs} ms`, { connection: 'close' }), logger, {
      method: req.method,
      path: (req.url ?? '').split('?')[0],
    });
  }

  const host = opts.host ?? oc.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? oc.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${certificate ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  // Whether the token was created now is the starting command's to say (it resolves the token first).
  logger.info({ url }, 'origin listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    server,
    token,
    tokenCreated: created,
    forgetMedia: (fileName) => cache.forget(fileName),
    cacheStats: () => cache.stats(),
    mediaLaneAnswers: () => plain.directAnswers,
    sendfileStats: () => ({ helper: sendfile !== undefined, ...laneCounters }),
    close() {
      closing ??= (async () => {
        certificate?.close();
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        plain.closeIdle();
        const timer = setTimeout(() => {
          logger.warn('shutdown grace period over: closing remaining connections');
          server.closeAllConnections();
          plain.closeAll();
        }, oc.shutdownGraceMs);
        timer.unref();
        await done;
        clearTimeout(timer);
        cache.close();
        if (ownDb) await ownDb.close();
        logger.info('origin stopped');
      })();
      return closing;
    },
  };
}
