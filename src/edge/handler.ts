// The edge's request path: refuse blocked or over-limit clients, route control requests, pick the
// zone, look the request up, answer from the cache (stale while revalidating, or stale on an origin
// error), revalidate, fill (coalesced) or write through, and say how it was served (X-Cache, Age, Via).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { parseCacheControl } from '../http/cache-control.ts';
import { parseHttpDate } from '../http/http-date.ts';
import { planResponse } from '../http/representation.ts';
import { parseRange } from '../http/range.ts';
import type { BodySegment, Representation } from '../http/representation.ts';
import type { Headers } from '../http/types.ts';
import { parseVary, varyKey } from '../http/vary.ts';
import { MediaCdnError } from '../errors.ts';
import { watchBodyIdle } from '../server/slow-client.ts';
import type { QueryStringMode } from '../config/edge-schema.ts';
import { cacheKey, methodClass, normaliseTarget, primaryOfVariant, variantKey } from './cache/cache-key.ts';
import type { EdgeCache } from './cache/cache.ts';
import { clientIp } from './limits/client-ip.ts';
import { Coalescer } from './cache/coalesce.ts';
import { corsHeaders, preflightHeaders } from './zone/cors.ts';
import type { CorsPolicy } from './zone/cors.ts';
import {
  BadTargetError,
  BlockedClientError,
  ControlRequestError,
  EdgeRefusal,
  NotCachedError,
  OriginProtocolError,
  OriginTimeoutError,
  RateLimitedError,
  RequestBodyTimeoutError,
  UnknownZoneError,
  errorStatus,
} from './errors.ts';
import type { IpMatcher } from './limits/ip-match.ts';
import type { ConnectionLimiter, RateLimiter } from './limits/rate-limit.ts';
import type { StatsEvent } from './stats/figures.ts';
import { X_CACHE } from './outcome.ts';
import type { Outcome } from './outcome.ts';
import {
  allowsAuthorized,
  currentAge,
  freshnessLifetime,
  mergeNotModified,
  requestDirectives,
  responsePolicy,
  reuseDecision,
  staleOnErrorAllowed,
  staleWhileRevalidateAllowed,
  storability,
  withEdgeTtl,
} from './cache/freshness.ts';
import type { HeuristicOptions, ResponsePolicy } from './cache/freshness.ts';
import { GrowingBody } from './cache/growing-body.ts';
import { releaseBody } from './cache/store.ts';
import type { BodySource, EntryMeta } from './cache/store.ts';
import { CONDITIONAL_AND_RANGE, VIA, appendList, discardBody, upstreamError } from './upstream/upstream.ts';
import type { Upstream, UpstreamRequest, UpstreamResponse } from './upstream/upstream.ts';

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

/** A pull zone at run time. */
export type Zone = {
  host: string;
  upstream: Upstream;
  maxObjectBytes: number;
  heuristics: HeuristicOptions;
  /** Stale-if-error window used when the origin sent none (0 = off). */
  staleIfErrorSeconds: number;
  /** Stale-while-revalidate window used when the origin sent none (0 = off). */
  staleWhileRevalidateSeconds: number;
  /** Replaces the origin's caching fields for the edge's decisions. */
  edgeTtlSeconds: number | undefined;
  /** Replaces Cache-Control sent to clients on responses from the cache. */
  browserTtlSeconds: number | undefined;
  queryString: QueryStringMode;
  cors: CorsPolicy;
  rateLimiter: RateLimiter | undefined;
  /** The zone's own block list. */
  blocked: IpMatcher;
};

export type HandlerOptions = {
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
};

/** The reserved path prefix of control endpoints, on every host; never forwarded to an origin. */
export const CONTROL_PREFIX = '/_mediacdn/';

/** What a flight (one upstream fetch shared by coalesced requests) produced. */
type Flight =
  | { kind: 'fill'; meta: EntryMeta; body: GrowingBody }
  | { kind: 'not-modified'; meta: EntryMeta }
  /** A 304 naming a different representation than the stored one: refetch. */
  | { kind: 'changed' }
  /** Not storable: only the leader may use `response`; followers fetch for themselves. */
  | { kind: 'unshareable'; response: UpstreamResponse };

type Ctx = {
  req: IncomingMessage;
  res: ServerResponse;
  zone: Zone;
  /** The request target after the zone's query string handling (key and upstream request). */
  target: string;
  primary: string;
  outcome: Outcome;
  clientIp: string;
  /** Fields added to every response of this request (CORS). */
  extra: Record<string, string> | undefined;
};

/** Derived once per stored metadata object (hot path: no header parsing on a hit). */
type Derived = {
  policy: ResponsePolicy;
  lifetime: number;
  rep: Omit<Representation, 'size'>;
  /** Stored end-to-end fields to send with a 200/206 (validators, type and framing come from the plan). */
  base: Record<string, string | string[]>;
  /** RFC 9110 §15.4.5 fields of a 304. */
  notModified: Record<string, string | string[]>;
  /** Every stored field, for statuses replayed as they are (301, 404 ...); browser TTL applied. */
  replay: Record<string, string | string[]>;
  via: string;
  /** corrected_initial_age in seconds (RFC 9111 §4.2.3). */
  initialAge: number;
  full200?: string[];
  partial?: string[];
};
const NO_DIRECTIVES = requestDirectives({});

