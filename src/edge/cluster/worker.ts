// A worker's side of a multi-process edge: its line to the primary, which holds what the workers
// share (fill locks, rate-limit counters, the purge log position, the whole edge's statistics) and
// relays what each worker must learn from the others (disk tier writes and drops, purges).
import type { PurgeSelector } from '../cache/cache.ts';
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

export class WorkerLink {
  /** This worker's number (1…n), shown in the X-Edge-Worker response field. */
  readonly index: number;
  readonly #send: Send;
  #next = 0;
  readonly #replies = new Map<number, (value: unknown) => void>();
  readonly #released = new Map<number, () => void>();
  #services: WorkerServices | undefined;
  #inStep: boolean;

  constructor(opts: { index: number; inStep: boolean; send?: Send }) {
    this.index = opts.index;
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

  #ask(m: ToPrimary & { id: number }): Promise<unknown> {
    return new Promise((resolve) => {
      this.#replies.set(m.id, resolve);
      this.#send(m);
    });
  }

  /** The right to fill `key` for the whole edge (one fill per key per machine). */
  async lock(key: string): Promise<MachineLock> {
    const id = ++this.#next;
    const released = new Promise<void>((resolve) => this.#released.set(id, resolve));
    const reply = (await this.#ask({ edge: 'lock', id, key })) as LockReply | undefined;
    if (reply?.leader !== false) {
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
    const removed = await this.#ask({ edge: 'purge', id: ++this.#next, selector });
    return typeof removed === 'number' ? removed : 0;
  }

  /** The whole edge's statistics. */
  async stats(): Promise<StatsSnapshot> {
    return (await this.#ask({ edge: 'stats', id: ++this.#next })) as StatsSnapshot;
  }

  /** One token of `zone`'s rate limit for `ip`, counted by the primary for every worker. */
  async take(zone: string, ip: string): Promise<TakeResult> {
    const r = (await this.#ask({ edge: 'take', id: ++this.#next, zone, ip })) as TakeResult | undefined;
    return r ?? { ok: true };
  }

  /** Tells the others about a write or drop in the shared disk tier. */
  shareDisk(event: DiskEvent): void {
    this.#send({ edge: 'disk', event });
  }

  /** undefined when in step with the purge log; else settles after the primary's catch-up was tried. */
  gate(): Promise<unknown> | undefined {
    if (this.#inStep) return undefined;
    return this.#ask({ edge: 'catch-up', id: ++this.#next });
  }
}
