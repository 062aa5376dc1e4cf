// Per-client limits: a token bucket per key (requests per second with a burst) and a cap on concurrent
// connections per key. Both keep bounded memory, so a flood of distinct addresses cannot grow them.
//
// How the edge uses it: one RateLimiter per zone with a limit (key = clientIp(...)):
//   const r = limiter.take(ip); if (!r.ok) → 429 with `Retry-After: ${r.retryAfterSeconds}`.
// One ConnectionLimiter per listener: on each request, `const release = connections.acquire(ip)`;
// if undefined → 429 (or close); else call `release()` on `res.once('close')`. Keyed per request by
// clientIp, this counts requests in flight per client, which equals its busy connections for HTTP/1.1 and
// still works behind a trusted proxy (whose own socket would otherwise count as one client).

type RateLimitOptions = {
  /** Sustained rate: tokens added per second. */
  ratePerSecond: number;
  /** Bucket size: requests allowed at once after a quiet period. */
  burst: number;
  /** Milliseconds, e.g. Date.now. */
  now: () => number;
  /** Most keys tracked; beyond it the least recently seen key is forgotten. Default 100 000. */
  maxKeys?: number;
};

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

/** A lease's answer: tokens granted (0: none left), and when there is none, milliseconds until one is. */
export type LeaseResult = { granted: number; retryAfterMs: number };

/** `held`: tokens leased to each holder (an edge worker) and not yet settled. */
type Bucket = { tokens: number; at: number; held: Map<number, number> | undefined };

/** How many idle buckets each take() looks at for eviction (amortised O(1) clean-up). */
const SWEEP_PER_TAKE = 2;

