// admit: the zone's block list, requests in flight per client IP and the zone's rate limit; a CORS
// preflight is answered here.
import { BlockedClientError, RateLimitedError } from '../errors.ts';
import { X_CACHE } from '../outcome.ts';
import { VIA } from '../upstream/upstream.ts';
import { preflightHeaders } from '../zone/cors.ts';
import { stampHeaders } from './context.ts';
import type { Stage } from './context.ts';

export const admit: Stage<'hotlink' | 'synth' | 'done'> = (ctx, edge) => {
  const { zone, clientIp: ip, res } = ctx;
  if (zone.blocked(ip)) return refuse(ctx, new BlockedClientError());
  if (edge.connections) {
    const release = edge.connections.acquire(ip);
    if (!release) return refuse(ctx, new RateLimitedError(1, 'concurrent requests'));
    res.once('close', release);
  }
  if (zone.rateLimiter) {
    const r = zone.rateLimiter.take(ip);
    // With several workers the count is the primary's: a request waits when its worker must ask for a lease.
    if (r instanceof Promise) return r.then((t) => (t.ok ? afterLimits(ctx) : refuse(ctx, new RateLimitedError(t.retryAfterSeconds, 'requests'))));
    if (!r.ok) return refuse(ctx, new RateLimitedError(r.retryAfterSeconds, 'requests'));
  }
  return afterLimits(ctx);
};

function afterLimits(ctx: Parameters<typeof admit>[0]): 'hotlink' | 'done' {
  const { zone, res } = ctx;
  if (zone.cors.origins.length > 0) {
    const preflight = preflightHeaders(zone.cors, ctx.method, ctx.headers);
    if (preflight) {
      ctx.outcome = 'pass';
      stampHeaders(ctx);
      res.writeHead(204, { ...preflight, via: VIA, 'x-cache': X_CACHE.pass });
      res.end();
      return 'done';
    }
  }
  return 'hotlink';
}

function refuse(ctx: Parameters<typeof admit>[0], error: Error): 'synth' {
  ctx.outcome = 'pass';
  ctx.error = error;
  return 'synth';
}
