// CORS headers a zone adds to its responses (zone option corsOrigins), and its answer to preflights.
// Pure: request fields in, response fields out. The edge computes them per request, so a stored
// object never varies on Origin; clients get `Vary: Origin` when the answer depends on it.

import { firstValue } from '../../http/types.ts';

export type CorsPolicy = { origins: readonly string[]; maxAgeSeconds: number };

/** What media players and scripts need to read besides the CORS-safelisted response fields. */
const EXPOSE = 'Content-Length, Content-Range, Accept-Ranges, ETag, Last-Modified, Age, X-Cache';

/**
 * Fields for an actual (non-preflight) response; undefined when the zone has no CORS or the Origin is
 * not allowed (the browser then refuses the response, which is the point).
 */
export function corsHeaders(policy: CorsPolicy, origin: string | undefined): Record<string, string> | undefined {
  const allow = allowedOrigin(policy, origin);
  if (allow === undefined) return undefined;
  // Made once per policy and allowed origin (a short list from the config), shared by the answers.
  let byOrigin = ANSWER_FIELDS.get(policy);
  if (byOrigin === undefined) ANSWER_FIELDS.set(policy, (byOrigin = new Map()));
  let out = byOrigin.get(allow);
  if (out === undefined) {
    const fields: Record<string, string> = { 'access-control-allow-origin': allow, 'access-control-expose-headers': EXPOSE };
    // Fetch standard §3.2.5 (CORS protocol and HTTP caches): a response whose Access-Control-Allow-Origin
    // depends on Origin must say so with Vary: Origin.
    if (allow !== '*') fields['vary'] = 'Origin';
    out = Object.freeze(fields);
    byOrigin.set(allow, out);
  }
  return out;
}

/** corsHeaders' answers, per policy and allowed origin (frozen: nobody may change a shared one). */
const ANSWER_FIELDS = new WeakMap<CorsPolicy, Map<string, Readonly<Record<string, string>>>>();

/**
 * A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) answered by the edge itself,
 * or undefined when the request is not one or the zone has no CORS for that Origin.
 */
export function preflightHeaders(policy: CorsPolicy, method: string, headers: Record<string, string | string[] | undefined>): Record<string, string> | undefined {
  if (method !== 'OPTIONS') return undefined;
  const requested = firstValue(headers['access-control-request-method']);
  if (requested === undefined) return undefined;
  const allow = allowedOrigin(policy, firstValue(headers['origin']));
  if (allow === undefined) return undefined;
  const out: Record<string, string> = {
    'access-control-allow-origin': allow,
    'access-control-allow-methods': 'GET, HEAD, OPTIONS',
    'access-control-max-age': String(policy.maxAgeSeconds),
    vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
  };
  const reqHeaders = firstValue(headers['access-control-request-headers']);
  if (reqHeaders !== undefined && /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/.test(reqHeaders.trim())) {
    out['access-control-allow-headers'] = reqHeaders.trim();
  }
  return out;
}

function allowedOrigin(policy: CorsPolicy, origin: string | undefined): string | undefined {
  if (policy.origins.length === 0) return undefined;
  if (policy.origins.includes('*')) return '*';
  if (origin === undefined) return undefined;
  return policy.origins.includes(origin) ? origin : undefined;
}

