// Shared-cache policy (RFC 9111, RFC 9213 CDN-Cache-Control): may a response be stored, how long is it
// fresh, how old is it, may a stored one answer this request. Pure: headers and `now` in, decisions out.
import { ccFieldNames, ccSeconds, hasConflictingDuplicates, parseCacheControl, parseDeltaSeconds, parseTargetedCacheControl } from '../../http/cache-control.ts';
import type { CacheControl } from '../../http/cache-control.ts';
import { parseHttpDate } from '../../http/http-date.ts';
import { joinFieldLines, trimOws } from '../../http/types.ts';
import type { Headers } from '../../http/types.ts';
import { parseVary } from '../../http/vary.ts';

/** Response directives that govern this cache, after picking CDN-Cache-Control or Cache-Control. */
export type ResponsePolicy = {
  source: 'cdn-cache-control' | 'cache-control';
  noStore: boolean;
  /** §5.2.2.3 must-understand: store only if the status code is understood (then no-store is ignored). */
  mustUnderstand: boolean;
  /** `private` (qualified or not: we treat `private="f"` like `private`, as §5.2.2.7 permits). */
  private: boolean;
  /** `no-cache` (qualified too, as §5.2.2.4 permits): every reuse needs validation. */
  noCache: boolean;
  /** must-revalidate, proxy-revalidate or s-maxage: stale may never be served without validation. */
  mustRevalidate: boolean;
  public: boolean;
  /** Explicit lifetime in seconds (s-maxage, else max-age), if any. */
  maxAge: number | undefined;
  /** Expires as ms, NaN when present but invalid (= already expired), undefined when absent. */
  expires: number | undefined;
  staleIfError: number | undefined;
  staleWhileRevalidate: number | undefined;
};

export type HeuristicOptions = {
  /** Fraction of (Date - Last-Modified) used as lifetime; 0 disables heuristic freshness. */
  heuristicFraction: number;
  heuristicMaxSeconds: number;
};

const DEFAULT_HEURISTICS: HeuristicOptions = { heuristicFraction: 0.1, heuristicMaxSeconds: 86_400 };

/**
 * RFC 9213 §2.2: a cache that implements targeted fields "MUST select the first (in target list order)
 * field with a valid, non-empty value and use its value to determine the caching policy for the
 * response, and it MUST ignore the Cache-Control and Expires header fields in that response, unless no
 * valid, non-empty value is available from the listed header fields." Our target list is
 * [CDN-Cache-Control], read as a Structured Field dictionary (parseTargetedCacheControl).
 */
function selectDirectives(headers: Headers): { source: ResponsePolicy['source']; cc: CacheControl } {
  const cdn = parseTargetedCacheControl(headers['cdn-cache-control']);
  return cdn !== undefined ? { source: 'cdn-cache-control', cc: cdn } : { source: 'cache-control', cc: parseCacheControl(headers['cache-control']) };
}

export function responsePolicy(headers: Headers): ResponsePolicy {
  const { source, cc } = selectDirectives(headers);
  const useCdn = source === 'cdn-cache-control';
  const sMaxAge = ccSeconds(cc, 's-maxage');
  const maxAge = ccSeconds(cc, 'max-age');
  // §4.2.1: "When there is more than one value present for a given directive (e.g., two Expires header
  // field lines or multiple Cache-Control: max-age directives), either the first occurrence should be
  // used or the response should be considered stale." We take the stricter reading: stale (lifetime 0).
  // (A Structured Field dictionary has no duplicates: a repeated key replaces the earlier one.)
  const conflicting = !useCdn && hasConflictingDuplicates(headers['cache-control']);
  let expires: number | undefined;
  if (!useCdn && headers['expires'] !== undefined) {
    const v = headers['expires'];
    // §5.3: "A cache recipient MUST interpret invalid date formats, especially the value "0", as
    // representing a time in the past (i.e., "already expired")."
    expires = Array.isArray(v) && v.length !== 1 ? NaN : (parseHttpDate(joinFieldLines(v)) ?? NaN);
  }
  return {
    source,
    noStore: cc.has('no-store'),
    mustUnderstand: cc.has('must-understand'),
    private: ccFieldNames(cc, 'private') !== undefined,
    noCache: ccFieldNames(cc, 'no-cache') !== undefined,
    // §5.2.2.8 proxy-revalidate: "the same meaning as must-revalidate ... except that it does not
    // apply to private caches"; §5.2.2.10 s-maxage: "also implies the semantics of proxy-revalidate".
    mustRevalidate: cc.has('must-revalidate') || cc.has('proxy-revalidate') || cc.has('s-maxage'),
    public: cc.has('public'),
    maxAge: conflicting ? 0 : (sMaxAge ?? maxAge),
    expires,
    staleIfError: ccSeconds(cc, 'stale-if-error'),
    staleWhileRevalidate: ccSeconds(cc, 'stale-while-revalidate'),
  };
}

