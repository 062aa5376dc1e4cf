// A worker's side of a multi-process edge: its line to the primary, which holds what the workers
// share (fill locks, rate-limit counters, the purge log position, the whole edge's statistics) and
// relays what each worker must learn from the others (disk tier writes and drops, purges).
import type { PurgeSelector } from '../cache/cache.ts';
import { PrimaryTimeoutError } from '../errors.ts';
import { realTimers } from '../../server/timers.ts';
import type { Timers } from '../../server/timers.ts';
import type { DiskEvent } from '../cache/disk-store.ts';
import type { EntryMeta } from '../cache/store.ts';
import type { LeaseResult } from '../limits/rate-limit.ts';
import type { StatsSnapshot } from '../stats/figures.ts';
import { isToWorker } from './protocol.ts';
import type { LockReply, ToPrimary, ToWorker } from './protocol.ts';

/** A fill another worker is making, streamed from its spool file while it arrives. */
export type SharedFill = {
  meta: EntryMeta;
  spool: string;
  /** How much of the body the spool holds. */
  bytes: number;
  /** undefined while the fill goes on; true: complete (`bytes` is the whole body); false: it will not complete. */
  ended: boolean | undefined;
  /** Called after every change of `bytes` or `ended`. */
  onChange: (() => void) | undefined;
};

/** The right to fill a key for the whole edge: the filler tells the others about its fill through it. */
export type LeaderLock = {
  leader: true;
  /** Ends the lock: waiters look the key up again. */
  release: () => void;
  /** The response is storable: other workers may stream it; `onWanted` runs (once) when one waits. */
  share: (meta: EntryMeta, onWanted: () => void) => void;
  /** The first `bytes` of the body are in the file `spool`. */
  progress: (spool: string, bytes: number) => void;
  /** The spooled body is complete (true) or will not be (false). */
  end: (ok: boolean) => void;
};

/**
 * Another worker fills the key: `filling` gives its body to stream once it is known to be storable
 * (undefined when it will not be shared); `released` settles when the fill is over.
 */
export type WaiterLock = { leader: false; released: Promise<void>; filling: Promise<SharedFill | undefined> };

export type MachineLock = LeaderLock | WaiterLock;

type Wait = { release: () => void; filling: (f: SharedFill | undefined) => void; fill: SharedFill | undefined; timer: unknown };

/** What this worker does for the others: apply a purge, report its figures, index another's disk write. */
export type WorkerServices = {
  applyPurge: (selector: PurgeSelector) => Promise<number>;
  snapshot: () => StatsSnapshot;
  disk: (e: DiskEvent) => void;
};

type Send = (m: ToPrimary) => void;

