// hotlink: a zone with allowedReferrers serves only requests whose Referer names one of its sites
// (and, when it allows it, requests without one); 403 with a JSON reason otherwise.
import { firstValue } from '../../http/types.ts';
import { ZoneAccessError } from '../errors.ts';
import { checkReferrer } from '../zone/referrer.ts';
import type { Stage } from './context.ts';

export const hotlink: Stage<'sign' | 'synth'> = (ctx) => {
  const policy = ctx.zone.referrers;
  if (policy === undefined) return 'sign';
  const check = checkReferrer(policy, firstValue(ctx.headers.referer));
  if (check.kind === 'ok') return 'sign';
  ctx.outcome = 'pass';
  ctx.error = new ZoneAccessError(check.code, check.message);
  return 'synth';
};
