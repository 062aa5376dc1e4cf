// The edge's https listener: one TLS port for every zone that has a certificate, chosen by SNI, with
// HTTP/2 (ALPN h2) and HTTP/1.1 on the same port, both answered by the one edge request path.
// Certificates are watched and reloaded (src/server/certificate.ts); a name without a certificate is
// refused during the handshake with TLS's unrecognized_name alert, and plain HTTP sent to the port is
// answered with a 400 that says so.
import http2 from 'node:http2';
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import { HONOR_CIPHER_ORDER, TLS_MIN_VERSION, WatchedCertificate } from '../server/certificate.ts';
import type { CertificateFiles } from '../server/certificate.ts';
import { UNRECOGNIZED_NAME_ALERT, answerPlainHttp, underlyingSocket, writeUnderTls } from '../server/tls-answers.ts';
import { serveHttp1 } from '../server/http1/serve.ts';
import { Http2Request, requestFields } from '../server/http2/message.ts';
import type { Http2Response } from '../server/http2/message.ts';
import { serveHttp2 } from '../server/http2/serve.ts';
import { truncateIp } from './stats/access-log.ts';

/** How a request reached the edge, as statistics count it. */
export type Protocol = 'http1' | 'http1-tls' | 'h2';

/** What the https listener needs per zone. */
export type TlsZone = { host: string; tls: CertificateFiles | undefined; index: number };

class UnknownServerNameError extends Error {
  readonly serverName: string;
  constructor(serverName: string) {
    super(`no zone with a certificate for ${JSON.stringify(serverName)}`);
    this.serverName = serverName;
  }
}

/** The zones' certificates by host name; zones that share files share one watched certificate. */
export class ZoneCertificates {
  readonly #byHost = new Map<string, WatchedCertificate>();
  readonly #all: WatchedCertificate[] = [];

  private constructor() {}

  static async open(zones: readonly TlsZone[], opts: { onLog: (message: string) => void; settleMs?: number; pollMs?: number }): Promise<ZoneCertificates> {
    const out = new ZoneCertificates();
    const byFiles = new Map<string, WatchedCertificate>();
    try {
      for (const z of zones) {
        if (!z.tls) continue;
        const id = JSON.stringify([z.tls.cert, z.tls.key]);
        let w = byFiles.get(id);
        if (!w) {
          w = await WatchedCertificate.open(z.tls, `edge.zones[${z.index}].tls`, {
            label: `zone ${z.host}`,
            onReload: opts.onLog,
            onRejected: opts.onLog,
            settleMs: opts.settleMs,
            pollMs: opts.pollMs,
          });
          byFiles.set(id, w);
          out.#all.push(w);
        }
        out.#byHost.set(z.host, w);
        const leaf = w.current;
        if (!coversHost(leaf.subjectAltName, z.host)) {
          opts.onLog(`tls: zone ${z.host}: the certificate in ${w.files.cert} does not name ${z.host} (${leaf.subjectAltName ?? 'no subjectAltName'}); browsers will refuse it`);
        }
      }
    } catch (err) {
      out.close();
      throw err;
    }
    return out;
  }

  get size(): number {
    return this.#byHost.size;
  }

  /** The watched certificate of a zone (tests: wait for a reload with check()). */
  of(host: string): WatchedCertificate | undefined {
    return this.#byHost.get(host);
  }

  /** The context a handshake for `serverName` uses, or undefined (refused). */
  contextFor(serverName: string): SecureContext | undefined {
    return this.#byHost.get(serverName.toLowerCase().replace(/\.$/, ''))?.current.context;
  }

