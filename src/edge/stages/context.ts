// What the stages of the request path share: the request's context (filled in as it moves through
// the stages), the edge's services, and the closed set of stage names a stage may hand over to.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EdgeCache } from '../cache/cache.ts';
import type { Filler } from '../cache/fill.ts';
import type { GrowingBody } from '../cache/growing-body.ts';
import type { BodySource, EntryMeta } from '../cache/store.ts';
import type { StoredViews } from '../cache/stored-view.ts';
import type { IpMatcher } from '../limits/ip-match.ts';
import type { ConnectionLimiter } from '../limits/rate-limit.ts';
import type { Outcome } from '../outcome.ts';
import type { StatsEvent } from '../stats/figures.ts';
import type { UpstreamRequest, UpstreamResponse } from '../upstream/upstream.ts';
import type { Zone } from '../zone/zone.ts';

/**
 * Emitted once per zone response when it is finished or aborted: the stats and access-log hook.
 * `bytes` counts body bytes written to the client; `clientIp` is the full address (the access log
 * truncates it); `ms` is from request to close on the edge clock.
 */
export type OutcomeEvent = {
  zone: string;
  outcome: Outcome;
  method: string;
  target: string;
  status: number;
  aborted: boolean;
  bytes: number;
  clientIp: string;
  /** When the request arrived (edge clock) and how long it took, in ms. */
  time: number;
  ms: number;
  httpVersion: string;
  referer: string | undefined;
  userAgent: string | undefined;
};

/** The edge's services, shared by every request. */
export type Edge = {
  zones: ReadonlyMap<string, Zone>;
  cache: EdgeCache;
  views: StoredViews;
  fill: Filler;
  now: () => number;
  onOutcome: ((e: OutcomeEvent) => void) | undefined;
  onStats: ((zone: string, e: StatsEvent) => void) | undefined;
  trusted: IpMatcher;
  blocked: IpMatcher;
  connections: ConnectionLimiter | undefined;
  control: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  bodyIdleMs: number;
  /** Response plans memoised per stored object (off only to prove they equal the planner's answers). */
  memoisePlans: boolean;
  socketIps: WeakMap<object, string>;
};

/** A stored or filling response chosen for the client. */
export type StoredAnswer = {
  kind: 'stored';
  meta: EntryMeta;
  source: BodySource | { kind: 'growing'; body: GrowingBody };
  age: number;
};

/** An upstream response sent on as it is. */
export type RelayAnswer = { kind: 'relay'; response: UpstreamResponse };

/** A request on its way through the stages. Fields after `zone` are set by recv for zone requests. */
export type RequestContext = {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  /** The request target as the client sent it (origin-form), for the access log. */
  rawTarget: string;
  clientIp: string;
  zone: Zone;
  /** The request target after the zone's query string handling (key and upstream request). */
  target: string;
  primary: string;
  headers: IncomingMessage['headers'];
  outcome: Outcome;
  /** Fields added to every response of this request (CORS). */
  extra: Record<string, string> | undefined;
  /**
   * Fields the listener adds to every response (X-Edge-Worker, Strict-Transport-Security), as a flat
   * name/value list: a stored answer appends them to its field list, every other writer sets them
   * with stampHeaders (node:http's writeHead takes a slower path once setHeader was used).
   */
  stamp: readonly string[];
  /**
   * Where the origin's interim responses for this client go: set by the stages that ask the origin on
   * its behalf (fetch, revalidate), not before, so a hit makes none; a background refresh has none.
   */
  onInterim: UpstreamRequest['onInterim'];
  /** Body bytes written to the client. */
  bytes: number;
  /** Set by the stage that hands over to deliver. */
  answer: StoredAnswer | RelayAnswer | undefined;
  /** Set by lookup for revalidate: the stale stored response. */
  stored: EntryMeta | undefined;
  /** Set for fetch: whether the fill may be shared with concurrent requests. */
  coalesce: boolean;
  /** Set by fetch when another worker filled the key meanwhile: a second miss fetches alone. */
  filledElsewhere: boolean;
  /** Set for synth: the refusal or failure to answer with. */
  error: unknown;
};

/**
 * The stage names (after Varnish's request states). Each stage returns one of the names its own
 * result type allows; `done` means the response is complete (or handed to someone who completes it).
 */
export type StageName = 'recv' | 'admit' | 'hotlink' | 'sign' | 'lookup' | 'revalidate' | 'fetch' | 'pass' | 'deliver' | 'synth';
export type Next = StageName | 'done';

/** A stage: synchronous where it can be (a memory hit never waits), else a promise of the next stage. */
export type Stage<R extends Next = Next> = (ctx: RequestContext, edge: Edge) => R | Promise<R>;

/** The request handler as the listeners call it, with the fields they add to every response. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, stamp?: readonly string[]) => void;

/** Sets the listener's fields on a response about to be written by anything but a stored answer. */
export function stampHeaders(ctx: RequestContext): void {
  setStamp(ctx.res, ctx.stamp);
}

/** Sets a flat name/value list on a response whose head is not out yet (the listener's redirect too). */
export function setStamp(res: ServerResponse, stamp: readonly string[]): void {
  if (stamp.length === 0 || res.headersSent) return;
  for (let i = 0; i < stamp.length; i += 2) res.setHeader(stamp[i], stamp[i + 1]);
}
