// recv: the front door. Watches the request body for silence, finds the client's address, refuses a
// bad target or an edge-wide blocked client, hands /_mediacdn/ to the control endpoints, picks the zone
// and prepares the request's key, its CORS fields and its accounting.
import { bodyMayIdle, watchBodyIdle } from '../../server/slow-client.ts';
import { requestKey } from '../cache/cache-key.ts';
import { BadHostError, BlockedClientError, ControlRequestError, RequestBodyTimeoutError, UnknownZoneError } from '../errors.ts';
import { clientIp } from '../limits/client-ip.ts';
import { corsHeaders } from '../zone/cors.ts';
import { absoluteFormAuthority, hostFieldProblem, isValidHostField, requestTarget, zoneHostOf } from '../zone/zone.ts';
import { stampHeaders } from './context.ts';
import type { Edge, RequestContext, Stage } from './context.ts';
import { firstValue } from '../../http/types.ts';
import { sendError } from './synth.ts';

/** The reserved path prefix of control endpoints, on every host; never forwarded to an origin. */
export const CONTROL_PREFIX = '/_mediacdn/';

/** Whether a request target in origin form names a control endpoint. */
export function isControlTarget(target: string): boolean {
  return target.startsWith(CONTROL_PREFIX) || target === CONTROL_PREFIX.slice(0, -1);
}

/**
 * The same for a request's raw URL, absolute form included, so that the listeners and the purge-log
 * gate take for a control request exactly what recv serves as one.
 */
export function isControlUrl(url: string): boolean {
  if (url.startsWith('/')) return isControlTarget(url);
  try {
    return isControlTarget(requestTarget(url));
  } catch {
    return false;
  }
}

export const recv: Stage<'admit' | 'synth' | 'done'> = (ctx, edge) => {
  const { req, res } = ctx;
  if (bodyMayIdle(req, edge.bodyIdleMs)) watchBodyIdle(req, edge.bodyIdleMs, () => cutIdleBody(ctx, edge));
  ctx.clientIp = clientIpOf(ctx, edge);
  let target: string;
  try {
    target = requestTarget(req.url ?? '');
  } catch (err) {
    ctx.error = err;
    return 'synth';
  }
  ctx.rawTarget = target;
  if (edge.blocked(ctx.clientIp)) {
    ctx.error = new BlockedClientError();
    return 'synth';
  }
  if (isControlTarget(target)) {
    if (!edge.control) {
      ctx.error = new ControlRequestError('Control endpoints are not served on this listener.', 404);
      return 'synth';
    }
    stampHeaders(ctx);
    edge.control(req, res);
    return 'done';
  }
  // HTTP/2 carries the authority in one pseudo-header field (adaptRequest made it Host).
  const field = req.headers.host;
  const wrong = hostFieldProblem(req.rawHeaders);
  if (wrong !== undefined) {
    ctx.error = new BadHostError(wrong);
    return 'synth';
  }
  if (field !== undefined && !isValidHostField(field)) {
    ctx.error = new BadHostError('invalid', field);
    return 'synth';
  }
  const host = zoneHostOf(absoluteFormAuthority(req.url ?? '') ?? field);
  const zone = edge.zones.get(host);
  if (!zone) {
    ctx.error = new UnknownZoneError(host);
    return 'synth';
  }
  ctx.zone = zone;
  ctx.outcome = 'miss';
  const key = requestKey(zone, target);
  ctx.target = key.target;
  ctx.primary = key.primary;
  ctx.extra = corsHeaders(zone.cors, firstValue(req.headers.origin));
  account(ctx, edge);
  return 'admit';
};

/** The client's address: the socket's, or X-Forwarded-For from a trusted proxy; cached per connection. */
function clientIpOf(ctx: RequestContext, edge: Edge): string {
  const { req } = ctx;
  return connectionClientIp(connectionOf(req), req.socket.remoteAddress, req.headers['x-forwarded-for'], edge);
}

/** The same for a connection known by `connection` (the hit lane's socket). */
export function connectionClientIp(connection: object, remoteAddress: string | undefined, xff: string | string[] | undefined, edge: Edge): string {
  if (xff !== undefined) return clientIp(remoteAddress, xff, edge.trusted);
  let ip = edge.socketIps.get(connection);
  if (ip === undefined) {
    ip = clientIp(remoteAddress, undefined, edge.trusted);
    edge.socketIps.set(connection, ip);
  }
  return ip;
}

/**
 * What a request's connection is known by: its socket, or for HTTP/2 its session (the compatibility
 * API gives every stream's request a socket object of its own, which would miss every time).
 */
function connectionOf(req: RequestContext['req']): object {
  if (req.httpVersionMajor !== 2) return req.socket;
  return (req as { stream?: { session?: object } }).stream?.session ?? req.socket;
}

/**
 * A request body that stopped arriving (slowloris on the body): 408 if nothing was answered yet, and
 * the request is destroyed — which aborts its upstream request — with its connection.
 */
function cutIdleBody(ctx: RequestContext, edge: Edge): void {
  const { req, res } = ctx;
  if (res.headersSent) {
    req.destroy();
    return;
  }
  res.once('finish', () => req.destroy());
  res.shouldKeepAlive = false;
  stampHeaders(ctx);
  ctx.bytes += sendError(res, new RequestBodyTimeoutError(edge.bodyIdleMs), 'pass');
}

/** How the request arrived: plain HTTP/1.x, HTTP/1.x over TLS, or HTTP/2 (always over TLS here). */
export function protocolOf(req: RequestContext['req']): 'http1' | 'http1-tls' | 'h2' {
  if (req.httpVersionMajor === 2) return 'h2';
  return (req.socket as { encrypted?: boolean }).encrypted === true ? 'http1-tls' : 'http1';
}

/** Reports the zone response once it is finished or aborted (statistics, access log). */
function account(ctx: RequestContext, edge: Edge): void {
  const { onOutcome, onStats } = edge;
  if (!onOutcome && !onStats) return;
  const { req, res, zone } = ctx;
  const started = onOutcome ? edge.now() : 0;
  // Now: by 'close' the response has let go of its socket.
  const protocol = protocolOf(req);
  // 'close' comes once (a plain listener: no once-wrapper to make and take off).
  res.on('close', () => {
    const aborted = !res.writableFinished;
    onStats?.(zone.host, { kind: 'response', status: res.statusCode, outcome: ctx.outcome, bytes: ctx.bytes, aborted, protocol });
    onOutcome?.({
      zone: zone.host,
      outcome: ctx.outcome,
      method: ctx.method,
      target: ctx.rawTarget,
      status: res.statusCode,
      aborted,
      bytes: ctx.bytes,
      clientIp: ctx.clientIp,
      time: started,
      ms: edge.now() - started,
      httpVersion: req.httpVersion,
      referer: firstValue(req.headers.referer),
      userAgent: firstValue(req.headers['user-agent']),
    });
  });
}
