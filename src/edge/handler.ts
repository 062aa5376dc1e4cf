// The edge's request path: a table of named stages (after Varnish's request states), each one file
// with one job and a closed set of next stages, driven by one loop. A hit from memory runs the same
// stages synchronously; only a stage that must wait (a disk read, an origin request) makes the rest
// of the request asynchronous.
//
//   recv ─► admit ─► hotlink ─► sign ─► lookup ─► deliver                 (HIT, STALE)
//                                   │         ├──► revalidate ─► deliver   (REVALIDATED, STALE on error, MISS)
//                                   │         ├──► fetch ──────► deliver   (MISS, BYPASS when not storable)
//                                   │         └──► pass ───────► deliver   (hit-for-pass: BYPASS)
//                                   └──► pass ─► deliver                    (unsafe methods)
//   any stage ──► synth (refusals and failures)
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DirectAnswer } from '../server/http1/serve.ts';
import type { EdgeCache } from './cache/cache.ts';
import { Filler } from './cache/fill.ts';
import type { SendHeadAndFile } from '../server/sendfile.ts';
import { hitLane } from './hit-lane.ts';
import type { MachineFills } from './cache/fill.ts';
import { StoredViews } from './cache/stored-view.ts';
import type { IpMatcher } from './limits/ip-match.ts';
import type { ConnectionLimiter } from './limits/rate-limit.ts';
import { admit } from './stages/admit.ts';
import type { Edge, Next, OutcomeEvent, RequestContext, RequestHandler, Stage, StageName } from './stages/context.ts';
import { deliver } from './stages/deliver.ts';
import { fetch } from './stages/fetch.ts';
import { hotlink } from './stages/hotlink.ts';
import { lookup } from './stages/lookup.ts';
import { pass } from './stages/pass.ts';
import { recv } from './stages/recv.ts';
import { revalidate } from './stages/revalidate.ts';
import { sign } from './stages/sign.ts';
import { synth } from './stages/synth.ts';
import type { StatsEvent } from './stats/figures.ts';
import type { Zone } from './zone/zone.ts';

export { sendError } from './stages/synth.ts';
export { requestTarget } from './zone/zone.ts';
export type { OutcomeEvent, RequestHandler } from './stages/context.ts';
export type { Zone } from './zone/zone.ts';

/** The request path. A new feature (signing, hotlink rules) is a new stage here, not a longer stage. */
const STAGES: { readonly [K in StageName]: Stage } = { recv, admit, hotlink, sign, lookup, revalidate, fetch, pass, deliver, synth };

type HandlerOptions = {
  zones: ReadonlyMap<string, Zone>;
  cache: EdgeCache;
  now: () => number;
  coalesceTimeoutMs: number;
  onOutcome?: (e: OutcomeEvent) => void;
  /** Per-zone statistics (responses, stale served, background refreshes, origin bytes). */
  onStats?: (zone: string, e: StatsEvent) => void;
  /** Called with errors that are not the client's fault and are not sent anywhere (failed store writes). */
  onError?: (err: unknown) => void;
  /** Whose X-Forwarded-For is believed; default nobody. */
  trustedProxies?: IpMatcher;
  /** Edge-wide block list (zones and control endpoints). */
  blocked?: IpMatcher;
  /** Requests in flight per client IP. */
  connections?: ConnectionLimiter;
  /** Longest silence while a client sends a request body; then 408 and the connection closes (0 = off). */
  clientBodyIdleTimeoutMs?: number;
  /** Answers /_mediacdn/ requests; absent → 404 (they live on the admin listener, or nowhere). */
  control?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Memoise response plans per stored object (default true; false only to prove both answer alike). */
  memoisePlans?: boolean;
  /** Several workers: one fill per key for the machine. */
  machine?: MachineFills;
};

/** Set by recv before any stage reads it. */
const NO_ZONE = undefined as unknown as Zone;
const NO_STAMP: readonly string[] = [];

export class EdgeHandler {
  readonly #edge: Edge;

  constructor(opts: HandlerOptions) {
    const views = new StoredViews(opts.now);
    const onError = opts.onError ?? (() => {});
    this.#edge = {
      zones: opts.zones,
      cache: opts.cache,
      views,
      fill: new Filler({ cache: opts.cache, views, now: opts.now, coalesceTimeoutMs: opts.coalesceTimeoutMs, onStats: opts.onStats, onError, machine: opts.machine }),
      now: opts.now,
      onOutcome: opts.onOutcome,
      onStats: opts.onStats,
      trusted: opts.trustedProxies ?? (() => false),
      blocked: opts.blocked ?? (() => false),
      connections: opts.connections,
      control: opts.control,
      bodyIdleMs: opts.clientBodyIdleTimeoutMs ?? 0,
      memoisePlans: opts.memoisePlans ?? true,
      socketIps: new WeakMap(),
    };
  }

  /** Flights in progress (tests, stats). */
  get inFlight(): number {
    return this.#edge.fill.inFlight;
  }

  /** Resolves when no background refresh is running (tests; graceful shutdown). */
  idle(): Promise<void> {
    return this.#edge.fill.idle();
  }

  /** The hit lane for the plain listener (hit-lane.ts): `stamp` is its fields, `open` the purge-log gate. */
  hitLane(stamp: readonly string[], open: () => boolean, sendfile?: SendHeadAndFile): DirectAnswer {
    return hitLane(this.#edge, stamp, open, sendfile);
  }

  handle: RequestHandler = (req, res, stamp = NO_STAMP) => {
    const ctx: RequestContext = {
      req,
      res,
      method: req.method ?? '',
      rawTarget: '',
      clientIp: '',
      zone: NO_ZONE,
      target: '',
      primary: '',
      headers: req.headers,
      outcome: 'pass',
      extra: undefined,
      stamp,
      onInterim: undefined,
      bytes: 0,
      answer: undefined,
      stored: undefined,
      coalesce: true,
      filledElsewhere: false,
      error: undefined,
    };
    run(ctx, this.#edge, 'recv');
  };
}

/** The loop: runs stages while they answer synchronously, continues from a promise when one waits. */
function run(ctx: RequestContext, edge: Edge, from: Next): void {
  let next = from;
  try {
    while (next !== 'done') {
      const r = STAGES[next](ctx, edge);
      if (typeof r !== 'string') {
        r.then(
          (n) => run(ctx, edge, n),
          (err: unknown) => fail(ctx, edge, err),
        );
        return;
      }
      next = r;
    }
  } catch (err) {
    fail(ctx, edge, err);
  }
}

function fail(ctx: RequestContext, edge: Edge, err: unknown): void {
  ctx.error = err;
  try {
    synth(ctx, edge);
  } catch {
    ctx.res.destroy();
  }
}
