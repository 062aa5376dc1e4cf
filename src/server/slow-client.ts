// Cuts clients that send a request too slowly, for the origin and the edge alike: an idle timer on
// request bodies (slowloris on the body), and how often Node checks its header deadline.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/** True when the request announces a body (RFC 9112 §6.3: Transfer-Encoding, or a non-zero Content-Length). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Whether watchBodyIdle would watch `req`: a body is announced and not read yet, and the watch is on.
 * Callers test it first so that a request without a body (nearly all) makes no `onIdle` closure.
 */
export function bodyMayIdle(req: IncomingMessage, idleMs: number): boolean {
  return idleMs > 0 && !req.complete && hasBody(req.headers);
}

/**
 * Calls `onIdle` once when no byte of the request body arrives for `idleMs` (detected between idleMs
 * and 2 × idleMs after the last byte). An upload at any steady speed never trips it, however long it
 * takes; a client that trickles a byte now and then, or stops, does. Bytes that arrived but that the
 * server has not read yet (its own backpressure) count as activity, and so does a check that comes
 * late: when this process was too busy to run it on time, the bytes may be waiting in the socket, and
 * the client is not to blame. Stops by itself when the body is complete or the request is gone.
 * `idleMs` 0 turns it off.
 */
export function watchBodyIdle(req: IncomingMessage, idleMs: number, onIdle: () => void): void {
  if (!bodyMayIdle(req, idleMs)) return;
  const socket = req.socket;
  let seen = socket.bytesRead;
  let checked = performance.now();
  const stop = () => {
    clearInterval(timer);
    req.off('close', stop);
  };
  const timer = setInterval(() => {
    if (req.complete || req.destroyed || socket.destroyed) return stop();
    const bytes = socket.bytesRead;
    const now = performance.now();
    const late = now - checked > 2 * idleMs;
    checked = now;
    if (bytes === seen && req.readableLength === 0 && !late) {
      stop();
      onIdle();
      return;
    }
    seen = bytes;
  }, idleMs);
  timer.unref();
  req.once('close', stop);
}

/**
 * Node enforces `headersTimeout` (slowloris on the headers) only when it sweeps its connection list,
 * every 30 s by default, so a 10 s deadline really meant 10–40 s. Sweep often enough that the deadline
 * holds to within a quarter of itself (at most once a second, at least every 50 ms).
 */
export function connectionsCheckingInterval(headersTimeoutMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4)));
}