/** RFC 9110 §15.1: "Responses with status codes that are defined as heuristically cacheable". */
const HEURISTICALLY_CACHEABLE: ReadonlySet<number> = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);
/**
 * Status codes this cache understands and conforms to (for must-understand, §5.2.2.3): the final
 * codes RFC 9110 §15 defines, with 429 (RFC 6585) and 451 (RFC 7725), except 206 and 304, which a
 * whole-object cache never stores. A stored response of these is replayed as it is.
 */
const UNDERSTOOD: ReadonlySet<number> = new Set([
  200, 201, 202, 203, 204, 205, 300, 301, 302, 303, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 429, 451,
  500, 501, 502, 503, 504, 505,
]);

type Storability = { kind: 'store' } | { kind: 'skip'; reason: string };

type StoreInput = {
  method: string;
  status: number;
  requestHeaders: Headers;
  responseHeaders: Headers;
  policy: ResponsePolicy;
};

/** RFC 9111 §3: "A cache MUST NOT store a response to a request unless: ..." — one clause per line. */
export function storability(x: StoreInput): Storability {
  const { policy } = x;
  // "the request method is understood by the cache"
  if (x.method !== 'GET' && x.method !== 'HEAD') return skip('method');
  // "the response status code is final (see Section 15 of [HTTP])" — any final code: RFC 9110 §15 "a
  // recipient MUST understand the class of any status code ... and treat an unrecognized status code as
  // being equivalent to the x00 status code of that class", so 299, 499, 599 are stored like 200, 400, 500.
  if (x.status < 200 || x.status > 599) return skip(`status ${x.status}`);
  // "if the response status code is 206 or 304, or the must-understand cache directive (see Section
  // 5.2.2.3) is present: the cache understands the response status code" — we fetch whole objects and
  // never store a part (nor a 304 to a request that had no condition), so a Content-Range on anything
  // is refused too.
  if (x.status === 206 || x.status === 304) return skip(`status ${x.status}`);
  if (x.responseHeaders['content-range'] !== undefined) return skip('partial content');
  // §5.2.2.3: "When a cache that implements the must-understand directive receives a response that
  // includes it, the cache SHOULD ignore the no-store directive if it understands the status code, and
  // MUST NOT store if it doesn't."
  const understood = policy.mustUnderstand && UNDERSTOOD.has(x.status);
  if (policy.mustUnderstand && !understood) return skip('must-understand');
  // §5.2.1.5 request no-store: "a cache MUST NOT store any part of either this request or any response to it"
  if (parseCacheControl(x.requestHeaders['cache-control']).has('no-store')) return skip('request no-store');
  // "the no-store cache directive is not present in the response (see Section 5.2.2.5)"
  if (policy.noStore && !understood) return skip('no-store');
  // "if the cache is shared: the private response directive is either not present or allows a shared
  // cache to store a modified response" — we do not store modified (field-stripped) responses.
  if (policy.private) return skip('private');
  // "if the cache is shared: the Authorization header field is not present in the request (see Section
  // 11.6.2 of [HTTP]) or a response directive is present that explicitly allows shared caching (see
  // Section 3.5)" — §3.5 names must-revalidate, public and s-maxage.
  if (x.requestHeaders['authorization'] !== undefined && !allowsAuthorized(x.responseHeaders)) {
    return skip('authorization');
  }
  // §4.1: "A stored response with a Vary header field value containing a member "*" always fails to
  // match" — storing it would only waste space.
  if (parseVary(x.responseHeaders['vary']).kind === 'any') return skip('vary *');
  // Deviation (as Varnish's builtin policy): a response that sets a cookie is not shared, since
  // §7.3 warns that a stored Set-Cookie would be replayed to every client.
  if (x.responseHeaders['set-cookie'] !== undefined) return skip('set-cookie');
  // "the response contains at least one of: a public response directive; ... an Expires header field;
  // a max-age response directive; ... a s-maxage response directive; ... a status code that is defined
  // as heuristically cacheable".
  const explicit = policy.public || policy.maxAge !== undefined || policy.expires !== undefined;
  if (!explicit && !HEURISTICALLY_CACHEABLE.has(x.status)) return skip('no freshness information');
  return { kind: 'store' };
}

