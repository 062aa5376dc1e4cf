// Cache keys: which stored responses a request may be answered from (RFC 9111 §2, §4.1).
// Parts are serialised with JSON, never joined with a delimiter that can appear in a URL.

/**
 * RFC 9111 §2: "the cache key ... consists of, at a minimum, the request method and target URI".
 * HEAD is answered from the stored GET response (RFC 9111 §4: "the request method associated with the
 * stored response allows it to be used for the presented request"), so both share the 'GET' class.
 */
export type MethodClass = 'GET';

export type CacheKeyParts = {
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
