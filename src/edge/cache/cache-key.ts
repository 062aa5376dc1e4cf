// Cache keys: which stored responses a request may be answered from (RFC 9111 §2, §4.1).
// Parts are serialised with JSON, never joined with a delimiter that can appear in a URL.

/**
 * RFC 9111 §2: "the cache key ... consists of, at a minimum, the request method and target URI".
 * HEAD is answered from the stored GET response (RFC 9111 §4: "the request method associated with the
 * stored response allows it to be used for the presented request"), so both share the 'GET' class.
 */
type MethodClass = 'GET';

type CacheKeyParts = {
  /** Zone host name, lower case. */
  zone: string;
  method: MethodClass;
  /** Path and query exactly as requested (origin-form request target). */
  target: string;
};

const VERSION = 1;

/** The primary key of a request: one per (zone, method class, path+query). */
export function cacheKey(parts: CacheKeyParts): string {
  return JSON.stringify([VERSION, parts.zone, parts.method, parts.target]);
}

/** Inverse of cacheKey, for purge by zone / prefix; undefined for a string that is not a key. */
export function parseCacheKey(key: string): CacheKeyParts | undefined {
  let v: unknown;
  try {
    v = JSON.parse(key);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 4 || v[0] !== VERSION || v[2] !== 'GET') return undefined;
  if (typeof v[1] !== 'string' || typeof v[3] !== 'string') return undefined;
  return { zone: v[1], method: 'GET', target: v[3] };
}

/**
 * The key of one stored variant: the primary key plus the values of the request fields the response's
 * Vary names (RFC 9111 §4.1), as computed by http/vary.ts `varyKey`. Without Vary, secondary is ''.
 */
export function variantKey(primary: string, secondary: string): string {
  return JSON.stringify([primary, secondary]);
}

/** The primary key inside a variant key, or undefined for a string that is not one. */
export function primaryOfVariant(key: string): string | undefined {
  try {
    const v: unknown = JSON.parse(key);
    return Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' ? v[0] : undefined;
  } catch {
    return undefined;
  }
}

/** Only GET and HEAD are looked up in the cache; everything else writes through. */
export function methodClass(method: string): MethodClass | undefined {
  return method === 'GET' || method === 'HEAD' ? 'GET' : undefined;
}

/**
 * A zone's query string handling applied to a request target (used for the key AND the upstream
 * request, so a stored object is what its key says). `sort` orders `name=value` pieces by name (stable,
 * by the raw bytes, encodings untouched) and drops empty pieces; `ignore` drops the query.
 */
export function normaliseTarget(target: string, mode: 'keep' | 'ignore' | 'sort'): string {
  if (mode === 'keep') return target;
  const q = target.indexOf('?');
  if (q < 0) return target;
  const path = target.slice(0, q);
  if (mode === 'ignore') return path;
  const pieces = target.slice(q + 1).split('&').filter((p) => p !== '');
  if (pieces.length === 0) return path;
  const name = (p: string) => {
    const eq = p.indexOf('=');
    return eq < 0 ? p : p.slice(0, eq);
  };
  const sorted = pieces.map((p, i) => ({ p, n: name(p), i })).sort((a, b) => (a.n < b.n ? -1 : a.n > b.n ? 1 : a.i - b.i));
  return `${path}?${sorted.map((x) => x.p).join('&')}`;
}

/**
 * The normalised targets and cache keys of a zone's recent request targets. A player asks for the
 * same few URLs again and again: the key is made once, and the same string each time (its hash is
 * worked out once, not on every cache lookup). Bounded per zone in count (full, it starts again) and
 * in length (a longer target is worked out each time), so a client's made-up URLs hold at most a
 * few MB.
 */
const zoneKeys = new WeakMap<KeyedZone, Map<string, RequestKey>>();
const KEYS_PER_ZONE = 2048;
const KEY_MEMO_TARGET_LENGTH = 512;
type RequestKey = { readonly target: string; readonly primary: string };

/** What a zone's keys depend on (zone/zone.ts's Zone, which keeps both for its life). */
type KeyedZone = { readonly host: string; readonly queryString: Parameters<typeof normaliseTarget>[1] };

/** A request target's normalised form and cache key in `zone` (normaliseTarget, then cacheKey), kept as above. */
export function requestKey(zone: KeyedZone, rawTarget: string): RequestKey {
  let keys = zoneKeys.get(zone);
  if (keys === undefined) zoneKeys.set(zone, (keys = new Map()));
  let key = keys.get(rawTarget);
  if (key === undefined) {
    const target = normaliseTarget(rawTarget, zone.queryString);
    key = { target, primary: cacheKey({ zone: zone.host, method: 'GET', target }) };
    if (rawTarget.length <= KEY_MEMO_TARGET_LENGTH) {
      if (keys.size >= KEYS_PER_ZONE) keys.clear();
      keys.set(rawTarget, key);
    }
  }
  return key;
}