/**
 * Token bucket per key. A bucket that has been idle long enough to refill completely is the same as a
 * new one, so it can be dropped without changing any answer; take() drops such buckets from the
 * least-recently-used end as it goes. If more than `maxKeys` keys are active at once, the least recently
 * seen one is forgotten and starts again with a full bucket: under a flood of addresses the limiter fails
 * open for the oldest clients rather than use unbounded memory or lock everyone out.
 *
 * Leases (several edge workers sharing one bucket): lease() hands a holder up to n tokens at once, to
 * spend without asking again, and settle() ends the holder's lease, returning what it did not spend.
 * Tokens out on lease count as taken, and the bucket refills only up to burst minus them, so what the
 * holders can spend and what is left in the bucket never add up to more than the burst: leasing
 * changes when the count is asked for, never how many requests pass.
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #refillMs: number;
  /** Map order is least recently used first (a key is re-inserted on every take). */
  readonly #buckets = new Map<string, Bucket>();

  constructor(opts: RateLimitOptions) {
    if (!(opts.ratePerSecond > 0) || !Number.isFinite(opts.ratePerSecond)) throw new RangeError(`ratePerSecond must be a positive number, got ${opts.ratePerSecond}`);
    if (!(opts.burst >= 1) || !Number.isFinite(opts.burst)) throw new RangeError(`burst must be at least 1, got ${opts.burst}`);
    const maxKeys = opts.maxKeys ?? 100_000;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
    this.#rate = opts.ratePerSecond;
    this.#burst = opts.burst;
    this.#now = opts.now;
    this.#maxKeys = maxKeys;
    this.#refillMs = (opts.burst / opts.ratePerSecond) * 1000;
  }

  get burst(): number {
    return this.#burst;
  }

  /** Takes one token for `key`. When none is left, says how many whole seconds until one is. */
  take(key: string): TakeResult {
    const now = this.#now();
    const bucket = this.#refill(key, now);
    let result: TakeResult;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      result = { ok: true };
    } else {
      // RFC 9110 §10.2.3: Retry-After is a delay-seconds integer; round up so a client that obeys it succeeds.
      result = { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.#rate)) };
    }
    this.#keep(key, bucket);
    return result;
  }

  /** Up to `want` whole tokens for `holder` to spend on `key`'s requests; settle() ends the lease. */
  lease(key: string, holder: number, want: number): LeaseResult {
    const now = this.#now();
    const bucket = this.#refill(key, now);
    const granted = Math.max(0, Math.min(Math.floor(want), Math.floor(bucket.tokens)));
    let result: LeaseResult;
    if (granted > 0) {
      bucket.tokens -= granted;
      bucket.held ??= new Map();
      bucket.held.set(holder, (bucket.held.get(holder) ?? 0) + granted);
      result = { granted, retryAfterMs: 0 };
    } else {
      result = { granted: 0, retryAfterMs: Math.max(1, Math.ceil(((1 - bucket.tokens) / this.#rate) * 1000)) };
    }
    this.#keep(key, bucket);
    return result;
  }

  /** Ends `holder`'s lease on `key`: `unused` of its tokens go back to the bucket, the rest were spent. */
  settle(key: string, holder: number, unused: number): void {
    const bucket = this.#buckets.get(key);
    const held = bucket?.held?.get(holder);
    if (!bucket || held === undefined) return; // forgotten, or nothing leased
    this.#refill(key, this.#now(), bucket);
    bucket.held!.delete(holder);
    if (bucket.held!.size === 0) bucket.held = undefined;
    const back = Math.max(0, Math.min(held, Math.floor(unused)));
    bucket.tokens = Math.min(this.#burst - outstanding(bucket), bucket.tokens + back);
  }

  /** A holder is gone (a worker died): what it held counts as spent. */
  dropHolder(holder: number): void {
    for (const bucket of this.#buckets.values()) {
      if (!bucket.held?.delete(holder)) continue;
      if (bucket.held.size === 0) bucket.held = undefined;
    }
  }

  /** Keys currently tracked (for tests and the stats page). */
  get size(): number {
    return this.#buckets.size;
  }

  /** `key`'s bucket brought up to `now` (taken out of the map when it was in it; #keep puts it back last). */
  #refill(key: string, now: number, known?: Bucket): Bucket {
    const bucket = known ?? this.#buckets.get(key);
    if (!bucket) {
      this.#sweep(now);
      return { tokens: this.#burst, at: now, held: undefined };
    }
    if (!known) this.#buckets.delete(key);
    // A clock that steps back refills nothing (rather than draining the bucket).
    bucket.tokens = Math.min(this.#burst - outstanding(bucket), bucket.tokens + (Math.max(0, now - bucket.at) * this.#rate) / 1000);
    bucket.at = now;
    if (!known) this.#sweep(now);
    return bucket;
  }

  #keep(key: string, bucket: Bucket): void {
    this.#buckets.set(key, bucket);
    while (this.#buckets.size > this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
  }

  #sweep(now: number): void {
    let n = 0;
    for (const [key, b] of this.#buckets) {
      if (n++ >= SWEEP_PER_TAKE || now - b.at < this.#refillMs) return;
      this.#buckets.delete(key);
      // A bucket with tokens out on lease is not a new one (its holders settle against it): kept, as recent.
      if (b.held) this.#buckets.set(key, b);
    }
  }
}

function outstanding(bucket: Bucket): number {
  if (!bucket.held) return 0;
  let n = 0;
  for (const v of bucket.held.values()) n += v;
  return n;
}

type ReleaseConnection = () => void;

/**
 * At most `maxPerKey` concurrent holders per key. Keys with no holder are not stored, so memory is
 * bounded by the number of open connections. The release function is idempotent, so calling it from
 * both 'close' and 'error' handlers is safe.
 */
export class ConnectionLimiter {
  readonly #max: number;
  readonly #counts = new Map<string, number>();

  constructor(opts: { maxPerKey: number }) {
    if (!Number.isInteger(opts.maxPerKey) || opts.maxPerKey < 1) throw new RangeError(`maxPerKey must be a positive integer, got ${opts.maxPerKey}`);
    this.#max = opts.maxPerKey;
  }

  /** A release function, or undefined when `key` already holds the maximum. */
  acquire(key: string): ReleaseConnection | undefined {
    const n = this.#counts.get(key) ?? 0;
    if (n >= this.#max) return undefined;
    this.#counts.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#counts.get(key) ?? 1) - 1;
      if (left <= 0) this.#counts.delete(key);
      else this.#counts.set(key, left);
    };
  }

  count(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  /** Keys holding at least one connection. */
  get size(): number {
    return this.#counts.size;
  }
}
