// How a request was served, after Varnish's lookup results: one closed union that the request path
// sets, the X-Cache header names and statistics count.

export type Outcome = 'hit' | 'stale' | 'miss' | 'pass' | 'revalidated';

/** Every outcome, in the order statistics list them. */
export const OUTCOMES: readonly Outcome[] = ['hit', 'stale', 'revalidated', 'miss', 'pass'];

/**
 * HIT: fresh stored response. STALE: stored response served stale (client max-stale, stale-if-error).
 * MISS: fetched from upstream and stored (or being stored). REVALIDATED: stored response validated by
 * a 304. BYPASS: fetched from upstream and not stored (unsafe method, not storable, too large, ...).
 */
export const X_CACHE = {
  hit: 'HIT',
  stale: 'STALE',
  miss: 'MISS',
  pass: 'BYPASS',
  revalidated: 'REVALIDATED',
} as const satisfies Record<Outcome, string>;
