// A pull zone at run time, and how a request names one: the Host header (or the authority of an
// absolute-form target) picks the zone, the origin-form path and query are what the zone serves.
import type { QueryStringMode } from '../../config/edge-schema.ts';
import type { HeuristicOptions } from '../cache/freshness.ts';
import { BadTargetError } from '../errors.ts';
import type { IpMatcher } from '../limits/ip-match.ts';
import type { TakeResult } from '../limits/rate-limit.ts';
import type { Upstream } from '../upstream/upstream.ts';
import type { CorsPolicy } from './cors.ts';
import type { ReferrerPolicy } from './referrer.ts';

export type Zone = {
  host: string;
  upstream: Upstream;
  maxObjectBytes: number;
  heuristics: HeuristicOptions;
  /** Stale-if-error window used when the origin sent none (0 = off). */
  staleIfErrorSeconds: number;
  /** Stale-while-revalidate window used when the origin sent none (0 = off). */
  staleWhileRevalidateSeconds: number;
  /** Replaces the origin's caching fields for the edge's decisions. */
  edgeTtlSeconds: number | undefined;
  /** Replaces Cache-Control sent to clients on responses from the cache. */
  browserTtlSeconds: number | undefined;
  queryString: QueryStringMode;
  cors: CorsPolicy;
  /** The zone's rate limit: a RateLimiter, or a worker's lease of the edge primary's buckets (LeasedRateLimiter). */
  rateLimiter: { take(key: string): TakeResult | Promise<TakeResult> } | undefined;
  /** The zone's own block list. */
  blocked: IpMatcher;
  /** Keys of signed links (any verifies); undefined = links need no signature. */
  signingKeys: readonly string[] | undefined;
  /** Hotlink protection; undefined = any Referer. */
  referrers: ReferrerPolicy | undefined;
};

/** The Host header's host name: lower case, port and trailing dot removed; IPv6 literals kept bracketed. */
export function zoneHostOf(host: string | undefined): string {
  if (!host) return '';
  const known = hostFields.get(host);
  if (known !== undefined) return known;
  const zoneHost = zoneHostOfField(host);
  if (HOST_FIELD.test(host)) remember(host, zoneHost);
  return zoneHost;
}

/** zoneHostOf(host) for a valid Host field value (isValidHostField), undefined for an invalid one: one lookup for both. */
export function validZoneHost(host: string | undefined): string | undefined {
  if (!host) return '';
  const known = hostFields.get(host);
  if (known !== undefined) return known;
  if (!HOST_FIELD.test(host)) return undefined;
  const zoneHost = zoneHostOfField(host);
  remember(host, zoneHost);
  return zoneHost;
}

/** Whether a Host field value is a host with an optional port (an empty one is allowed by RFC 9112 §3.2). */
export function isValidHostField(host: string): boolean {
  return validZoneHost(host) !== undefined;
}

/**
 * The valid Host values an edge has seen, with their zone host: the few real ones are checked and
 * worked out once. Bounded in count and in length; full (of a client's made-up hosts, say), it starts
 * again, so the real ones come back.
 */
const hostFields = new Map<string, string>();
const HOST_FIELDS_MAX = 256;
/** A DNS name (253) with a port: longer values are worked out each time, not kept. */
const HOST_MEMO_LENGTH = 260;

function remember(field: string, zoneHost: string): void {
  if (field.length > HOST_MEMO_LENGTH) return;
  if (hostFields.size >= HOST_FIELDS_MAX) hostFields.clear();
  hostFields.set(field, zoneHost);
}

function zoneHostOfField(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return (colon < 0 ? h : h.slice(0, colon)).replace(/\.$/, '');
}

/** RFC 9110 §7.2 Host = uri-host [ ":" port ]: a reg-name, IPv4 or bracketed IPv6 literal (RFC 3986 §3.2.2). */
const HOST_FIELD = /^(?:\[[0-9A-Za-z:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;

/**
 * What is wrong with a request's Host field, if anything (Node's rawHeaders: name, value, ...; an
 * HTTP/2 request's include its pseudo-header fields). More than one Host field is refused, and RFC
 * 9113 §8.3.1 has an HTTP/2 request whose Host names another entity than its :authority treated as
 * malformed: the host names are compared, what picks the zone. (An HTTP/1.1 request has no
 * :authority, so for it only the count matters.) Undefined when neither applies.
 */
export function hostFieldProblem(rawHeaders: readonly string[]): 'several' | 'conflict' | undefined {
  let authority: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name === ':authority') authority = rawHeaders[i + 1];
    else if (name.length === 4 && name.toLowerCase() === 'host') {
      if (host !== undefined) return 'several';
      host = rawHeaders[i + 1];
    }
  }
  if (host === undefined || authority === undefined) return undefined;
  return zoneHostOf(host) === zoneHostOf(authority) ? undefined : 'conflict';
}

/**
 * The authority of an absolute-form request target, which selects the zone: RFC 9112 §3.2.2 "When an
 * origin server receives a request with an absolute-form of request-target, the origin server MUST
 * ignore the received Host header field (if any) and instead use the host information of the
 * request-target." Undefined for origin-form targets.
 */
export function absoluteFormAuthority(url: string): string | undefined {
  if (!/^https?:\/\//i.test(url)) return undefined;
  try {
    return new URL(url).host;
  } catch {
    return undefined; // requestTarget refuses it
  }
}

/** Origin-form path+query of the request; absolute-form is reduced to it. */
export function requestTarget(url: string): string {
  if (url.startsWith('/')) return url;
  if (/^https?:\/\//i.test(url)) {
    try {
      const u = new URL(url);
      return u.pathname + u.search;
    } catch {
      throw new BadTargetError(url);
    }
  }
  throw new BadTargetError(url);
}