function skip(reason: string): Storability {
  return { kind: 'skip', reason };
}

/** §3.5: may a response to a request with Authorization be reused for other requests? */
export function allowsAuthorized(responseHeaders: Headers): boolean {
  const { cc } = selectDirectives(responseHeaders);
  return cc.has('must-revalidate') || cc.has('public') || cc.has('s-maxage');
}

/**
 * RFC 9111 §4.2.1 freshness_lifetime in seconds, for a shared cache: "If the cache is shared and the
 * s-maxage response directive is present, use its value, or If the max-age response directive is
 * present, use its value, or If the Expires response header field is present, use its value minus the
 * value of the Date response header field (using the time the message was received if it is not
 * present), or Otherwise, no explicit expiration time is present in the response. A heuristic
 * freshness lifetime might be applicable; see Section 4.2.2."
 */
export function freshnessLifetime(
  status: number,
  headers: Headers,
  policy: ResponsePolicy,
  responseTime: number,
  heuristics: HeuristicOptions = DEFAULT_HEURISTICS,
): number {
  if (policy.maxAge !== undefined) return policy.maxAge;
  const date = dateValue(headers, responseTime);
  if (policy.expires !== undefined) {
    return Number.isNaN(policy.expires) ? 0 : Math.max(0, Math.floor((policy.expires - date) / 1000));
  }
  // §4.2.2: "a cache MUST NOT use heuristics to determine freshness when an explicit expiration time is
  // present in the stored response" (handled above) and only for heuristically cacheable statuses or a
  // `public` response. "If the response has a Last-Modified header field, caches are encouraged to use a
  // heuristic expiration value that is no more than some fraction of the interval since that time. A
  // typical setting of this fraction might be 10%."
  if (!HEURISTICALLY_CACHEABLE.has(status) && !policy.public) return 0;
  if (policy.source === 'cdn-cache-control') return 0;
  const lm = parseHttpDate(joinFieldLines(headers['last-modified']));
  if (lm === undefined || heuristics.heuristicFraction <= 0) return 0;
  const interval = Math.max(0, (date - lm) / 1000);
  return Math.floor(Math.min(interval * heuristics.heuristicFraction, heuristics.heuristicMaxSeconds));
}

function dateValue(headers: Headers, responseTime: number): number {
  return parseHttpDate(joinFieldLines(headers['date'])) ?? responseTime;
}

/**
 * RFC 9111 §4.2.3 current_age in seconds (fractional):
 *   apparent_age = max(0, response_time - date_value); response_delay = response_time - request_time;
 *   corrected_age_value = age_value + response_delay; corrected_initial_age = max(apparent_age, corrected_age_value);
 *   resident_time = now - response_time; current_age = corrected_initial_age + resident_time.
 */
export function currentAge(headers: Headers, requestTime: number, responseTime: number, now: number): number {
  const ageValue = ageHeaderSeconds(headers['age']);
  const apparentAge = Math.max(0, (responseTime - dateValue(headers, responseTime)) / 1000);
  const responseDelay = Math.max(0, (responseTime - requestTime) / 1000);
  const correctedInitialAge = Math.max(apparentAge, ageValue + responseDelay);
  const residentTime = Math.max(0, (now - responseTime) / 1000);
  return correctedInitialAge + residentTime;
}

