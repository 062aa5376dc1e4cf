// Injected timers for code that schedules work (health checks): time moves only when the test says so,
// and every callback due by then runs in order, with the promises it starts settled in between.
import type { Timers } from '../../src/server/timers.ts';

export type FakeTimers = Timers & {
  /** Moves the clock forward, running due callbacks one by one (letting their async work finish). */
  advance(ms: number): Promise<void>;
  pending(): number;
};

export function fakeTimers(start = 1_000_000): FakeTimers {
  let now = start;
  let seq = 0;
  const queue = new Map<number, { at: number; fn: () => void }>();
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
  };
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      queue.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(handle) {
      queue.delete(handle as number);
    },
    pending: () => queue.size,
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const e of queue) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e;
        if (!next) break;
        queue.delete(next[0]);
        now = Math.max(now, next[1].at);
        next[1].fn();
        await settle();
      }
      now = end;
    },
  };
}
