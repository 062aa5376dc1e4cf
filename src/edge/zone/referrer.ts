// Hotlink protection (a zone's `allowedReferrers`): which pages may embed or link the zone's media,
// by the host of the Referer. "radio.example" allows that host only; "*.radio.example" any host under
// it (not radio.example itself). Requests without a Referer are allowed only when the zone says so
// (`allowEmptyReferrer`): privacy settings and direct plays send none.

export type ReferrerPolicy = { allowed: readonly string[]; allowEmpty: boolean };

type ReferrerCheck = { kind: 'ok' } | { kind: 'refused'; code: 'referrer_missing' | 'referrer_not_allowed'; message: string };

export function checkReferrer(policy: ReferrerPolicy, referer: string | undefined): ReferrerCheck {
  if (referer === undefined || referer.trim() === '') {
    return policy.allowEmpty ? { kind: 'ok' } : { kind: 'refused', code: 'referrer_missing', message: 'This zone serves requests from its own sites only, and the request names none (no Referer).' };
  }
  const host = refererHost(referer);
  if (host !== undefined && policy.allowed.some((pattern) => hostMatches(pattern, host))) return { kind: 'ok' };
  return { kind: 'refused', code: 'referrer_not_allowed', message: 'This zone does not serve requests from the referring site.' };
}

/** The lower-case host of an absolute http(s) Referer, without a trailing dot; undefined otherwise. */
function refererHost(referer: string): string | undefined {
  let u: URL;
  try {
    u = new URL(referer.trim());
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  return u.hostname.toLowerCase().replace(/\.$/, '');
}

function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  if (p.startsWith('*.')) return host.endsWith(p.slice(1)) && host.length > p.length - 1;
  return host === p;
}