/** How long a key whose response was not storable skips coalescing (Varnish's hit-for-pass). */
const HIT_FOR_PASS_MS = 60_000;
const HIT_FOR_PASS_MAX = 10_000;
const NOT_IN_200: ReadonlySet<string> = new Set([
  'age', 'content-length', 'content-range', 'content-type', 'etag', 'last-modified', 'accept-ranges', 'via', 'x-cache',
]);
const IN_304 = ['cache-control', 'cdn-cache-control', 'content-location', 'date', 'expires', 'vary'];
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export class EdgeHandler {
  readonly #zones: ReadonlyMap<string, Zone>;
  readonly #cache: EdgeCache;
  readonly #now: () => number;
  readonly #flights: Coalescer<Flight>;
  readonly #onOutcome: ((e: OutcomeEvent) => void) | undefined;
  readonly #onStats: ((zone: string, e: StatsEvent) => void) | undefined;
  readonly #onError: (err: unknown) => void;
  readonly #trusted: IpMatcher;
  readonly #blocked: IpMatcher;
  readonly #connections: ConnectionLimiter | undefined;
  readonly #control: HandlerOptions['control'];
  readonly #bodyIdleMs: number;
  /** Background refreshes (stale-while-revalidate) still running. */
  readonly #background = new Set<Promise<void>>();
  readonly #hitForPass = new Map<string, number>();
  readonly #derived = new WeakMap<EntryMeta, Derived>();

  constructor(opts: HandlerOptions) {
    this.#zones = opts.zones;
    this.#cache = opts.cache;
    this.#now = opts.now;
    this.#onOutcome = opts.onOutcome;
    this.#onStats = opts.onStats;
    this.#onError = opts.onError ?? (() => {});
    this.#trusted = opts.trustedProxies ?? (() => false);
    this.#blocked = opts.blocked ?? (() => false);
    this.#connections = opts.connections;
    this.#control = opts.control;
    this.#bodyIdleMs = opts.clientBodyIdleTimeoutMs ?? 0;
    this.#flights = new Coalescer<Flight>({
      timeoutMs: opts.coalesceTimeoutMs,
      timeoutError: () => new OriginTimeoutError('upstream', 'waiting for a coalesced fill'),
      // A request that arrives after a purge of its key never joins a fill that started before it.
      generation: () => opts.cache.epoch(),
      superseded: (key, startedIn) => opts.cache.purgedSince(startedIn, primaryOfFlight(key)),
    });
  }

  /**
   * A request body that stopped arriving (slowloris on the body): 408 if nothing was answered yet, and
   * the request is destroyed — which aborts its upstream request — with its connection.
   */
  #cutIdleBody(req: IncomingMessage, res: ServerResponse): void {
    if (res.headersSent) {
      req.destroy();
      return;
    }
    res.once('finish', () => req.destroy());
    res.shouldKeepAlive = false;
    sendError(res, new RequestBodyTimeoutError(this.#bodyIdleMs), 'pass');
  }

  /** Flights in progress (tests, stats). */
  get inFlight(): number {
    return this.#flights.size;
  }

  /** Resolves when no background refresh is running (tests; graceful shutdown). */
  async idle(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  readonly #socketIps = new WeakMap<object, string>();

  #clientIp(req: IncomingMessage): string {
    const xff = req.headers['x-forwarded-for'];
    if (xff !== undefined) return clientIp(req.socket.remoteAddress, xff, this.#trusted);
    let ip = this.#socketIps.get(req.socket);
    if (ip === undefined) {
      ip = clientIp(req.socket.remoteAddress, undefined, this.#trusted);
      this.#socketIps.set(req.socket, ip);
    }
    return ip;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    watchBodyIdle(req, this.#bodyIdleMs, () => this.#cutIdleBody(req, res));
    const ip = this.#clientIp(req);
    let target: string;
    try {
      target = requestTarget(req.url ?? '');
    } catch (err) {
      sendError(res, err, 'pass');
      return;
    }
    if (this.#blocked(ip)) {
      sendError(res, new BlockedClientError(), 'pass');
      return;
    }
    if (target.startsWith(CONTROL_PREFIX) || target === CONTROL_PREFIX.slice(0, -1)) {
      if (this.#control) this.#control(req, res);
      else sendError(res, new ControlRequestError('Control endpoints are not served on this listener.', 404), 'pass');
      return;
    }
    const host = zoneHostOf(absoluteFormAuthority(req.url ?? '') ?? req.headers.host);
    const zone = this.#zones.get(host);
    if (!zone) {
      sendError(res, new UnknownZoneError(host), 'pass');
      return;
    }
    const method = req.method ?? '';
    const normalised = normaliseTarget(target, zone.queryString);
    const c: Ctx = {
      req,
      res,
      zone,
      target: normalised,
      primary: cacheKey({ zone: zone.host, method: 'GET', target: normalised }),
      outcome: 'miss',
      clientIp: ip,
      extra: corsHeaders(zone.cors, single(req.headers.origin)),
    };
    if (c.extra === undefined && this.#fastHit(c, method, target)) return;
    this.#account(c, target);
    try {
      this.#admit(c);
    } catch (err) {
      c.outcome = 'pass';
      sendError(res, err, 'pass', c.extra);
      return;
    }
    const preflight = preflightHeaders(zone.cors, method, req.headers);
    if (preflight) {
      c.outcome = 'pass';
      res.writeHead(204, { ...preflight, via: VIA, 'x-cache': X_CACHE.pass });
      res.end();
      return;
    }
    const work = methodClass(method) ? this.#cacheable(c) : this.#writeThrough(c);
    work.catch((err: unknown) => {
      if (!res.headersSent) sendError(res, err, c.outcome, c.extra);
      else res.destroy(err instanceof Error ? err : undefined);
    });
  };

  /**
   * The hot path: a fresh 200 held in memory, asked for with a plain GET (no Range, no conditionals,
   * no Authorization, no request Cache-Control / Pragma), answered synchronously from prebuilt headers.
   */
  #fastHit(ctx: Ctx, method: string, rawTarget: string): boolean {
    const { req, res, zone } = ctx;
    if (method !== 'GET' || this.#connections || zone.rateLimiter) return false;
    const h = req.headers;
    if (h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined || h['if-match'] !== undefined ||
      h['if-unmodified-since'] !== undefined || h['if-range'] !== undefined || h.authorization !== undefined || h['cache-control'] !== undefined ||
      h.pragma !== undefined) return false;
    if (zone.blocked(ctx.clientIp)) return false;
    const meta = this.#cache.select(ctx.primary, h);
    if (!meta || meta.status !== 200) return false;
    const hit = this.#cache.memory?.getSync(meta.key);
    if (!hit || hit.body.kind !== 'buffer') return false;
    const d = this.#derive(meta, zone);
    const age = this.#age(meta);
    if (reuseDecision(d.lifetime, age, d.policy, NO_DIRECTIVES).kind !== 'fresh') return false;
    let status = 200;
    let body = hit.body.buffer;
    let headers: string[];
    if (h.range !== undefined) {
      // One satisfiable range only; anything else (several, 416, ignore) takes the full path.
      const r = parseRange(h.range, meta.size);
      if (r.kind !== 'ranges' || r.ranges.length !== 1) return false;
      const { start, end } = r.ranges[0];
      status = 206;
      body = body.subarray(start, end + 1);
      headers = (d.partial ??= this.#full200(meta, d).filter((_, i, a) => a[i - (i % 2)] !== 'content-length'));
      headers = headers.slice();
      headers.push('content-range', `bytes ${start}-${end}/${meta.size}`, 'content-length', String(end - start + 1));
    } else {
      headers = (d.full200 ??= this.#full200(meta, d)).slice();
    }
    ctx.outcome = 'hit';
    headers.push('age', String(Math.floor(age)));
    res.writeHead(status, headers);
    res.end(body);
    const onStats = this.#onStats;
    const onOutcome = this.#onOutcome;
    if (onStats || onOutcome) {
      const started = onOutcome ? this.#now() : 0;
      const bytes = body.length;
      res.once('close', () => {
        const aborted = !res.writableFinished;
        onStats?.(zone.host, { kind: 'response', status, outcome: 'hit', bytes, aborted });
        onOutcome?.({ zone: zone.host, outcome: 'hit', method, target: rawTarget, status, aborted, bytes, clientIp: ctx.clientIp, time: started, ms: this.#now() - started,
          httpVersion: req.httpVersion, referer: single(h.referer), userAgent: single(h['user-agent']) });
      });
    }
    return true;
  }

  /** The flat header list of a plain 200 from the cache (everything but Age). */
  #full200(meta: EntryMeta, d: Derived): string[] {
    const plan = planResponse('GET', {}, { ...d.rep, size: meta.size });
    const out: string[] = [];
    for (const [k, v] of Object.entries({ ...d.base, ...plan.headers, 'x-cache': X_CACHE.hit, via: d.via })) {
      if (Array.isArray(v)) for (const x of v) out.push(k, x);
      else out.push(k, v);
    }
    return out;
  }

  /** Block list, connections per IP, rate limit: throws the refusal. */
  #admit(ctx: Ctx): void {
    const { zone, clientIp: ip, res } = ctx;
    if (zone.blocked(ip)) throw new BlockedClientError();
    if (this.#connections) {
      const release = this.#connections.acquire(ip);
      if (!release) throw new RateLimitedError(1, 'concurrent requests');
      res.once('close', release);
    }
    if (zone.rateLimiter) {
      const r = zone.rateLimiter.take(ip);
      if (!r.ok) throw new RateLimitedError(r.retryAfterSeconds, 'requests');
    }
  }

  /** Counts body bytes written and reports the response once it is finished or aborted. */
  #account(ctx: Ctx, rawTarget: string): void {
    const onOutcome = this.#onOutcome;
    const onStats = this.#onStats;
    if (!onOutcome && !onStats) return;
    const { res, zone } = ctx;
    const started = this.#now();
    const counter = countBodyBytes(res);
    res.once('close', () => {
      const aborted = !res.writableFinished;
      const bytes = counter.bytes;
      onStats?.(zone.host, { kind: 'response', status: res.statusCode, outcome: ctx.outcome, bytes, aborted });
      onOutcome?.({
        zone: zone.host,
        outcome: ctx.outcome,
        method: ctx.req.method ?? '',
        target: rawTarget,
        status: res.statusCode,
        aborted,
        bytes,
        clientIp: ctx.clientIp,
        time: started,
        ms: this.#now() - started,
        httpVersion: ctx.req.httpVersion,
        referer: single(ctx.req.headers.referer),
        userAgent: single(ctx.req.headers['user-agent']),
      });
    });
  }

  #stat(zone: Zone, e: StatsEvent): void {
    this.#onStats?.(zone.host, e);
  }

  async #cacheable(ctx: Ctx): Promise<void> {
    const { req, zone } = ctx;
    const rd = requestDirectives(req.headers);
    const auth = req.headers.authorization !== undefined;
    const sel = this.#cache.select(ctx.primary, req.headers);
    const hit = (sel && this.#cache.memory?.getSync(sel.key)) || (await this.#cache.lookup(ctx.primary, req.headers));
    if (hit) {
      const d = this.#derive(hit.meta, zone);
      // RFC 9111 §3.5 / issue: a request with Authorization is answered from the cache only when the
      // stored response says shared caches may reuse it (public, s-maxage, must-revalidate).
      if (auth && !allowsAuthorized(hit.meta.headers)) {
        await releaseBody(hit.body);
        return this.#fetchAndServe(ctx, false);
      }
      const age = this.#age(hit.meta);
      const reuse = reuseDecision(d.lifetime, age, d.policy, rd);
      if (reuse.kind === 'fresh') return this.#respond(ctx, hit.meta, hit.body, 'hit', age);
      if (reuse.kind === 'stale-ok') return this.#respond(ctx, hit.meta, hit.body, 'stale', age);
      if (
        !auth && reuse.reason === 'stale' &&
        staleWhileRevalidateAllowed(d.lifetime, age, d.policy, zone.staleWhileRevalidateSeconds)
      ) {
        this.#refreshInBackground(ctx, hit.meta, d);
        return this.#respond(ctx, hit.meta, hit.body, 'stale', age);
      }
      if (rd.onlyIfCached) {
        await releaseBody(hit.body);
        throw new NotCachedError();
      }
      await releaseBody(hit.body);
      return this.#refresh(ctx, hit.meta, d, auth);
    }
    // §5.2.1.7: "a cache SHOULD either respond using a stored response ... or respond with a 504"
    if (rd.onlyIfCached) throw new NotCachedError();
    const hfp = this.#hitForPass.get(ctx.primary);
    if (hfp !== undefined && hfp > this.#now()) {
      ctx.outcome = 'pass';
      return this.#writeThrough(ctx);
    }
    return this.#fetchAndServe(ctx, !auth);
  }

  /**
   * A stale stored response must be brought up to date: validated (when it has a validator) or
   * fetched again, coalesced. When the origin fails — refused, reset, timed out, or a 5xx — the stale
   * copy is served instead (stale-if-error) while its window allows.
   */
  async #refresh(ctx: Ctx, stored: EntryMeta, d: Derived, auth: boolean): Promise<void> {
    // The origin just failed to connect for someone else: answer stale now rather than queue up more
    // connection attempts (one request per downForMs window probes it again).
    if (ctx.zone.upstream.down && (await this.#staleOnError(ctx, stored, d))) return;
    const validate = d.rep.etag !== undefined || d.rep.lastModified !== undefined;
    // Checked before others may join: a request the origin would refuse for its size leads no flight.
    ctx.zone.upstream.assertForwardable(this.#fillRequest(ctx, validate ? stored : undefined));
    const key = validate ? validationFlightKey(stored.key) : ctx.primary;
    const run = (release: () => void) => this.#fetch(ctx, release, validate ? stored : undefined);
    const { leader, result } = auth ? { leader: true, result: run(() => {}) } : this.#flights.join(key, run);
    let flight: Flight;
    try {
      flight = await result;
    } catch (err) {
      if (await this.#staleOnError(ctx, stored, d)) return;
      throw err;
    }
    if (flight.kind === 'unshareable' && isOutage(flight.response.status)) {
      const response = flight.response;
      if (await this.#staleOnError(ctx, stored, d, () => leader && discardBody(response.body))) return;
    }
    return this.#serveFlight(ctx, flight, leader);
  }

  /** RFC 5861 §4 stale-if-error (and the zone's default window where RFC 9111 §4.2.4 allows it). */
  async #staleOnError(ctx: Ctx, stored: EntryMeta, d: Derived, before?: () => void): Promise<boolean> {
    if (!staleOnErrorAllowed(d.lifetime, this.#age(stored), d.policy, ctx.zone.staleIfErrorSeconds)) return false;
    const hit = await this.#cache.lookup(ctx.primary, ctx.req.headers);
    if (!hit) return false;
    before?.();
    this.#stat(ctx.zone, { kind: 'stale-if-error' });
    await this.#respond(ctx, hit.meta, hit.body, 'stale', this.#age(hit.meta));
    return true;
  }

  /**
   * RFC 5861 §3: the stale copy is served now and one refresh runs in the background. "One per key":
   * it is a flight under the same key a foreground refresh would use, so while it runs no other
   * refresh starts and foreground requests that must not be served stale join it.
   */
  #refreshInBackground(ctx: Ctx, stored: EntryMeta, d: Derived): void {
    const validate = d.rep.etag !== undefined || d.rep.lastModified !== undefined;
    const key = validate ? validationFlightKey(stored.key) : ctx.primary;
    if (this.#flights.has(key)) return;
    try {
      ctx.zone.upstream.assertForwardable(this.#fillRequest(ctx, validate ? stored : undefined));
    } catch {
      return; // this client's head is too large to forward: the next request refreshes
    }
    const bg: Ctx = { ...ctx };
    const { leader, result } = this.#flights.join(key, (release) => this.#fetch(bg, release, validate ? stored : undefined));
    if (!leader) return;
    this.#stat(ctx.zone, { kind: 'stale-while-revalidate' });
    const task = result
      .then(async (flight) => {
        if (flight.kind === 'unshareable') discardBody(flight.response.body);
        else if (flight.kind === 'fill') await flight.body.whenComplete();
      })
      // Already counted as an origin error; the stale copy stays for the next request to try again.
      .catch(() => {})
      .finally(() => this.#background.delete(task));
    this.#background.add(task);
  }

  async #fetchAndServe(ctx: Ctx, coalesce: boolean): Promise<void> {
    ctx.zone.upstream.assertForwardable(this.#fillRequest(ctx, undefined));
    const run = (release: () => void) => this.#fetch(ctx, release, undefined);
    const { leader, result } = coalesce ? this.#flights.join(ctx.primary, run) : { leader: true, result: run(() => {}) };
    return this.#serveFlight(ctx, await result, leader);
  }

  async #serveFlight(ctx: Ctx, flight: Flight, leader: boolean): Promise<void> {
    switch (flight.kind) {
      case 'not-modified': {
        const hit = await this.#cache.lookup(ctx.primary, ctx.req.headers);
        if (hit) return this.#respond(ctx, hit.meta, hit.body, 'revalidated', this.#age(hit.meta));
        // Validated but no tier kept it (evicted meanwhile): fetch it whole.
        return this.#fetchAndServe(ctx, false);
      }
      case 'changed':
        return this.#fetchAndServe(ctx, true);
      case 'unshareable': {
        if (!leader) return this.#fetchAndServe(ctx, false);
        const h = ctx.req.headers;
        if (CONDITIONAL_AND_RANGE.some((n) => h[n] !== undefined)) {
          // The fill dropped the client's Range / conditionals; for a response we will not store, let
          // the origin answer them itself rather than send a whole body nobody asked for.
          discardBody(flight.response.body);
          ctx.outcome = 'pass';
          return this.#writeThrough(ctx);
        }
        ctx.outcome = 'pass';
        return this.#relay(ctx, flight.response);
      }
      case 'fill': {
        const { meta } = flight;
        // A follower shares the fill only if the response would have been selected for its request too.
        if (!leader && meta.vary.length > 0 && varyKey(meta.vary, ctx.req.headers) !== meta.varySecondary) {
          return this.#fetchAndServe(ctx, false);
        }
        let size = meta.size;
        if (size < 0) {
          await flight.body.whenComplete();
          size = flight.body.length;
        }
        const sized = size === meta.size ? meta : { ...meta, size };
        return this.#respond(ctx, sized, { kind: 'growing', body: flight.body }, 'miss', this.#age(meta));
      }
    }
  }

  /** The upstream GET of a fill, or of a revalidation of `stored`. */
  #fillRequest(ctx: Ctx, stored: EntryMeta | undefined): UpstreamRequest {
    const { req, zone } = ctx;
    const headers: Headers = { ...req.headers };
    for (const name of CONDITIONAL_AND_RANGE) delete headers[name];
    if (stored) {
      // RFC 9111 §4.3.1: "When generating a conditional request for validation, a cache ... MUST send
      // the relevant entity tags (using If-Match, If-None-Match, or If-Range) if the entity tags were
      // provided in the stored response(s) being validated" and SHOULD send Last-Modified in If-Modified-Since.
      const d = this.#derive(stored, zone);
      if (d.rep.etag !== undefined) headers['if-none-match'] = d.rep.etag;
      const lm = single(stored.headers['last-modified']);
      if (lm !== undefined) headers['if-modified-since'] = lm;
    }
    return { method: 'GET', target: ctx.target, headers, clientIp: ctx.clientIp, zoneHost: zone.host, onInterim: interimForwarder(ctx) };
  }

  /** One upstream GET for the cache: a fill, or a revalidation of `stored`. */
  async #fetch(ctx: Ctx, release: () => void, stored: EntryMeta | undefined): Promise<Flight> {
    const { req, zone } = ctx;
    const requestTime = this.#now();
    // Taken before asking upstream: a purge from here on may be aimed at the copy this fetch gets.
    const epoch = this.#cache.epoch();
    const up = await zone.upstream.request(this.#fillRequest(ctx, stored));
    const responseTime = this.#now();

    if (stored && up.status === 304) {
      up.body.on('error', () => {});
      up.body.resume();
      const storedEtag = single(stored.headers['etag']);
      const newEtag = single(up.headers['etag']);
      // §4.3.4: "If the new response contains a strong validator ... If none of the stored responses
      // contain the same strong validator, then the cache MUST NOT use the new response to update any
      // stored responses."
      if (newEtag !== undefined && !newEtag.startsWith('W/') && newEtag !== storedEtag) {
        await this.#cache.purge({ kind: 'key', zone: zone.host, target: ctx.target });
        release();
        return { kind: 'changed' };
      }
      // §4.3.4: "the cache MUST ... use other header fields provided in the 304 (Not Modified) response
      // to replace all instances of the corresponding header fields in the stored response."
      const meta: EntryMeta = { ...stored, headers: mergeNotModified(stored.headers, up.headers), requestTime, responseTime };
      await this.#cache.updateMeta(meta);
      release();
      return { kind: 'not-modified', meta };
    }

    // Any final status is stored when the response allows it (a 503 with max-age too, RFC 9111 §3) —
    // but an error answer never replaces a stored success (below), so a stored copy stays for
    // stale-if-error through an outage.
    const policyHeaders = policyView(up.status, up.headers, zone);
    const policy = responsePolicy(policyHeaders);
    const verdict = storability({ method: 'GET', status: up.status, requestHeaders: req.headers, responseHeaders: policyHeaders, policy });
    const tooBig = up.contentLength !== undefined && up.contentLength > zone.maxObjectBytes;
    // An error answer goes to this client only while a successful response is stored for the URL: what
    // one client's request made the origin refuse must not replace what everyone else gets.
    const errorOverStored = up.status >= 400 && this.#cache.variants(ctx.primary).some((m) => m.status < 400);
    if (verdict.kind === 'skip' || tooBig || errorOverStored) {
      // Only the origin's own word about the object switches caching off for the key (hit-for-pass)
      // or removes the stored copy: a success it marked not storable (no-store, private, too large
      // ...). An error answer, or an answer to a request carrying Authorization or no-store, may be
      // about this one request: it changes nothing for anyone else.
      if (up.status < 400 && !requestShapesAnswer(req.headers)) {
        this.#rememberPass(ctx.primary);
        if (stored) await this.#cache.purge({ kind: 'key', zone: zone.host, target: ctx.target });
      }
      release();
      return { kind: 'unshareable', response: up };
    }
    this.#hitForPass.delete(ctx.primary);
    const vary = parseVary(up.headers['vary']);
    const names = vary.kind === 'fields' ? vary.names : [];
    const secondary = varyKey(names, req.headers);
    const meta: EntryMeta = {
      key: variantKey(ctx.primary, secondary),
      primaryKey: ctx.primary,
      zone: zone.host,
      status: up.status,
      headers: up.headers,
      vary: names,
      varySecondary: secondary,
      requestTime,
      responseTime,
      size: up.contentLength ?? -1,
    };
    const body = new GrowingBody(up.contentLength);
    this.#pump(up, body, meta, zone, release, epoch);
    return { kind: 'fill', meta, body };
  }

  /** Moves the upstream body into the growing body, then stores it. Independent of any client. */
  #pump(up: UpstreamResponse, body: GrowingBody, meta: EntryMeta, zone: Zone, release: () => void, epoch: number): void {
    let storing = true;
    const onStats = this.#onStats;
    up.body.on('data', (chunk: Buffer) => {
      onStats?.(zone.host, { kind: 'origin-bytes', bytes: chunk.length });
      body.push(chunk);
      if (storing && body.length > zone.maxObjectBytes) {
        // Larger than announced (or unannounced): serve the clients already attached, store nothing.
        storing = false;
        release();
      }
    });
    up.body.once('error', (err) => {
      body.fail(upstreamError(zone.upstream.origin, err));
      release();
    });
    up.body.once('end', () => {
      if (meta.size >= 0 && body.length !== meta.size) {
        body.fail(new OriginProtocolError(zone.upstream.origin, `body of ${body.length} bytes, Content-Length ${meta.size}`));
        release();
        return;
      }
      body.end();
      // The cache shows the entry to lookups from this call on, so the flight can close right away.
      if (storing) this.#cache.store({ ...meta, size: body.length }, body.chunks, epoch).catch((err: unknown) => this.#onError(err));
      release();
    });
  }

  #rememberPass(primary: string): void {
    if (this.#hitForPass.size >= HIT_FOR_PASS_MAX) {
      const oldest = this.#hitForPass.keys().next();
      if (!oldest.done) this.#hitForPass.delete(oldest.value);
    }
    this.#hitForPass.set(primary, this.#now() + HIT_FOR_PASS_MS);
  }

  /**
   * Unsafe methods (and passes): forwarded as they are. RFC 9111 §4: "A cache MUST write through
   * requests with methods that are unsafe ... to the origin server". §4.4: "A cache MUST invalidate the
   * target URI ... when it receives a non-error status code in response to an unsafe request method
   * (including methods whose safety is unknown)" and "MAY invalidate ... the URIs in the Location and
   * Content-Location response header fields (if present). However, a cache MUST NOT trigger an
   * invalidation under these conditions if the origin ... of the URI to be invalidated differs from
   * that of the target URI".
   */
  async #writeThrough(ctx: Ctx): Promise<void> {
    const { req, res, zone } = ctx;
    const method = req.method ?? 'GET';
    ctx.outcome = 'pass';
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const forward: UpstreamRequest = {
      method,
      target: ctx.target,
      headers: req.headers,
      body: hasBody ? req : undefined,
      clientIp: ctx.clientIp,
      zoneHost: zone.host,
      signal: abort.signal,
      onInterim: interimForwarder(ctx),
    };
    zone.upstream.assertForwardable(forward);
    // RFC 9110 §10.1.1: a proxy receiving a 100-continue expectation "MUST ... either send an immediate
    // response with a final status code ... or begin forwarding the request toward the origin server".
    // Our upstream client cannot relay the origin's 100 (undici refuses Expect on HTTP/1.1), so the edge
    // invites the body itself, now that it forwards the request, and drops Expect from it (upstream.ts).
    // Refusals before this point (zone, limits, 431) are answered without inviting the body.
    if (hasBody && expectsContinue(req)) res.writeContinue();
    const up = await zone.upstream.request(forward);
    if (!SAFE.has(method) && up.status >= 200 && up.status < 400) {
      const base = new URL(ctx.target, `http://${zone.host}`);
      const targets = new Set([ctx.target]);
      for (const field of ['location', 'content-location']) {
        const v = single(up.headers[field]);
        if (v === undefined) continue;
        try {
          const u = new URL(v, base);
          if (u.host === base.host && (u.protocol === 'http:' || u.protocol === 'https:')) targets.add(u.pathname + u.search);
        } catch {
          // not a URL: nothing to invalidate
        }
      }
      for (const target of targets) await this.#cache.purge({ kind: 'key', zone: zone.host, target });
    }
    return this.#relay(ctx, up);
  }

  /** Sends an upstream response on unchanged (apart from hop-by-hop fields, Via and X-Cache). */
  async #relay(ctx: Ctx, up: UpstreamResponse): Promise<void> {
    const { req, res } = ctx;
    const headers: Record<string, string | string[]> = { ...up.headers, via: appendList(up.headers['via'], VIA), 'x-cache': X_CACHE[ctx.outcome] };
    if (up.contentLength !== undefined) headers['content-length'] = String(up.contentLength);
    res.writeHead(up.status, withExtra(headers, ctx.extra));
    if (req.method === 'HEAD' || up.status === 204 || up.status === 304) {
      discardBody(up.body);
      res.end();
      return;
    }
    const onStats = this.#onStats;
    if (onStats) {
      const host = ctx.zone.host;
      up.body.on('data', (chunk: Buffer) => onStats(host, { kind: 'origin-bytes', bytes: chunk.length }));
    }
    await pipeline(up.body, res).catch(() => {
      discardBody(up.body);
      res.destroy();
    });
  }

  /** Answers from a stored or filling response, with the origin's Range / conditional semantics. */
  async #respond(ctx: Ctx, meta: EntryMeta, source: BodySource | { kind: 'growing'; body: GrowingBody }, outcome: Outcome, age: number): Promise<void> {
    const { req, res } = ctx;
    ctx.outcome = outcome;
    const d = this.#derive(meta, ctx.zone);
    const common = { age: String(Math.floor(age)), 'x-cache': X_CACHE[outcome], via: d.via };
    try {
      if (meta.status !== 200) {
        // Other stored statuses (301, 404, 410 ...) are replayed as they are: no ranges, no 304.
        const headers: Record<string, string | string[]> = { ...d.replay, 'content-length': String(meta.size), ...common };
        res.writeHead(meta.status, withExtra(headers, ctx.extra));
        const segs: BodySegment[] = req.method === 'HEAD' || meta.size === 0 || meta.status === 204 ? [] : [{ kind: 'bytes', start: 0, end: meta.size - 1 }];
        return await writeSegments(res, segs, source);
      }
      const plan = planResponse(req.method === 'HEAD' ? 'HEAD' : 'GET', req.headers, { ...d.rep, size: meta.size });
      let headers: Record<string, string | string[]>;
      if (plan.status === 200 || plan.status === 206) headers = { ...d.base, ...plan.headers, ...common };
      else if (plan.status === 304) headers = { ...d.notModified, ...plan.headers, ...common };
      else headers = { ...plan.headers, ...common };
      res.writeHead(plan.status, withExtra(headers, ctx.extra));
      await writeSegments(res, plan.body, source);
    } finally {
      if (source.kind === 'file') await releaseBody(source);
    }
  }

  #age(meta: EntryMeta): number {
    const d = this.#derived.get(meta);
    if (!d) return currentAge(meta.headers, meta.requestTime, meta.responseTime, this.#now());
    // current_age = corrected_initial_age + resident_time (RFC 9111 §4.2.3), the first part precomputed.
    return d.initialAge + Math.max(0, (this.#now() - meta.responseTime) / 1000);
  }

  #derive(meta: EntryMeta, zone: Zone): Derived {
    let d = this.#derived.get(meta);
    if (d) return d;
    const policyHeaders = policyView(meta.status, meta.headers, zone);
    const policy = responsePolicy(policyHeaders);
    const etag = single(meta.headers['etag']);
    const lastModified = parseHttpDate(single(meta.headers['last-modified']));
    const date = parseHttpDate(single(meta.headers['date']));
    const base: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(meta.headers)) if (!NOT_IN_200.has(name)) base[name] = value;
    const notModified: Record<string, string | string[]> = {};
    for (const name of IN_304) if (meta.headers[name] !== undefined) notModified[name] = meta.headers[name];
    // The stored CORS fields too (as the origin's own 304 has them): a script's revalidation fails the
    // Fetch CORS check on a 304 without Access-Control-Allow-Origin, and cannot read ETag without -Expose-Headers.
    for (const [name, value] of Object.entries(meta.headers)) if (name.startsWith('access-control-')) notModified[name] = value;
    const replay: Record<string, string | string[]> = { ...meta.headers };
    delete replay['x-cache'];
    delete replay['age'];
    if (zone.browserTtlSeconds !== undefined) {
      // The zone's browser TTL replaces what the origin told clients (Cache-Control, Expires); CDN-
      // Cache-Control is for CDNs and goes too, so a downstream CDN follows the same TTL.
      for (const h of [base, notModified, replay]) {
        delete h['expires'];
        delete h['cdn-cache-control'];
        h['cache-control'] = `public, max-age=${zone.browserTtlSeconds}`;
      }
    }
    d = {
      policy,
      lifetime: freshnessLifetime(meta.status, policyHeaders, policy, meta.responseTime, zone.heuristics),
      rep: {
        contentType: single(meta.headers['content-type']) ?? 'application/octet-stream',
        etag,
        lastModified,
        // RFC 9110 §8.8.2.2: a cache may treat Last-Modified as strong only if "the cache entry includes
        // a Date value [that] is at least one second after the Last-Modified value".
        lastModifiedWeak: lastModified === undefined || date === undefined || date - lastModified < 1000,
      },
      base,
      notModified,
      replay,
      via: appendList(meta.headers['via'], VIA),
      initialAge: currentAge(meta.headers, meta.requestTime, meta.responseTime, meta.responseTime),
    };
    this.#derived.set(meta, d);
    return d;
  }
}

/** Writes plan segments from a buffer, a file or a filling body; closes nothing it does not own. */
async function writeSegments(
  res: ServerResponse,
  segments: readonly BodySegment[],
  source: BodySource | { kind: 'growing'; body: GrowingBody },
): Promise<void> {
  if (segments.length === 0) {
    res.end();
    return;
  }
  if (source.kind === 'buffer') {
    const buf = source.buffer;
    if (segments.length === 1 && segments[0].kind === 'bytes') {
      res.end(buf.subarray(segments[0].start, segments[0].end + 1));
      return;
    }
    for (const s of segments) res.write(s.kind === 'text' ? s.text : buf.subarray(s.start, s.end + 1));
    res.end();
    return;
  }
  for (const s of segments) {
    if (s.kind === 'text') {
      res.write(s.text);
      continue;
    }
    const stream: Readable = source.kind === 'file'
      ? source.handle.createReadStream({ start: s.start, end: s.end, autoClose: false })
      : source.body.reader(s.start, s.end);
    try {
      await pipeline(stream, res, { end: false });
    } catch (err) {
      stream.destroy();
      res.destroy(err instanceof Error ? err : undefined);
      return;
    }
  }
  res.end();
}

/** Flights are keyed by the primary cache key (fills) or by the stored variant being revalidated. */
function validationFlightKey(variant: string): string {
  return JSON.stringify(['validate', variant]);
}

/** The primary cache key a flight key belongs to. */
function primaryOfFlight(key: string): string {
  if (!key.startsWith('["validate",')) return key;
  const v = JSON.parse(key) as [string, string];
  return primaryOfVariant(v[1]) ?? key;
}

/** Converts an error into the response, in one place. */
export function sendError(res: ServerResponse, err: unknown, outcome: Outcome, extra?: Record<string, string>): void {
  const status = errorStatus(err);
  const message = err instanceof MediaCdnError ? err.message : 'Internal edge error.';
  const body = `${message}\n`;
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    'x-cache': X_CACHE[outcome],
    via: VIA,
    ...(err instanceof EdgeRefusal ? err.headers : {}),
  };
  res.writeHead(status, withExtra(headers, extra));
  res.end(body);
}

/**
 * Forwards the upstream's interim responses to the client whose request caused the upstream request.
 * RFC 9110 §15.2: "A proxy MUST forward 1xx responses unless the proxy itself requested the generation
 * of the 1xx response" and "a server MUST NOT send a 1xx response to an HTTP/1.0 client". Not
 * forwarded: 100 (the edge meets Expect itself and does not forward it, so a 100 is not the client's),
 * 101 (no protocol switch through the edge), anything once the final head is out (a background
 * refresh, a coalesced fill whose leader was answered). Interim responses are never stored: a HIT has
 * none. Only the fill's leader gets them; waiters that join the fill get its final response.
 */
function interimForwarder(ctx: Ctx): UpstreamRequest['onInterim'] {
  const { req, res } = ctx;
  if (req.httpVersion === '1.0') return undefined;
  return (status, headers) => {
    if (status === 100 || status === 101 || res.headersSent || res.writableEnded || res.destroyed) return;
    // Node ≥ 24.18 writes any 1xx; an older Node 24 forwards none.
    if (typeof res.writeInformation !== 'function') return;
    try {
      res.writeInformation(status, headers);
    } catch {
      // A field Node will not write (invalid characters): the hint is dropped, the response goes on.
    }
  };
}

/** An HTTP/1.1 request with `Expect: 100-continue` (§10.1.1: ignored in an HTTP/1.0 request). */
function expectsContinue(req: IncomingMessage): boolean {
  const expect = req.headers.expect;
  return expect !== undefined && expect.trim().toLowerCase() === '100-continue' && req.httpVersion !== '1.0';
}

/**
 * A request whose answer may be about the request rather than the object: with Authorization the
 * origin may answer for that user (§3.5), and request no-store forbids storing the answer (§5.2.1.5)
 * without saying anything about the object.
 */
function requestShapesAnswer(headers: Headers): boolean {
  return headers.authorization !== undefined || parseCacheControl(headers['cache-control']).has('no-store');
}

/**
 * The response fields the edge's caching decisions read: the zone's edgeTtlSeconds replaces the
 * origin's caching fields, except on 5xx answers, which keep only the lifetime the origin gave them
 * (a TTL meant for media must not keep an outage's 503 for a year).
 */
function policyView(status: number, headers: Headers, zone: Zone): Headers {
  return zone.edgeTtlSeconds === undefined || status >= 500 ? headers : withEdgeTtl(headers, zone.edgeTtlSeconds);
}

/** 500/502/503/504 from upstream: an outage (stale-if-error applies, nothing is stored). 501 is an answer. */
function isOutage(status: number): boolean {
  return status === 500 || status === 502 || status === 503 || status === 504;
}

/** Adds per-request fields (CORS) to response fields; Vary members are appended, not replaced. */
function withExtra<T extends Record<string, string | string[]>>(headers: T, extra: Record<string, string> | undefined): T {
  if (!extra) return headers;
  const out: Record<string, string | string[]> = { ...headers };
  for (const [name, value] of Object.entries(extra)) {
    out[name] = name === 'vary' && out['vary'] !== undefined ? appendList(out['vary'], value) : value;
  }
  return out as T;
}

/** Wraps res.write / res.end to count body bytes (what statistics call bytes served to clients). */
function countBodyBytes(res: ServerResponse): { readonly bytes: number } {
  const counter = { bytes: 0 };
  const size = (chunk: unknown, encoding: unknown): number =>
    typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : chunk instanceof Uint8Array ? chunk.byteLength : 0;
  const w = res as unknown as { write: (...a: unknown[]) => boolean; end: (...a: unknown[]) => ServerResponse };
  const write = w.write;
  const end = w.end;
  w.write = function (this: ServerResponse, ...a: unknown[]) {
    counter.bytes += size(a[0], a[1]);
    return write.apply(this, a);
  };
  w.end = function (this: ServerResponse, ...a: unknown[]) {
    if (typeof a[0] !== 'function') counter.bytes += size(a[0], a[1]);
    return end.apply(this, a);
  };
  return counter;
}

/** The Host header's host name: lower case, port and trailing dot removed; IPv6 literals kept bracketed. */
function zoneHostOf(host: string | undefined): string {
  if (!host) return '';
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return (colon < 0 ? h : h.slice(0, colon)).replace(/\.$/, '');
}

/**
 * The authority of an absolute-form request target, which selects the zone: RFC 9112 §3.2.2 "When an
 * origin server receives a request with an absolute-form of request-target, the origin server MUST
 * ignore the received Host header field (if any) and instead use the host information of the
 * request-target." Undefined for origin-form targets.
 */
function absoluteFormAuthority(url: string): string | undefined {
  if (!/^https?:\/\//i.test(url)) return undefined;
  try {
    return new URL(url).host;
  } catch {
    return undefined; // requestTarget refuses it
  }
}

/** Origin-form path+query of the request; absolute-form is reduced to it. */
export function requestTarget(url: string): string {
  if (url.startsWith('/')) return url;
  if (/^https?:\/\//i.test(url)) {
    try {
      const u = new URL(url);
      return u.pathname + u.search;
    } catch {
      throw new BadTargetError(url);
    }
  }
  throw new BadTargetError(url);
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
