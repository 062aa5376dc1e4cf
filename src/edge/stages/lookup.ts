// lookup: finds the stored response for the request (memory tier synchronously, then the disk tier)
// and decides, after RFC 9111 §4: fresh → deliver (HIT); stale but allowed → deliver (STALE, with a
// background refresh under stale-while-revalidate); stale → revalidate; nothing stored → fetch, or
// pass for a key whose response was not storable (hit-for-pass); only-if-cached without a stored
// response → 504.
import { allowsAuthorized, requestDirectives, reuseDecision, staleWhileRevalidateAllowed } from '../cache/freshness.ts';
import type { StoreHit } from '../cache/store.ts';
import { releaseBody } from '../cache/store.ts';
import { NotCachedError } from '../errors.ts';
import type { Edge, RequestContext, Stage } from './context.ts';
import { serveStored } from './deliver.ts';

type LookupNext = 'deliver' | 'revalidate' | 'fetch' | 'pass' | 'synth';

export const lookup: Stage<LookupNext> = (ctx, edge) => {
  const sel = edge.cache.select(ctx.primary, ctx.headers);
  const inMemory = sel && edge.cache.memory?.getSync(sel.key);
  if (inMemory) return decide(ctx, edge, inMemory);
  return edge.cache.lookup(ctx.primary, ctx.headers).then((hit) => (hit ? decide(ctx, edge, hit) : miss(ctx, edge)));
};

function decide(ctx: RequestContext, edge: Edge, hit: StoreHit): LookupNext | Promise<LookupNext> {
  const { zone, headers } = ctx;
  const rd = requestDirectives(headers);
  const auth = headers.authorization !== undefined;
  // RFC 9111 §3.5: a request with Authorization is answered from the cache only when the stored
  // response says shared caches may reuse it (public, s-maxage, must-revalidate).
  if (auth && !allowsAuthorized(hit.meta.headers)) {
    ctx.coalesce = false;
    return releaseBody(hit.body).then(() => 'fetch');
  }
  const d = edge.views.of(hit.meta, zone);
  const age = edge.views.age(hit.meta);
  const reuse = reuseDecision(d.lifetime, age, d.policy, rd);
  if (reuse.kind === 'fresh') return serveStored(ctx, hit.meta, hit.body, 'hit', age);
  if (reuse.kind === 'stale-ok') return serveStored(ctx, hit.meta, hit.body, 'stale', age);
  if (!auth && reuse.reason === 'stale' && staleWhileRevalidateAllowed(d.lifetime, age, d.policy, zone.staleWhileRevalidateSeconds)) {
    edge.fill.refreshInBackground(ctx, hit.meta);
    return serveStored(ctx, hit.meta, hit.body, 'stale', age);
  }
  return releaseBody(hit.body).then(() => {
    if (rd.onlyIfCached) {
      ctx.error = new NotCachedError();
      return 'synth';
    }
    ctx.stored = hit.meta;
    ctx.coalesce = !auth && !ctx.filledElsewhere;
    return 'revalidate';
  });
}

function miss(ctx: RequestContext, edge: Edge): LookupNext {
  // §5.2.1.7: "a cache SHOULD either respond using a stored response ... or respond with a 504"
  if (requestDirectives(ctx.headers).onlyIfCached) {
    ctx.error = new NotCachedError();
    return 'synth';
  }
  if (edge.fill.passes(ctx.primary)) {
    ctx.outcome = 'pass';
    return 'pass';
  }
  ctx.coalesce = ctx.headers.authorization === undefined && !ctx.filledElsewhere;
  return 'fetch';
}