/**
 * How long a worker waits for the primary. A request path question (fill lock, rate-limit lease,
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
  /** Lock requests that were not granted, until the fill they wait for is over. */
  readonly #waits = new Map<number, Wait>();
  /** Keys this worker fills, with what to do when another worker waits for one. */
  readonly #leading = new Map<string, () => void>();
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
        const w = this.#waits.get(msg.id);
        if (!w) return;
        this.#endWait(msg.id, w);
        return;
      }
      case 'wanted': {
        const wanted = this.#leading.get(msg.key);
        if (!wanted) return;
        this.#leading.set(msg.key, () => {}); // once
        wanted();
        return;
      }
      case 'filling': {
        const w = this.#waits.get(msg.id);
        if (!w || w.fill || typeof msg.meta !== 'object' || msg.meta === null || typeof msg.spool !== 'string' || typeof msg.bytes !== 'number') return;
        this.#extend(msg.id, w);
        w.fill = { meta: msg.meta, spool: msg.spool, bytes: msg.bytes, ended: undefined, onChange: undefined };
        w.filling(w.fill);
        return;
      }
      case 'fill-progress': {
        const w = this.#waits.get(msg.id);
        if (!w?.fill || w.fill.ended !== undefined || typeof msg.bytes !== 'number') return;
        this.#extend(msg.id, w);
        w.fill.bytes = msg.bytes;
        w.fill.onChange?.();
        return;
      }
      case 'fill-end': {
        const w = this.#waits.get(msg.id);
        if (!w) return;
        if (!w.fill) return w.filling(undefined);
        if (w.fill.ended !== undefined) return;
        w.fill.ended = msg.ok === true;
        w.fill.onChange?.();
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
    // come (a stuck primary), the waiter stops waiting after the control deadline (counted from the
    // last news of the fill) and fetches itself.
    let wait!: Wait;
    const released = new Promise<void>((resolve) => {
      wait = { release: resolve, filling: () => {}, fill: undefined, timer: undefined };
    });
    const filling = new Promise<SharedFill | undefined>((resolve) => {
      wait.filling = resolve;
    });
    this.#waits.set(id, wait);
    this.#extend(id, wait);
    const reply = (await this.#ask({ edge: 'lock', id, key }, 'request').catch(() => undefined)) as LockReply | undefined;
    if (reply?.leader !== false) {
      this.#endWait(id, wait); // nobody waits on it; this clears its deadline
      return this.#leaderLock(key);
    }
    return { leader: false, released, filling };
  }

  #leaderLock(key: string): LeaderLock {
    let done = false;
    return {
      leader: true,
      release: () => {
        if (done) return;
        done = true;
        this.#leading.delete(key);
        this.#send({ edge: 'unlock', key });
      },
      share: (meta, onWanted) => {
        if (done) return;
        this.#leading.set(key, onWanted);
        this.#send({ edge: 'fill-start', key, meta });
      },
      progress: (spool, bytes) => {
        if (!done) this.#send({ edge: 'fill-progress', key, spool, bytes });
      },
      end: (ok) => {
        if (!done) this.#send({ edge: 'fill-end', key, ok });
      },
    };
  }

  /** (Re)starts a wait's deadline. */
  #extend(id: number, w: Wait): void {
    if (w.timer !== undefined) this.#timers.clearTimeout(w.timer);
    w.timer = this.#timers.setTimeout(() => this.#endWait(id, w), this.#timeouts.control);
  }

  /** The fill a wait was for is over (or no longer awaited): a stream still open from it ends short. */
  #endWait(id: number, w: Wait): void {
    this.#waits.delete(id);
    if (w.timer !== undefined) this.#timers.clearTimeout(w.timer);
    w.timer = undefined;
    if (w.fill && w.fill.ended === undefined) {
      w.fill.ended = false;
      w.fill.onChange?.();
    }
    w.filling(undefined);
    w.release();
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

  /**
   * A lease of `zone`'s rate limit for `ip` (the bucket is the primary's, shared by every worker),
   * settling this worker's previous one with `unused` tokens back; undefined when the primary did not
   * answer in time (the request then passes: fail open).
   */
  async lease(zone: string, ip: string, unused: number): Promise<LeaseResult | undefined> {
    const r = await this.#ask({ edge: 'lease', id: ++this.#next, zone, ip, unused }, 'request').catch(() => undefined);
    return isLeaseResult(r) ? r : undefined;
  }

  /** Ends this worker's lease of `zone`'s rate limit for `ip`, with `unused` tokens back. */
  settle(zone: string, ip: string, unused: number): void {
    this.#send({ edge: 'settle', zone, ip, unused });
  }

  /** Tells the others about a write or drop in the shared disk tier. */
  shareDisk(event: DiskEvent): void {
    this.#send({ edge: 'disk', event });
  }

  /** Whether requests pass the gate now (gate() would be undefined). */
  get open(): boolean {
    return this.#inStep;
  }

  /** undefined when in step with the purge log; else settles after the primary's catch-up was tried. */
  gate(): Promise<unknown> | undefined {
    if (this.#inStep) return undefined;
    return this.#ask({ edge: 'catch-up', id: ++this.#next }, 'request').catch(() => undefined);
  }
}

function isLeaseResult(v: unknown): v is LeaseResult {
  return typeof v === 'object' && v !== null && typeof (v as LeaseResult).granted === 'number' && typeof (v as LeaseResult).retryAfterMs === 'number';
}
