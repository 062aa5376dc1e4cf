// What the request path reads from a stored response, derived once per metadata object (a hit parses
// no header): the freshness policy and lifetime, the representation for planResponse, the field sets
// of a 200/206, a 304 and a replayed status, and the precomputed part of its age.
import { parseHttpDate } from '../../http/http-date.ts';
import type { BodySegment, Representation } from '../../http/representation.ts';
import { firstValue } from '../../http/types.ts';
import type { Headers } from '../../http/types.ts';
import { VIA, appendList } from '../upstream/upstream.ts';
import type { Zone } from '../zone/zone.ts';
import { currentAge, freshnessLifetime, responsePolicy, withEdgeTtl } from './freshness.ts';
import type { ResponsePolicy } from './freshness.ts';
import type { EntryMeta } from './store.ts';

export type StoredView = {
  policy: ResponsePolicy;
  lifetime: number;
  rep: Omit<Representation, 'size'>;
  /** Stored end-to-end fields to send with a 200/206 (validators, type and framing come from the plan). */
  base: Record<string, string | string[]>;
  /** RFC 9110 §15.4.5 fields of a 304. */
  notModified: Record<string, string | string[]>;
  /** Every stored field, for statuses replayed as they are (301, 404 ...); browser TTL applied. */
  replay: Record<string, string | string[]>;
  via: string;
  /** corrected_initial_age in seconds (RFC 9111 §4.2.3). */
  initialAge: number;
  /** The whole body as the one segment of a plain GET's answer (deliver.ts), made on first use. */
  whole?: readonly BodySegment[];
  /** Memoised response plans of this object: by the CORS fields' key ('' for none), then by request shape (deliver.ts). */
  plans: Map<string, Map<string, readonly string[]>>;
};

const NOT_IN_200: ReadonlySet<string> = new Set([
  'age', 'content-length', 'content-range', 'content-type', 'etag', 'last-modified', 'accept-ranges', 'via', 'x-cache',
]);
const IN_304 = ['cache-control', 'cdn-cache-control', 'content-location', 'date', 'expires', 'vary'];

export class StoredViews {
  readonly #now: () => number;
  readonly #views = new WeakMap<EntryMeta, StoredView>();

  constructor(now: () => number) {
    this.#now = now;
  }

  /** current_age = corrected_initial_age + resident_time (RFC 9111 §4.2.3), the first part precomputed. */
  age(meta: EntryMeta): number {
    const d = this.#views.get(meta);
    if (!d) return currentAge(meta.headers, meta.requestTime, meta.responseTime, this.#now());
    return this.ageOf(d, meta);
  }

  /** age(meta) for the view `of` gave for it (one lookup less). */
  ageOf(d: StoredView, meta: EntryMeta): number {
    return d.initialAge + Math.max(0, (this.#now() - meta.responseTime) / 1000);
  }

  of(meta: EntryMeta, zone: Zone): StoredView {
    let d = this.#views.get(meta);
    if (d) return d;
    const policyHeaders = policyView(meta.status, meta.headers, zone);
    const policy = responsePolicy(policyHeaders);
    const etag = firstValue(meta.headers['etag']);
    const lastModified = parseHttpDate(firstValue(meta.headers['last-modified']));
    const date = parseHttpDate(firstValue(meta.headers['date']));
    const base: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(meta.headers)) if (!NOT_IN_200.has(name)) base[name] = value;
    const notModified: Record<string, string | string[]> = {};
    for (const name of IN_304) if (meta.headers[name] !== undefined) notModified[name] = meta.headers[name];
    // The stored CORS fields too (as the origin's own 304 has them): a script's revalidation fails the
    // Fetch CORS check on a 304 without Access-Control-Allow-Origin, and cannot read ETag without -Expose-Headers.
    for (const [name, value] of Object.entries(meta.headers)) if (name.startsWith('access-control-')) notModified[name] = value;
    const replay: Record<string, string | string[]> = { ...meta.headers };
    delete replay['x-cache'];
    delete replay['age'];
    if (zone.browserTtlSeconds !== undefined) {
      // The zone's browser TTL replaces what the origin told clients (Cache-Control, Expires); CDN-
      // Cache-Control is for CDNs and goes too, so a downstream CDN follows the same TTL.
      for (const h of [base, notModified, replay]) {
        delete h['expires'];
        delete h['cdn-cache-control'];
        h['cache-control'] = `public, max-age=${zone.browserTtlSeconds}`;
      }
    }
    d = {
      policy,
      lifetime: freshnessLifetime(meta.status, policyHeaders, policy, meta.responseTime, zone.heuristics),
      rep: {
        contentType: firstValue(meta.headers['content-type']) ?? 'application/octet-stream',
        etag,
        lastModified,
        // RFC 9110 §8.8.2.2: a cache may treat Last-Modified as strong only if "the cache entry includes
        // a Date value [that] is at least one second after the Last-Modified value".
        lastModifiedWeak: lastModified === undefined || date === undefined || date - lastModified < 1000,
      },
      base,
      notModified,
      replay,
      via: appendList(meta.headers['via'], VIA),
      initialAge: currentAge(meta.headers, meta.requestTime, meta.responseTime, meta.responseTime),
      plans: new Map(),
    };
    this.#views.set(meta, d);
    return d;
  }
}

/**
 * The response fields the edge's caching decisions read: the zone's edgeTtlSeconds replaces the
 * origin's caching fields, except on 5xx answers, which keep only the lifetime the origin gave them
 * (a TTL meant for media must not keep an outage's 503 for a year).
 */
export function policyView(status: number, headers: Headers, zone: Zone): Headers {
  return zone.edgeTtlSeconds === undefined || status >= 500 ? headers : withEdgeTtl(headers, zone.edgeTtlSeconds);
}

