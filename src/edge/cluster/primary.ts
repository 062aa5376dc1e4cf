// The primary process of a multi-process edge. It serves no request itself; it holds what must be
// counted once for the machine and answers its workers over IPC:
//   - fill locks: the first worker to miss a key fills it, the others wait for its end (one origin
//     fetch per key per machine) and then find the object in the shared disk tier; meanwhile, once
//     the response is known to be storable, they stream its body from the filler's spool file as it
//     arrives (the primary relays the filler's progress);
//   - the rate-limit buckets of every zone (a client's requests counted once, whichever worker), lent
//     to the workers a few tokens at a time (limits/lease.ts);
//   - purges: sent to every worker, answered when all applied it;
//   - statistics: every worker's figures merged (plus those saved by earlier runs, and those of
//     workers that died since), saved to the statistics file;
//   - the purge log position (its catch-up runs here, once for all workers).
// It also relays each worker's disk-tier writes and drops to the others.
import type { PurgeSelector } from '../cache/cache.ts';
import type { EntryMeta } from '../cache/store.ts';
import { RateLimiter } from '../limits/rate-limit.ts';
import type { LeaseResult } from '../limits/rate-limit.ts';
import { EdgeStats } from '../stats/counting.ts';
import type { StatsSnapshot } from '../stats/figures.ts';
import { isProcessSample, sampleProcess } from '../stats/process.ts';
import type { ProcessSample } from '../stats/process.ts';
import { isToPrimary } from './protocol.ts';
import type { ToPrimary, ToWorker } from './protocol.ts';

/** One worker as the primary sees it. */
export type Peer = { id: number; send: (m: ToWorker) => void };

export type EdgePrimaryOptions = {
  now: () => number;
  /** Zones with a rate limit: requests per second and burst. */
  rateLimits: ReadonlyArray<{ zone: string; requestsPerSecond: number; burst: number }>;
  maxZones: number;
  /** A fill lock not released in this time is given up (its waiters fetch for themselves). */
  lockTimeoutMs: number;
  /** The purge log gate: undefined when in step, else a promise settled once a catch-up was tried. */
  catchUp?: () => Promise<unknown> | undefined;
  /** After a purge sent to the edge directly: the purge log catch-up that takes in the log's copy of it. */
  afterDirectPurge?: () => Promise<void>;
  onWarning?: (message: string) => void;
};

/** A fill in progress as its waiters see it: the response, and how much of its body its spool holds. */
type SharedFill = { meta: EntryMeta; spool: string | undefined; bytes: number; ended: boolean | undefined; wanted: boolean };

type Waiter = { peer: Peer; id: number; told: boolean };

type Lock = { key: string; owner: number; waiters: Waiter[]; timer: NodeJS.Timeout; fill: SharedFill | undefined };

type Gathering = { answers: Map<number, unknown>; waiting: Set<number>; done: (answers: Map<number, unknown>) => void };

export class EdgePrimary {
  readonly #o: EdgePrimaryOptions;
  readonly #peers = new Map<number, Peer>();
  readonly #ready = new Set<number>();
  readonly #locks = new Map<string, Lock>();
  readonly #limits = new Map<string, RateLimiter>();
  /** Requests to workers awaiting every answer (purges, snapshots), by request id. */
  readonly #gatherings = new Map<number, Gathering>();
  #next = 0;
  /** Figures saved by earlier runs and those of workers that died since. */
  readonly #base: EdgeStats;
  /** Each worker's last reported figures, added to the base when it dies. */
  readonly #last = new Map<number, StatsSnapshot>();

  constructor(o: EdgePrimaryOptions) {
    this.#o = o;
    this.#base = new EdgeStats({ now: o.now, maxZones: o.maxZones, onWarning: o.onWarning });
    for (const r of o.rateLimits) this.#limits.set(r.zone, new RateLimiter({ ratePerSecond: r.requestsPerSecond, burst: r.burst, now: o.now }));
  }

  /** Figures saved by an earlier run (the statistics file). */
  async loadStats(file: string): Promise<void> {
    await this.#base.load(file);
  }

  add(peer: Peer): void {
    this.#peers.set(peer.id, peer);
  }

  /** Workers ready to serve. */
  get readyCount(): number {
    return this.#ready.size;
  }