  close(): void {
    for (const w of this.#all) w.close();
  }
}

/** Whether a certificate's subjectAltName covers the host (exact, or a wildcard for one label). */
function coversHost(subjectAltName: string | undefined, host: string): boolean {
  if (!subjectAltName) return false;
  for (const entry of subjectAltName.split(',')) {
    const m = /^\s*DNS:(.+)$/.exec(entry);
    if (!m) continue;
    const name = m[1].trim().toLowerCase();
    if (name === host) return true;
    if (name.startsWith('*.') && host.endsWith(name.slice(1)) && !host.slice(0, -name.length + 1).includes('.')) return true;
  }
  return false;
}

export type HttpsListenerOptions = {
  certificates: ZoneCertificates;
  /** Largest request head (HTTP/1.1) and header list (HTTP/2). */
  maxHeaderBytes: number;
  handshakeTimeoutMs: number;
  /** An HTTP/2 connection without an open stream for this long is closed (HTTP/1.1: its keep-alive timeout). */
  idleTimeoutMs: number;
  /** Every request (HTTP/1.1 and HTTP/2), with HTTP/2 requests presented as HTTP/1.1 ones (see adaptRequest). */
  onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  onLog: (message: string) => void;
  now?: () => number;
};

export type HttpsListener = {
  server: Http2SecureServer;
  /** Ends every connection (after server.close stopped accepting). */
  destroyConnections(): void;
};

/**
 * The TLS server. HTTP/2 requests without a body are served by server/http2/ on the core stream API,
 * the others through Node's compatibility API; both give request and response objects that behave
 * as the edge's request path needs (write/end, writeHead with a field list, 'close',
 * writableFinished, pipeline), with the fields of an HTTP/1.1 request (adaptRequest).
 */
export function createHttpsListener(opts: HttpsListenerOptions): HttpsListener {
  const server = http2.createSecureServer({
    allowHTTP1: true,
    minVersion: TLS_MIN_VERSION,
    // The suite is chosen on this server's own context, before SNI picks a zone's: see honorCipherOrder there.
    honorCipherOrder: HONOR_CIPHER_ORDER,
    // Node calls this as a method of the connection's TLSSocket (see server/tls-answers.ts).
    SNICallback(this: unknown, serverName: string, cb: (err: Error | null, context?: SecureContext) => void) {
      const context = opts.certificates.contextFor(serverName);
      if (context) return cb(null, context);
      // TLS's answer to a name the server does not serve is a fatal unrecognized_name alert (RFC 6066
      // §3). Node's callback can only end the connection, so the alert goes out on the TCP socket under
      // the TLS one, before the refusal closes it.
      writeUnderTls(this, UNRECOGNIZED_NAME_ALERT);
      cb(new UnknownServerNameError(serverName), undefined);
    },
    handshakeTimeout: opts.handshakeTimeoutMs,
    settings: { maxHeaderListSize: opts.maxHeaderBytes },
  });
  // The HTTP/1.1 side reads these from the server, like node:http's own.
  Object.assign(server, { maxHeaderSize: opts.maxHeaderBytes, keepAliveTimeout: opts.idleTimeoutMs });
  // Node keeps an HTTP/2 connection open for as long as the client likes, even one that never sent its
  // preface: close a connection once it has had no open stream for the idle time. A download that
  // waits on the client's flow control keeps its stream, and with it the connection.
  server.on('session', (session: ServerHttp2Session) => closeWhenIdle(session, opts.idleTimeoutMs));
  const handle = (req: Http2ServerRequest | Http2Request | IncomingMessage, res: Http2ServerResponse | Http2Response | ServerResponse) => {
    adaptRequest(req);
    opts.onRequest(req as IncomingMessage, res as ServerResponse);
  };
  server.on('request', handle);
  // HTTP/2 requests without a body: our own handling on the core stream API (server/http2/serve.ts);
  // the others reach `handle` through Node's compatibility API.
  serveHttp2(server, handle);
  // HTTP/1.1 connections: our own handling of plain requests, as on the plain listener.
  serveHttp1(server, handle, { maxHeaderBytes: opts.maxHeaderBytes });
  // Expect: 100-continue goes to the request path too (it sends 100 only once it forwards the body).
  server.on('checkContinue', handle);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    // Read now: Node keeps the peer's address once asked, and a refused handshake's socket is closed
    // by the time it is reported.
    void socket.remoteAddress;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const log = throttled(opts.onLog, opts.now ?? Date.now);
  server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
    if (answerPlainHttp(err, socket)) return;
    // The connection's socket still knows the address.
    const address = socket.remoteAddress ?? underlyingSocket(socket)?.remoteAddress;
    const from = address ? truncateIp(address) : 'unknown address';
    if (err instanceof UnknownServerNameError) log(`tls: refused a handshake from ${from} for ${JSON.stringify(err.serverName)}: ${err.message}`);
    else if (!socket.servername && /NO_SUITABLE_SIGNATURE_ALGORITHM|NO_SHARED_CIPHER/.test((err as NodeJS.ErrnoException).code ?? err.message)) {
      log(`tls: refused a handshake from ${from} without a server name (SNI): certificates are chosen by zone name`);
    }
    // Anything else (not TLS at all, a handshake cut or timed out) is the client's business: no line.
  });
  // An HTTP/2 session that fails (a protocol error from a hostile peer) ends that session only.
  server.on('sessionError', () => {});
  return {
    server,
    destroyConnections() {
      for (const s of sockets) s.destroy();
    },
  };
}

