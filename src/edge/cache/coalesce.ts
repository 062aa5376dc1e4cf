// Request coalescing: concurrent misses for one cache key share one upstream fetch. The first caller
// (the leader) runs the fetch; followers get the same result. The key stays joinable until the leader
// releases it (after the body is stored), so late arrivals join the fill instead of starting another.
// A flight whose result does not settle within the timeout is abandoned: followers get an error and
// the key is free again, so a stalled origin cannot hang them. A flight superseded since it started
// (a purge covering its key) is not joined: a request that arrives after a purge never receives bytes
// fetched before it.

type Joined<T> = { leader: boolean; result: Promise<T> };

type Flight<T> = { promise: Promise<T>; settled: boolean; timer: NodeJS.Timeout | undefined; generation: number };

type CoalescerOptions = {
  /** Longest wait for a flight's result (e.g. the response head), in ms. */
  timeoutMs: number;
  /** The error followers get when the timeout fires. */
  timeoutError: (key: string) => Error;
  /** The current generation (e.g. the cache's purge epoch), noted by each flight when it starts. Default 0. */
  generation?: () => number;
  /**
   * Whether a flight for `key` started in generation `startedIn` is superseded: newcomers then start a
   * flight of their own, while the old one keeps serving the callers it already has. Default: any
   * generation change.
   */
  superseded?: (key: string, startedIn: number) => boolean;
};

export class Coalescer<T> {
  readonly #flights = new Map<string, Flight<T>>();
  readonly #opts: CoalescerOptions;

  constructor(opts: CoalescerOptions) {
    this.#opts = opts;
  }

  /** Number of keys in flight. */
  get size(): number {
    return this.#flights.size;
  }

  /** Whether a newcomer would join a flight for `key`. */
  has(key: string): boolean {
    const f = this.#flights.get(key);
    return f !== undefined && !this.#superseded(key, f);
  }

  #superseded(key: string, flight: Flight<T>): boolean {
    const now = this.#opts.generation?.() ?? 0;
    if (flight.generation === now) return false;
    return this.#opts.superseded ? this.#opts.superseded(key, flight.generation) : true;
  }

  /**
   * Joins the flight for `key`, or starts one with `start(release)`. The leader must call `release()`
   * once newcomers should no longer join (the body is stored, or the result is not shareable); a
   * rejected result releases by itself.
   */
  join(key: string, start: (release: () => void) => Promise<T>): Joined<T> {
    const current = this.#flights.get(key);
    if (current && !this.#superseded(key, current)) return { leader: false, result: this.#withTimeout(key, current) };
    const generation = this.#opts.generation?.() ?? 0;
    let flight: Flight<T>;
    const release = () => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
      if (flight.timer) clearTimeout(flight.timer);
    };
    const promise = Promise.resolve().then(() => start(release));
    flight = { promise, settled: false, timer: undefined, generation };
    this.#flights.set(key, flight);
    promise.then(
      () => {
        flight.settled = true;
        if (flight.timer) clearTimeout(flight.timer);
      },
      () => {
        flight.settled = true;
        release();
      },
    );
    flight.timer = setTimeout(() => {
      // Unsettled past the timeout: stop offering it to newcomers.
      if (!flight.settled) release();
    }, this.#opts.timeoutMs);
    flight.timer.unref();
    return { leader: true, result: promise };
  }

  #withTimeout(key: string, flight: Flight<T>): Promise<T> {
    if (flight.settled) return flight.promise;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(this.#opts.timeoutError(key)), this.#opts.timeoutMs);
      timer.unref();
      flight.promise.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }
}
