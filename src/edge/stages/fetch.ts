// fetch: starts or joins the fill of the request's key (alone when it may not be shared) and hands
// what the flight produced on: a filling response to deliver (MISS), a validated stored one
// (REVALIDATED), a response that may not be stored to deliver as it is or to pass (BYPASS), or
// another fetch when the flight's answer is not this request's.
import { varyKey } from '../../http/vary.ts';
import type { Flight } from '../cache/fill.ts';
import { CONDITIONAL_AND_RANGE, discardBody } from '../upstream/upstream.ts';
import type { Edge, RequestContext, Stage } from './context.ts';
import { serveStored } from './deliver.ts';
import { interimForwarder } from './interim.ts';

export const fetch: Stage<'deliver' | 'fetch' | 'pass' | 'lookup'> = (ctx, edge) => {
  ctx.onInterim = interimForwarder(ctx.req, ctx.res);
  const { leader, result } = edge.fill.fly(ctx, undefined, ctx.coalesce);
  return result.then((flight) => afterFlight(ctx, edge, flight, leader));
};

export async function afterFlight(ctx: RequestContext, edge: Edge, flight: Flight, leader: boolean): Promise<'deliver' | 'fetch' | 'pass' | 'lookup'> {
  switch (flight.kind) {
    case 'elsewhere':
      // Another worker filled the key: what it stored is in the shared disk tier. If it stored
      // nothing (not storable, failed), this request fetches for itself (lookup does not coalesce it again).
      ctx.filledElsewhere = true;
      return 'lookup';
    case 'not-modified': {
      const hit = await edge.cache.lookup(ctx.primary, ctx.headers);
      if (hit) return serveStored(ctx, hit.meta, hit.body, 'revalidated', edge.views.age(hit.meta));
      // Validated but no tier kept it (evicted meanwhile): fetch it whole.
      ctx.coalesce = false;
      return 'fetch';
    }
    case 'changed':
      ctx.coalesce = true;
      return 'fetch';
    case 'unshareable': {
      if (!leader) {
        ctx.coalesce = false;
        return 'fetch';
      }
      ctx.outcome = 'pass';
      if (CONDITIONAL_AND_RANGE.some((n) => ctx.headers[n] !== undefined)) {
        // The fill dropped the client's Range / conditionals; for a response we will not store, let
        // the origin answer them itself rather than send a whole body nobody asked for.
        discardBody(flight.response.body);
        return 'pass';
      }
      ctx.answer = { kind: 'relay', response: flight.response };
      return 'deliver';
    }
    case 'fill': {
      const { meta } = flight;
      // A follower shares the fill only if the response would have been selected for its request too.
      if (!leader && meta.vary.length > 0 && varyKey(meta.vary, ctx.headers) !== meta.varySecondary) {
        ctx.coalesce = false;
        return 'fetch';
      }
      let size = meta.size;
      if (size < 0) {
        await flight.body.whenComplete();
        size = flight.body.length;
      }
      const sized = size === meta.size ? meta : { ...meta, size };
      return serveStored(ctx, sized, { kind: 'growing', body: flight.body }, 'miss', edge.views.age(meta));
    }
  }
}