  /** A worker is gone: its locks are released, its answers no longer awaited, its figures kept. */
  remove(id: number): void {
    const peer = this.#peers.get(id);
    this.#peers.delete(id);
    this.#ready.delete(id);
    const last = this.#last.get(id);
    if (last) this.#base.merge(last);
    this.#last.delete(id);
    for (const [key, lock] of this.#locks) {
      if (lock.owner !== id) continue;
      // Its fill stops here: waiters streaming it learn that it will not complete.
      if (lock.fill && lock.fill.ended === undefined) this.#fillNews(lock, peer ?? { id, send: () => {} }, { edge: 'fill-end', key, ok: false });
      this.#unlock(key);
    }
    for (const limiter of this.#limits.values()) limiter.dropHolder(id);
    for (const lock of this.#locks.values()) lock.waiters = lock.waiters.filter((w) => w.peer.id !== id);
    for (const g of this.#gatherings.values()) this.#answered(g, id, undefined, false);
  }

  /** A message from a worker. */
  receive(id: number, m: unknown): void {
    const peer = this.#peers.get(id);
    if (!peer || !isToPrimary(m)) return;
    const msg: ToPrimary = m;
    switch (msg.edge) {
      case 'ready':
        this.#ready.add(id);
        return;
      case 'lock':
        return this.#lock(peer, msg.id, msg.key);
      case 'unlock':
        if (this.#locks.get(msg.key)?.owner === id) this.#unlock(msg.key);
        return;
      case 'fill-start':
      case 'fill-progress':
      case 'fill-end': {
        const lock = this.#locks.get(msg.key);
        if (lock?.owner === id) this.#fillNews(lock, peer, msg);
        return;
      }
      case 'disk':
        for (const p of this.#peers.values()) if (p.id !== id) p.send({ edge: 'disk', event: msg.event });
        return;
      case 'purge':
        // A purge sent to the edge directly; then the purge log's copy of it (see PurgeSync.afterDirectPurge).
        void this.purgeAll(msg.selector).then(async (removed) => {
          await this.#o.afterDirectPurge?.();
          peer.send({ edge: 'reply', id: msg.id, value: removed });
        });
        return;
      case 'stats':
        void this.stats().then((s) => peer.send({ edge: 'reply', id: msg.id, value: s }));
        return;
      case 'lease':
        peer.send({ edge: 'reply', id: msg.id, value: this.lease(id, msg.zone, msg.ip, msg.unused) });
        return;
      case 'settle':
        this.#limits.get(msg.zone)?.settle(String(msg.ip), id, tokens(msg.unused));
        return;
      case 'catch-up': {
        const wait = this.#o.catchUp?.();
        const reply = () => peer.send({ edge: 'reply', id: msg.id, value: true });
        if (wait === undefined) reply();
        else void wait.then(reply, reply);
        return;
      }
      case 'reply': {
        const g = this.#gatherings.get(msg.id);
        if (g) this.#answered(g, id, msg.value, true);
        return;
      }
    }
  }

  /**
   * Worker `holder`'s lease of `zone`'s rate limit for `ip`, after settling its previous one. A lease is
   * at most a 2n-th of the burst (n workers), so a client's tokens are not all parked in one worker
   * while it talks to another.
   */
  lease(holder: number, zone: string, ip: string, unused: number): LeaseResult {
    const limiter = this.#limits.get(zone);
    if (!limiter) return { granted: 1, retryAfterMs: 0 }; // no limit (a zone this primary does not know)
    const key = String(ip);
    limiter.settle(key, holder, tokens(unused));
    return limiter.lease(key, holder, Math.max(1, Math.floor(limiter.burst / (2 * Math.max(1, this.#peers.size)))));
  }

  /**
   * Applies a purge in every ready worker; resolves when all did (a worker that dies meanwhile counts
   * as done: a new one starts with an empty memory tier and reads the disk as it is now). The count is
   * the most variants one worker removed (the disk tier is shared, so a sum would count it n times).
   */
  async purgeAll(selector: PurgeSelector): Promise<number> {
    const answers = await this.#gather((id) => ({ edge: 'apply-purge', id, selector }));
    let most = 0;
    for (const v of answers.values()) if (typeof v === 'number' && v > most) most = v;
    return most;
  }

  /** The whole edge's figures (every ready worker's, plus the base) and the memory of each of its processes. */
  async stats(): Promise<StatsSnapshot> {
    const answers = await this.#gather((id) => ({ edge: 'snapshot', id }));
    const merged = new EdgeStats({ now: this.#o.now, maxZones: this.#o.maxZones, onWarning: this.#o.onWarning });
    merged.merge(this.#base.snapshot());
    const processes: ProcessSample[] = [sampleProcess('primary', undefined, undefined)];
    for (const [worker, s] of answers) {
      if (!isSnapshot(s)) continue;
      // A worker's memory is the edge's now, not a figure to keep: only the counters are kept.
      const { processes: own, ...figures } = s;
      this.#last.set(worker, figures);
      merged.merge(figures);
      for (const p of Array.isArray(own) ? own : []) if (isProcessSample(p)) processes.push(p);
    }
    processes.sort((a, b) => (a.worker ?? 0) - (b.worker ?? 0));
    return { ...merged.snapshot(), processes };
  }

  /** Tells every worker whether requests must wait for a purge log catch-up. */
  setInStep(value: boolean): void {
    for (const p of this.#peers.values()) p.send({ edge: 'in-step', value });
  }

  #gather(make: (id: number) => ToWorker): Promise<Map<number, unknown>> {
    const id = ++this.#next;
    return new Promise((resolve) => {
      const g: Gathering = { answers: new Map(), waiting: new Set(this.#ready), done: resolve };
      if (g.waiting.size === 0) return resolve(g.answers);
      this.#gatherings.set(id, g);
      const msg = make(id);
      for (const w of [...g.waiting]) this.#peers.get(w)?.send(msg);
    }).finally(() => this.#gatherings.delete(id)) as Promise<Map<number, unknown>>;
  }

  #answered(g: Gathering, worker: number, value: unknown, keep: boolean): void {
    if (!g.waiting.delete(worker)) return;
    if (keep) g.answers.set(worker, value);
    if (g.waiting.size === 0) g.done(g.answers);
  }

  #lock(peer: Peer, id: number, key: string): void {
    const held = this.#locks.get(key);
    if (held) {
      const waiter: Waiter = { peer, id, told: false };
      held.waiters.push(waiter);
      peer.send({ edge: 'reply', id, value: { leader: false } });
      if (held.fill) {
        this.#want(held);
        this.#tell(held.fill, waiter);
      }
      return;
    }
    const timer = setTimeout(() => this.#unlock(key), this.#o.lockTimeoutMs);
    timer.unref();
    this.#locks.set(key, { key, owner: peer.id, waiters: [], timer, fill: undefined });
    peer.send({ edge: 'reply', id, value: { leader: true } });
  }

  /** What the filler says about its fill, passed on to the waiters. */
  #fillNews(lock: Lock, owner: Peer, msg: Extract<ToPrimary, { edge: 'fill-start' | 'fill-progress' | 'fill-end' }>): void {
    if (msg.edge === 'fill-start') {
      if (lock.fill || typeof msg.meta !== 'object' || msg.meta === null) return;
      lock.fill = { meta: msg.meta, spool: undefined, bytes: 0, ended: undefined, wanted: false };
      if (lock.waiters.length > 0) this.#want(lock, owner);
      return;
    }
    const fill = lock.fill;
    if (!fill || fill.ended !== undefined) return;
    if (msg.edge === 'fill-progress') {
      if (typeof msg.spool !== 'string' || !(typeof msg.bytes === 'number' && msg.bytes >= fill.bytes)) return;
      fill.spool = msg.spool;
      fill.bytes = msg.bytes;
      // A fill that makes progress keeps its lock: the timeout is for a filler that went silent.
      lock.timer.refresh();
    } else {
      fill.ended = msg.ok === true;
    }
    for (const w of lock.waiters) this.#tell(fill, w);
  }

  /** Asks the filler (once) to spool its body for waiters in other workers. */
  #want(lock: Lock, owner = this.#peers.get(lock.owner)): void {
    if (!lock.fill || lock.fill.wanted) return;
    lock.fill.wanted = true;
    owner?.send({ edge: 'wanted', key: lock.key });
  }

  /** Brings one waiter up to date with a shared fill. */
  #tell(fill: SharedFill, w: Waiter): void {
    if (fill.spool === undefined) {
      if (fill.ended === false) w.peer.send({ edge: 'fill-end', id: w.id, ok: false });
      return;
    }
    if (!w.told) {
      w.told = true;
      w.peer.send({ edge: 'filling', id: w.id, meta: fill.meta, spool: fill.spool, bytes: fill.bytes });
    } else if (fill.ended === undefined) {
      w.peer.send({ edge: 'fill-progress', id: w.id, bytes: fill.bytes });
    }
    if (fill.ended !== undefined) w.peer.send({ edge: 'fill-end', id: w.id, ok: fill.ended });
  }

  #unlock(key: string): void {
    const lock = this.#locks.get(key);
    if (!lock) return;
    this.#locks.delete(key);
    clearTimeout(lock.timer);
    for (const w of lock.waiters) w.peer.send({ edge: 'released', id: w.id });
  }
}

/** A token count from a message: a finite number, else none. */
function tokens(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function isSnapshot(v: unknown): v is StatsSnapshot {
  return typeof v === 'object' && v !== null && typeof (v as StatsSnapshot).zones === 'object';
}