/**
 * §5.1 Age = delta-seconds. "Although it is defined as a singleton header field, a cache encountering a
 * message with a list-based Age field value SHOULD use the first member of the field value, discarding
 * subsequent ones. If the field value (after discarding additional members, as per above) is invalid
 * (e.g., it contains something other than a non-negative integer), a cache SHOULD ignore the field."
 * Several field lines are a list too: the first line's first member counts.
 */
export function ageHeaderSeconds(v: Headers[string]): number {
  const line = Array.isArray(v) ? v[0] : v;
  if (line === undefined) return 0;
  const comma = line.indexOf(',');
  return parseDeltaSeconds(trimOws(comma < 0 ? line : line.slice(0, comma))) ?? 0;
}

/** The request's own cache directives (RFC 9111 §5.2.1, §5.4 Pragma). */
type RequestDirectives = {
  noCache: boolean;
  noStore: boolean;
  maxAge: number | undefined;
  minFresh: number | undefined;
  /** true = any staleness accepted; a number = at most that many seconds stale. */
  maxStale: number | true | undefined;
  onlyIfCached: boolean;
};

const NO_REQUEST_DIRECTIVES: RequestDirectives = {
  noCache: false,
  noStore: false,
  maxAge: undefined,
  minFresh: undefined,
  maxStale: undefined,
  onlyIfCached: false,
};

export function requestDirectives(headers: Headers): RequestDirectives {
  const ccHeader = headers['cache-control'];
  if (ccHeader === undefined) {
    // §5.4: "When the Cache-Control header field is not present in a request, caches MUST consider the
    // no-cache request pragma directive as having the same effect as if "Cache-Control: no-cache" were present."
    const pragma = joinFieldLines(headers['pragma']);
    if (pragma !== undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(pragma)) return { ...NO_REQUEST_DIRECTIVES, noCache: true };
    return NO_REQUEST_DIRECTIVES;
  }
  const cc = parseCacheControl(ccHeader);
  const maxStale = cc.get('max-stale');
  return {
    noCache: cc.has('no-cache'),
    noStore: cc.has('no-store'),
    maxAge: ccSeconds(cc, 'max-age'),
    minFresh: ccSeconds(cc, 'min-fresh'),
    maxStale: maxStale === undefined ? undefined : maxStale === true ? true : ccSeconds(cc, 'max-stale'),
    onlyIfCached: cc.has('only-if-cached'),
  };
}

type Reuse =
  | { kind: 'fresh'; age: number }
  /** Stale, but the client accepts it (max-stale) and nothing forbids it. */
  | { kind: 'stale-ok'; age: number }
  | { kind: 'validate'; age: number; reason: string };

/** May a stored response answer this request as is (RFC 9111 §4, §4.2, §4.2.4, §5.2)? */
export function reuseDecision(
  lifetime: number,
  age: number,
  policy: ResponsePolicy,
  req: RequestDirectives,
): Reuse {
  // §4: "the stored response does not contain the no-cache directive (Section 5.2.2.4), unless it is
  // successfully validated"
  if (policy.noCache) return { kind: 'validate', age, reason: 'response no-cache' };
  // §4: "the presented request does not contain the no-cache directive (Section 5.2.1.4), unless the
  // stored response is successfully validated"
  if (req.noCache) return { kind: 'validate', age, reason: 'request no-cache' };
  // §5.2.1.1 max-age: "the client prefers a response whose age is less than or equal to the specified number of seconds"
  if (req.maxAge !== undefined && age > req.maxAge) return { kind: 'validate', age, reason: 'request max-age' };
  // §5.2.1.3 min-fresh: "the client prefers a response whose freshness lifetime is no less than its
  // current age plus the specified time in seconds"
  if (req.minFresh !== undefined && lifetime - age < req.minFresh) return { kind: 'validate', age, reason: 'request min-fresh' };
  // §4.2: "A response's age ... fresh if its age has not yet exceeded its freshness lifetime"
  if (age < lifetime) return { kind: 'fresh', age };
  // §4.2.4: "A cache MUST NOT generate a stale response if it is prohibited by an explicit in-protocol
  // directive (e.g., by a no-cache response directive, a must-revalidate response directive, or an
  // applicable s-maxage or proxy-revalidate response directive)"; §5.2.1.2 max-stale lets the client accept it.
  if (!policy.mustRevalidate && req.maxStale !== undefined) {
    if (req.maxStale === true || age - lifetime <= req.maxStale) return { kind: 'stale-ok', age };
  }
  return { kind: 'validate', age, reason: 'stale' };
}

