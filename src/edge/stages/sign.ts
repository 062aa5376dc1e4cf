// sign: a zone with signedUrls serves only links signed with one of its keys, unexpired, in scope and
// for this client (zone/signed-url.ts); 403 with a JSON reason otherwise. The signing parameters are
// taken off the target here, so they never reach the cache key or the origin: signed links of any
// expiry share one stored object. Then safe methods go to the cache, the others pass to the origin.
import { methodClass, requestKey } from '../cache/cache-key.ts';
import { ZoneAccessError } from '../errors.ts';
import { checkSignature } from '../zone/signed-url.ts';
import type { Stage } from './context.ts';

export const sign: Stage<'lookup' | 'pass' | 'synth'> = (ctx, edge) => {
  const { zone } = ctx;
  if (zone.signingKeys !== undefined) {
    const check = checkSignature(ctx.rawTarget, zone.signingKeys, edge.now(), ctx.clientIp);
    if (check.kind === 'refused') {
      ctx.outcome = 'pass';
      ctx.error = new ZoneAccessError(check.code, check.message);
      return 'synth';
    }
    const key = requestKey(zone, check.target);
    ctx.target = key.target;
    ctx.primary = key.primary;
  }
  return methodClass(ctx.method) ? 'lookup' : 'pass';
};
