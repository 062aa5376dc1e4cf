// Request coalescing: concurrent misses for one cache key share one upstream fetch. The first caller
// (the leader) runs the fetch; followers get the same result. The key stays joinable until the leader
// releases it (after the body is stored), so late arrivals join the fill instead of starting another.
// A flight whose result does not settle within the timeout is abandoned: followers get an error and
// the key is free again, so a stalled origin cannot hang them.

export type Joined<T> = { leader: boolean; result: Promise<T> };

type Flight<T> = { promise: Promise<T>; settled: boolean; timer: NodeJS.Timeout | undefined };

export type CoalescerOptions = {
  /** Longest wait for a flight's result (e.g. the response head), in ms. */
  timeoutMs: number;
  /** The error followers get when the timeout fires. */
  timeoutError: (key: string) => Error;
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

  has(key: string): boolean {
    return this.#flights.has(key);
  }

  /**
   * Joins the flight for `key`, or starts one with `start(release)`. The leader must call `release()`
   * once newcomers should no longer join (the body is stored, or the result is not shareable); a
   * rejected result releases by itself.
   */
  join(key: string, start: (release: () => void) => Promise<T>): Joined<T> {
    const current = this.#flights.get(key);
    if (current) return { leader: false, result: this.#withTimeout(key, current) };
    let flight: Flight<T>;
    const release = () => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
      if (flight.timer) clearTimeout(flight.timer);
    };
    const promise = Promise.resolve().then(() => start(release));
    flight = { promise, settled: false, timer: undefined };
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
