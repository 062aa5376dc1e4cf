// Keeps an edge in step with the purge log (GET /api/purges on the origin): the purges it missed while
// it was down or cut off are applied before it answers from its cache again. Its position in the log
// (the last sequence number applied) lives in the cache folder beside the disk tier, so it survives a
// restart together with the entries it describes.
//
// The gate: every zone request passes `gate()` first. While the edge is in step (the last poll
// succeeded) that is a synchronous no-op. After a failed poll, or at start, the request waits for one
// catch-up (shared by every request waiting) and is then served; when the log cannot be reached the
// request is served anyway (an edge that cannot reach its origin keeps serving what it holds, as
// stale-if-error does) and the next request tries again.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { z } from 'zod';
import type { PurgeSelector } from '../cache/cache.ts';
import { purgeRequestSchema, selectorOf, type ControlZone, type PurgeRequest } from './control.ts';
import { isControlUrl } from '../stages/recv.ts';
import type { RequestHandler } from '../stages/context.ts';

export type PurgeLogPage = { purges: { seq: number; target: PurgeRequest }[]; last: number; reset: boolean; more: boolean };

/** Reads the log after a position: over HTTP from the origin (`mediacdn edge`), or the database in-process (`mediacdn up`). */
export type PurgeLogSource = (after: number) => Promise<PurgeLogPage>;

const pageSchema = z
  .object({
    purges: z.array(z.object({ seq: z.number().int().min(0), target: purgeRequestSchema }).strict()).max(100_000),
    last: z.number().int().min(0),
    reset: z.boolean(),
    more: z.boolean(),
  })
  .strict();

/** /_mediacdn/… in origin form or absolute form: control requests (health, purge) never wait. */

const MAX_PAGE_BYTES = 16 * 1024 * 1024;

/** The origin's purge log over HTTP (`edge.purgeLogUrl`, e.g. http://origin:4000/api/purges), with the admin token. */
export function httpPurgeLog(url: string, token: string, timeoutMs: number): PurgeLogSource {
  return async (after) => {
    const res = await request(`${url}?after=${after}`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      // A fresh connection for each poll: one kept alive across a cut link is dead and fails the first read after it.
      reset: true,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const declared = Number(res.headers['content-length'] ?? 0);
    if (res.statusCode !== 200 || declared > MAX_PAGE_BYTES) {
      await res.body.dump();
      throw new Error(`purge log ${url} answered HTTP ${res.statusCode}${declared > MAX_PAGE_BYTES ? ` with ${declared} bytes` : ''}`);
    }
    const text = await res.body.text();
    if (text.length > MAX_PAGE_BYTES) throw new Error(`purge log ${url}: answer over ${MAX_PAGE_BYTES} bytes`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`purge log ${url}: answer is not JSON`);
    }
    const parsed = pageSchema.safeParse(json);
    if (!parsed.success) throw new Error(`purge log ${url}: unexpected answer (${parsed.error.issues[0]?.message ?? 'invalid'})`);
    return parsed.data;
  };
}

/**
 * A request handler behind a gate (`gate()`: undefined = pass now, else a promise to wait for): zone
 * requests pass it, control requests never wait. `waiting` is told +1 / -1 as requests wait and go.
 */
export function waitAtGate(
  gate: () => Promise<unknown> | undefined,
  handle: RequestHandler,
  waiting: (delta: number) => void = () => {},
): RequestHandler {
  return (req, res, stamp) => {
    const wait = isControlUrl(req.url ?? '') ? undefined : gate();
    if (wait === undefined) return handle(req, res, stamp);
    waiting(1);
    void wait.then(() => {
      waiting(-1);
      handle(req, res, stamp);
    });
  };
}

/** The saved position: a version, so that a later format is refused rather than misread. */
const stateSchema = z.object({ version: z.literal(1), seq: z.number().int().min(-1) }).strict();

export type PurgeSyncOptions = {
  source: PurgeLogSource;
  /** Where the position is kept (<cacheDir>/purge-log.json). */
  stateFile: string;
  zones: ReadonlyMap<string, ControlZone>;
  /** Purges this edge only (no forwarding: a shield catches up on its own). */
  purge: (selector: PurgeSelector) => Promise<number>;
  /** Poll period; a failed poll makes the next request wait for a catch-up. */
  intervalMs: number;
  onWarning?: (message: string) => void;
  /** Told when the edge falls out of step with the log or is back in step (the workers' gate). */
  onInStep?: (inStep: boolean) => void;
};

export type PurgeSyncStatus = {
  seq: number;
  inStep: boolean;
  lastError: string | undefined;
  /** Requests waiting at the gate for a catch-up. */
  waiting: number;
};

export class PurgeSync {
  readonly #o: PurgeSyncOptions;
  /** Last sequence number applied; -1 = never (the first catch-up drops everything cached). */
  #seq: number;
  #inStep = false;
  #running: Promise<boolean> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastError: string | undefined;
  #closed = false;
  #waiting = 0;