/**
 * When revalidation fails (origin down, 5xx, timeout): may the stale copy be served instead?
 * RFC 5861 §4 stale-if-error: "when an error is encountered, a cached stale response MAY be used to
 * satisfy the request, regardless of other freshness information" within its window. Without the
 * directive, `defaultSeconds` (a zone setting, 0 = off) applies only where §4.2.4 does not prohibit it.
 */
export function staleOnErrorAllowed(
  lifetime: number,
  age: number,
  policy: ResponsePolicy,
  defaultSeconds: number,
): boolean {
  const staleness = Math.max(0, age - lifetime);
  if (policy.staleIfError !== undefined) return staleness <= policy.staleIfError;
  if (policy.mustRevalidate || policy.noCache) return false;
  return staleness <= defaultSeconds;
}

/**
 * RFC 5861 §3 stale-while-revalidate: "indicates that caches MAY serve the response in which it
 * appears after it becomes stale, up to the indicated number of seconds" while "the cache SHOULD
 * attempt to revalidate it while still serving stale responses". Without the directive the zone's
 * `defaultSeconds` (0 = off) applies. RFC 9111 §4.2.4 still rules: never past must-revalidate,
 * proxy-revalidate, s-maxage or no-cache, which forbid serving stale without validation.
 */
export function staleWhileRevalidateAllowed(
  lifetime: number,
  age: number,
  policy: ResponsePolicy,
  defaultSeconds: number,
): boolean {
  if (policy.mustRevalidate || policy.noCache) return false;
  const window = policy.staleWhileRevalidate ?? defaultSeconds;
  return window > 0 && age - lifetime <= window;
}

/**
 * A zone's edgeTtlSeconds replaces the origin's caching fields for the edge's own decisions: the
 * response is read as if it said `Cache-Control: max-age=<ttl>` and nothing else (no CDN-Cache-Control,
 * no Expires). The stored headers are left as the origin sent them; only policy reads this view.
 */
export function withEdgeTtl(headers: Headers, ttlSeconds: number): Headers {
  const out: Record<string, string | string[] | undefined> = { ...headers, 'cache-control': `max-age=${ttlSeconds}` };
  delete out['cdn-cache-control'];
  delete out['expires'];
  return out;
}

/**
 * RFC 9111 §3.2 updating stored headers from a 304: "the cache MUST add each header field in the
 * provided response to the stored response, replacing field values that are already present, with the
 * following exceptions: Header fields excepted from storage in Section 3.1, Header fields that the
 * cache's stored response depends upon, ..., Header fields that are automatically processed and removed
 * by the recipient, ..., and the Content-Length header field." We also keep the stored body's framing
 * (Content-Encoding, Content-Type, Content-Range are never taken from a 304).
 */
const NOT_UPDATED_BY_304: ReadonlySet<string> = new Set([
  'content-length',
  'content-encoding',
  'content-type',
  'content-range',
  'transfer-encoding',
]);

export function mergeNotModified(
  stored: Record<string, string | string[]>,
  fresh: Record<string, string | string[]>,
): Record<string, string | string[]> {
  const out = { ...stored };
  for (const [name, value] of Object.entries(fresh)) {
    if (!NOT_UPDATED_BY_304.has(name)) out[name] = value;
  }
  return out;
}
