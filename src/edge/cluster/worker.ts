// A worker's side of a multi-process edge: its line to the primary, which holds what the workers
// share (fill locks, rate-limit counters, the purge log position, the whole edge's statistics) and
// relays what each worker must learn from the others (disk tier writes and drops, purges).
import type { PurgeSelector } from '../cache/cache.ts';
import { PrimaryTimeoutError } from '../errors.ts';
import { realTimers } from '../../server/timers.ts';
import type { Timers } from '../../server/timers.ts';
import type { DiskEvent } from '../cache/disk-store.ts';
import type { TakeResult } from '../limits/rate-limit.ts';
import type { StatsSnapshot } from '../stats/figures.ts';
import { isToWorker } from './protocol.ts';
import type { LockReply, ToPrimary, ToWorker } from './protocol.ts';

/** The right to fill a key for the whole edge, or the promise of the leader's end. */
export type MachineLock = { leader: true; release: () => void } | { leader: false; released: Promise<void> };

/** What this worker does for the others: apply a purge, report its figures, index another's disk write. */
export type WorkerServices = {
  applyPurge: (selector: PurgeSelector) => Promise<number>;
  snapshot: () => StatsSnapshot;
  disk: (e: DiskEvent) => void;
};

type Send = (m: ToPrimary) => void;

/**
 * How long a worker waits for the primary. A request path question (fill lock, rate-limit token,
 * purge-log gate) gets a short deadline and then fails open: the fill goes alone, the request is not
 * counted, the gate opens (a stuck primary must not hang every client). An operator's question (purge,
 * statistics) waits longer and then fails with 503: a purge is not reported done on a guess.
 */
export const ASK_TIMEOUT_MS = { request: 5_000, control: 60_000 };

export class WorkerLink {
  /** This worker's number (1…n), shown in the X-Edge-Worker response field. */
  readonly index: number;
  readonly #send: Send;
  #next = 0;
  readonly #replies = new Map<number, (value: unknown) => void>();
  readonly #timeouts: { request: number; control: number };
  readonly #timers: Timers;
  readonly #released = new Map<number, () => void>();
  #services: WorkerServices | undefined;
  #inStep: boolean;

  constructor(opts: { index: number; inStep: boolean; send?: Send; timeoutsMs?: { request: number; control: number }; timers?: Timers }) {
    this.index = opts.index;
    this.#timeouts = opts.timeoutsMs ?? ASK_TIMEOUT_MS;
    this.#timers = opts.timers ?? realTimers;
    this.#inStep = opts.inStep;
    this.#send = opts.send ?? ((m) => {
      // The primary is gone (the worker is about to exit with it): requests fail open below.
      try {
        process.send?.(m);
      } catch {
        // nothing to tell
      }
    });
  }

  /** Listens to the primary (process messages). */
  static fromProcess(index: number, inStep: boolean): WorkerLink {
    const link = new WorkerLink({ index, inStep });
    process.on('message', (m: unknown) => link.receive(m));
    return link;
  }

  /** Starts answering the primary's requests, and tells it this worker is ready. */
  serve(services: WorkerServices): void {
    this.#services = services;
    this.#send({ edge: 'ready' });
  }

  receive(m: unknown): void {
    if (!isToWorker(m)) return;
    const msg: ToWorker = m;
    switch (msg.edge) {
      case 'reply': {
        const resolve = this.#replies.get(msg.id);
        this.#replies.delete(msg.id);
        resolve?.(msg.value);
        return;
      }
      case 'released': {
        const resolve = this.#released.get(msg.id);
        this.#released.delete(msg.id);
        resolve?.();
        return;
      }
      case 'disk':
        this.#services?.disk(msg.event);
        return;
      case 'in-step':
        this.#inStep = msg.value === true;
        return;
      case 'snapshot':
        this.#send({ edge: 'reply', id: msg.id, value: this.#services?.snapshot() });
        return;
      case 'apply-purge': {
        const applied = this.#services ? this.#services.applyPurge(msg.selector) : Promise.resolve(0);
        void applied.then(
          (removed) => this.#send({ edge: 'reply', id: msg.id, value: removed }),
          () => this.#send({ edge: 'reply', id: msg.id, value: 0 }),
        );
        return;
      }
    }
  }

  /** Sends a question to the primary; rejects with PrimaryTimeoutError when no reply came in time. */
  #ask(m: ToPrimary & { id: number }, kind: 'request' | 'control'): Promise<unknown> {
    const ms = this.#timeouts[kind];
    return new Promise((resolve, reject) => {
      const timer = this.#timers.setTimeout(() => {
        this.#replies.delete(m.id);
        reject(new PrimaryTimeoutError(m.edge, ms));
      }, ms);
      this.#replies.set(m.id, (value) => {
        this.#timers.clearTimeout(timer);
        resolve(value);
      });
      this.#send(m);
    });
  }

  /** Questions this worker still waits on (tests). */
  get waiting(): number {
    return this.#replies.size;
  }

  /** The right to fill `key` for the whole edge (one fill per key per machine). */
  async lock(key: string): Promise<MachineLock> {
    const id = ++this.#next;
    // The primary sends 'released' when the leader is done or its lock timed out; should that never
    // come (a stuck primary), the waiter stops waiting after the control deadline and fetches itself.
    const released = new Promise<void>((resolve) => {
      const timer = this.#timers.setTimeout(() => {
        this.#released.delete(id);
        resolve();
      }, this.#timeouts.control);
      this.#released.set(id, () => {
        this.#timers.clearTimeout(timer);
        resolve();
      });
    });
    const reply = (await this.#ask({ edge: 'lock', id, key }, 'request').catch(() => undefined)) as LockReply | undefined;
    if (reply?.leader !== false) {
      this.#released.get(id)?.(); // nobody waits on it; this clears its deadline
      this.#released.delete(id);
      let done = false;
      return {
        leader: true,
        release: () => {
          if (done) return;
          done = true;
          this.#send({ edge: 'unlock', key });
        },
      };
    }
    return { leader: false, released };
  }

  /** A purge applied by every worker; resolves with the variants removed once all did. */
  async purgeAll(selector: PurgeSelector): Promise<number> {
    const removed = await this.#ask({ edge: 'purge', id: ++this.#next, selector }, 'control');
    return typeof removed === 'number' ? removed : 0;
  }

  /** The whole edge's statistics. */
  async stats(): Promise<StatsSnapshot> {
    return (await this.#ask({ edge: 'stats', id: ++this.#next }, 'control')) as StatsSnapshot;
  }

  /** One token of `zone`'s rate limit for `ip`, counted by the primary for every worker. */
  async take(zone: string, ip: string): Promise<TakeResult> {
    const r = (await this.#ask({ edge: 'take', id: ++this.#next, zone, ip }, 'request').catch(() => undefined)) as TakeResult | undefined;
    return r ?? { ok: true };
  }

  /** Tells the others about a write or drop in the shared disk tier. */
  shareDisk(event: DiskEvent): void {
    this.#send({ edge: 'disk', event });
  }

  /** undefined when in step with the purge log; else settles after the primary's catch-up was tried. */
  gate(): Promise<unknown> | undefined {
    if (this.#inStep) return undefined;
    return this.#ask({ edge: 'catch-up', id: ++this.#next }, 'request').catch(() => undefined);
  }
}
