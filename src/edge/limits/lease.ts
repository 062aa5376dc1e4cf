// A zone's rate limit in one worker of a multi-process edge. The count is the primary's (one bucket
// per client for the whole machine, RateLimiter), but asking it on every request costs a round trip
// over IPC. Instead a worker asks for a lease of a few tokens and spends them here, without asking;
// a refusal is remembered until the moment the primary said a token would be back. A lease lasts
// LEASE_MS: then what is left of it is settled (handed back), so tokens do not sit in a worker the
// client no longer talks to. Tokens on lease count as taken in the primary's bucket, so no client
// gets more than one bucket's worth across the workers. What that costs: a worker may refuse while
// another still holds a few of the client's tokens, and a lease partly spent holds back the refill of
// what was spent, both for at most LEASE_MS; a lease spent in full is settled at once.
import type { Timers } from '../../server/timers.ts';
import type { LeaseResult, TakeResult } from './rate-limit.ts';

/** How long a worker may spend a lease before it settles what is left. */
export const LEASE_MS = 1_000;

/** The worker's questions to the primary for one zone. */
export type LeaseLine = {
  /** Settles this worker's previous lease for `ip` (`unused` tokens back) and asks for a new one; undefined: no answer in time. */
  lease: (ip: string, unused: number) => Promise<LeaseResult | undefined>;
  /** Ends this worker's lease for `ip`, handing `unused` tokens back. */
  settle: (ip: string, unused: number) => void;
};

type Lease = {
  tokens: number;
  expires: number;
  /** The primary counts a lease of this worker for the client (spent or not) until it is settled. */
  leased: boolean;
  deniedUntil: number;
  /** The question in flight; resolves false when the primary did not answer (fail open). */
  asking: Promise<boolean> | undefined;
};

const OK: TakeResult = { ok: true };

export class LeasedRateLimiter {
  readonly #line: LeaseLine;
  readonly #timers: Timers;
  readonly #maxKeys: number;
  /** Least recently used first. */
  readonly #leases = new Map<string, Lease>();
  #sweepTimer: unknown;

  constructor(opts: { line: LeaseLine; timers: Timers; maxKeys?: number }) {
    this.#line = opts.line;
    this.#timers = opts.timers;
    this.#maxKeys = opts.maxKeys ?? 100_000;
  }

  take(ip: string): TakeResult | Promise<TakeResult> {
    const now = this.#timers.now();
    let e = this.#leases.get(ip);
    if (e === undefined) {
      e = { tokens: 0, expires: 0, leased: false, deniedUntil: 0, asking: undefined };
      this.#leases.set(ip, e);
      if (this.#leases.size > this.#maxKeys) this.#forget(this.#leases.keys().next().value!);
      this.#schedule();
    } else {
      this.#leases.delete(ip);
      this.#leases.set(ip, e);
    }
    if (e.tokens > 0 && now < e.expires) {
      e.tokens -= 1;
      // A lease counts in full against the bucket until settled, holding back its refill: settled the
      // moment it is spent, a lease holds back nothing it no longer has.
      if (e.tokens === 0) this.#settle(ip, e);
      return OK;
    }
    if (now < e.deniedUntil) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((e.deniedUntil - now) / 1000)) };
    return this.#ask(ip, e);
  }

  /** Clients this worker tracks (tests). */
  get size(): number {
    return this.#leases.size;
  }

  #ask(ip: string, e: Lease): Promise<TakeResult> {
    if (e.asking === undefined) {
      // The question settles the previous lease: what is left of it (expired) goes back with it.
      const unused = e.tokens;
      e.tokens = 0;
      e.leased = false;
      e.asking = this.#line.lease(ip, unused).then((r) => {
        e.asking = undefined;
        if (r === undefined) return false;
        if (this.#leases.get(ip) !== e) {
          // Forgotten meanwhile (more clients than maxKeys): nobody will spend it.
          if (r.granted > 0) this.#line.settle(ip, r.granted);
          return true;
        }
        const now = this.#timers.now();
        if (r.granted > 0) {
          e.tokens = r.granted;
          e.expires = now + LEASE_MS;
          e.leased = true;
        } else {
          e.deniedUntil = now + r.retryAfterMs;
        }
        return true;
      });
    }
    // Every request that waited looks again: a token of the new lease, a refusal, or (tokens spent by
    // those ahead of it) another question.
    return e.asking.then((answered) => (answered ? this.take(ip) : OK));
  }

  #forget(ip: string): void {
    const e = this.#leases.get(ip);
    this.#leases.delete(ip);
    if (e) this.#settle(ip, e);
  }

  #settle(ip: string, e: Lease): void {
    if (!e.leased) return;
    this.#line.settle(ip, e.tokens);
    e.leased = false;
    e.tokens = 0;
  }

  #schedule(): void {
    if (this.#sweepTimer !== undefined) return;
    this.#sweepTimer = this.#timers.setTimeout(() => {
      this.#sweepTimer = undefined;
      this.#sweep();
    }, LEASE_MS);
  }

  /** Settles expired leases and drops clients with nothing left to remember. */
  #sweep(): void {
    const now = this.#timers.now();
    for (const [ip, e] of this.#leases) {
      if (e.asking !== undefined) continue;
      if (now >= e.expires) this.#settle(ip, e);
      if (!e.leased && now >= e.deniedUntil) this.#leases.delete(ip);
    }
    if (this.#leases.size > 0) this.#schedule();
  }
}