  private constructor(o: PurgeSyncOptions, seq: number) {
    this.#o = o;
    this.#seq = seq;
  }

  /** Reads the saved position (absent or unreadable: -1, so the first catch-up starts from a clean cache). */
  static async open(o: PurgeSyncOptions): Promise<PurgeSync> {
    let seq = -1;
    try {
      const parsed = stateSchema.safeParse(JSON.parse(await readFile(o.stateFile, 'utf8')));
      if (parsed.success) seq = parsed.data.seq;
      else o.onWarning?.(`edge: ${o.stateFile} is not a purge log position this version knows; catching up from scratch`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') o.onWarning?.(`edge: cannot read ${o.stateFile} (${(err as Error).message}); catching up from scratch`);
    }
    return new PurgeSync(o, seq);
  }

  /** Starts polling (and a first catch-up at once). */
  start(): void {
    void this.catchUp();
    this.#timer = setInterval(() => void this.catchUp(), this.#o.intervalMs);
    this.#timer.unref();
  }

  status(): PurgeSyncStatus {
    return { seq: this.#seq, inStep: this.#inStep, lastError: this.#lastError, waiting: this.#waiting };
  }

  /** Whether requests pass the gate now (gate() would be undefined). */
  get open(): boolean {
    return this.#inStep || this.#closed;
  }

  /**
   * undefined when in step (serve now); else a promise that settles once a catch-up begun after this
   * request arrived was tried: the first attempt it waits for may have started while the link was
   * still down, so when that one fails it waits for one more (a request that reached the edge is a sign
   * that the link may be up again).
   */
  gate(): Promise<unknown> | undefined {
    if (this.open) return undefined;
    return this.catchUp().then((ok) => (ok || this.#inStep || this.#closed ? ok : this.catchUp()));
  }

  /** Wraps a request handler: zone requests pass the gate, control requests do not wait. */
  wrap(handle: RequestHandler): RequestHandler {
    return waitAtGate(() => this.gate(), handle, (n) => (this.#waiting += n));
  }

  /**
   * After a purge sent to this edge directly (`POST /_mediacdn/purge`): a catch-up begun now. The
   * sender wrote that purge into the log before it sent it, so without this the next poll would apply
   * the log's copy of it once more and drop what clients refilled in between. Skipped while the log is
   * unreachable: requests wait at the gate then, and the purge answer must not wait for a timeout.
   */
  async afterDirectPurge(): Promise<void> {
    if (!this.#inStep || this.#closed) return;
    // A catch-up in flight may have read the log before the purge was written into it.
    if (this.#running) await this.#running;
    await this.catchUp();
  }

  /** Applies every purge due after the position; one at a time, shared by concurrent callers. Never rejects. */
  catchUp(): Promise<boolean> {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #run(): Promise<boolean> {
    try {
      for (let pages = 0; pages < 1000 && !this.#closed; pages++) {
        const page = await this.#o.source(this.#seq);
        if (page.reset) {
          // Behind the oldest entry kept, new, or the log of another library: nothing cached can be trusted.
          for (const zone of this.#o.zones.keys()) await this.#o.purge({ kind: 'zone', zone });
        }
        for (const entry of page.purges) {
          if (entry.seq <= this.#seq && !page.reset) continue;
          await this.#apply(entry.target);
        }
        if (page.last !== this.#seq) await this.#save(page.last);
        if (!page.more) break;
      }
      if (this.#lastError !== undefined) this.#o.onWarning?.(`edge: purge log reachable again, caught up to ${this.#seq}`);
      this.#lastError = undefined;
      this.#setInStep(true);
      return true;
    } catch (err) {
      const message = (err as Error).message;
      if (this.#lastError === undefined) this.#o.onWarning?.(`edge: cannot catch up on the purge log: ${message}`);
      this.#lastError = message;
      this.#setInStep(false);
      return false;
    }
  }

  #setInStep(value: boolean): void {
    if (this.#inStep === value) return;
    this.#inStep = value;
    this.#o.onInStep?.(value);
  }

  async #apply(target: PurgeRequest): Promise<void> {
    let selector: PurgeSelector;
    try {
      selector = selectorOf(this.#o.zones, target).selector;
    } catch {
      return; // a zone this edge does not serve, or a URL no zone could cache
    }
    await this.#o.purge(selector);
  }

  async #save(seq: number): Promise<void> {
    await mkdir(path.dirname(this.#o.stateFile), { recursive: true });
    const tmp = `${this.#o.stateFile}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ version: 1, seq })}\n`, { mode: 0o600 });
    await rename(tmp, this.#o.stateFile);
    this.#seq = seq;
  }

  /** Stops polling and waits for a catch-up in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }
}
