// revalidate: a stale stored response is brought up to date — validated when it has a validator, else
// fetched again, coalesced. When the origin fails (refused, reset, timed out, or a 5xx), or is known
// to be down, the stale copy is delivered instead while its stale-if-error window allows (STALE).
import { staleOnErrorAllowed } from '../cache/freshness.ts';
import type { EntryMeta } from '../cache/store.ts';
import { discardBody } from '../upstream/upstream.ts';
import type { Edge, RequestContext, Stage } from './context.ts';
import { serveStored } from './deliver.ts';
import { afterFlight } from './fetch.ts';
import { interimForwarder } from './interim.ts';

export const revalidate: Stage<'deliver' | 'fetch' | 'pass' | 'lookup'> = async (ctx, edge) => {
  const stored = ctx.stored!;
  // The origin just failed to connect for someone else: answer stale now rather than queue up more
  // connection attempts (one request per downForMs window probes it again).
  if (ctx.zone.upstream.down && (await staleOnError(ctx, edge, stored))) return 'deliver';
  ctx.onInterim = interimForwarder(ctx.req, ctx.res);
  const { leader, result } = edge.fill.fly(ctx, edge.fill.validates(stored, ctx.zone) ? stored : undefined, ctx.coalesce);
  let flight;
  try {
    flight = await result;
  } catch (err) {
    if (await staleOnError(ctx, edge, stored)) return 'deliver';
    throw err;
  }
  if (flight.kind === 'unshareable' && isOutage(flight.response.status)) {
    const response = flight.response;
    if (await staleOnError(ctx, edge, stored, () => leader && discardBody(response.body))) return 'deliver';
  }
  return afterFlight(ctx, edge, flight, leader);
};

/** RFC 5861 §4 stale-if-error (and the zone's default window where RFC 9111 §4.2.4 allows it). */
async function staleOnError(ctx: RequestContext, edge: Edge, stored: EntryMeta, before?: () => void): Promise<boolean> {
  const d = edge.views.of(stored, ctx.zone);
  if (!staleOnErrorAllowed(d.lifetime, edge.views.age(stored), d.policy, ctx.zone.staleIfErrorSeconds)) return false;
  const hit = await edge.cache.lookup(ctx.primary, ctx.headers);
  if (!hit) return false;
  before?.();
  edge.onStats?.(ctx.zone.host, { kind: 'stale-if-error' });
  serveStored(ctx, hit.meta, hit.body, 'stale', edge.views.age(hit.meta));
  return true;
}

/** 500/502/503/504 from upstream: an outage (stale-if-error applies, nothing is stored). 501 is an answer. */
function isOutage(status: number): boolean {
  return status === 500 || status === 502 || status === 503 || status === 504;
}