/** A session's open streams and idle timer (closeWhenIdle), kept on each of its streams. */
type IdleWatch = { open: number; arm(): void };
const IDLE_WATCH = Symbol('idleWatch');
type Watched = ServerHttp2Stream & { [IDLE_WATCH]: IdleWatch };

function closeWhenIdle(session: ServerHttp2Session, idleMs: number): void {
  let timer: NodeJS.Timeout | undefined;
  const watch: IdleWatch = {
    open: 0,
    arm() {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (watch.open === 0 && !session.destroyed) {
          session.close();
          // A peer that does not take the GOAWAY and go: end it.
          setTimeout(() => session.destroy(), 1_000).unref();
        }
      }, idleMs);
      timer.unref();
    },
  };
  session.on('stream', (stream: ServerHttp2Stream) => {
    watch.open++;
    clearTimeout(timer);
    // One listener shared by every stream ('close' comes once): no closure per stream.
    (stream as Watched)[IDLE_WATCH] = watch;
    stream.on('close', onWatchedStreamClose);
  });
  session.once('close', () => clearTimeout(timer));
  watch.arm();
}

function onWatchedStreamClose(this: Watched): void {
  const watch = this[IDLE_WATCH];
  if (--watch.open === 0) watch.arm();
}

/**
 * Presents a request that came over TLS as the edge's request path reads one: X-Forwarded-Proto says
 * https, and an HTTP/2 request's fields are those an HTTP/1.1 request would carry (requestFields).
 */
export function adaptRequest(req: Http2ServerRequest | Http2Request | IncomingMessage): void {
  // server/http2/'s own requests carry those fields already.
  if (req.httpVersionMajor === 2 && !(req instanceof Http2Request)) {
    // The compatibility API reads method and path from the stream's own fields, so only this view changes.
    Object.defineProperty(req, 'headers', { value: requestFields(req.headers), enumerable: true, configurable: true });
  }
  req.headers['x-forwarded-proto'] = 'https';
}

/** A log line writer that keeps at most 20 lines a minute (a client can make refusals at will). */
function throttled(write: (message: string) => void, now: () => number): (message: string) => void {
  let windowStart = 0;
  let count = 0;
  let dropped = 0;
  return (message) => {
    const t = now();
    if (t - windowStart >= 60_000) {
      if (dropped > 0) write(`tls: ${dropped} more refused handshakes in the last minute not logged`);
      windowStart = t;
      count = 0;
      dropped = 0;
    }
    if (count < 20) {
      count++;
      write(message);
    } else dropped++;
  };
}
