// Fills: the upstream GETs the cache makes (a fill, or a revalidation of a stored response), one per
// key for concurrent requests (coalesced flights), streamed into a growing body that every waiter reads
// and then stored; Varnish's hit-for-pass memory of keys whose response was not storable; and the
// background refresh of stale-while-revalidate.
import { parseCacheControl } from '../../http/cache-control.ts';
import { firstValue } from '../../http/types.ts';
import type { Headers } from '../../http/types.ts';
import { parseVary, varyKey } from '../../http/vary.ts';
import { OriginProtocolError, OriginTimeoutError } from '../errors.ts';
import type { StatsEvent } from '../stats/figures.ts';
import { CONDITIONAL_AND_RANGE, discardBody, upstreamError } from '../upstream/upstream.ts';
import type { UpstreamRequest, UpstreamResponse } from '../upstream/upstream.ts';
import type { Zone } from '../zone/zone.ts';
import type { EdgeCache } from './cache.ts';
import { primaryOfVariant, variantKey } from './cache-key.ts';
import { Coalescer } from './coalesce.ts';
import { mergeNotModified, responsePolicy, storability } from './freshness.ts';
import { GrowingBody } from './growing-body.ts';
import type { EntryMeta } from './store.ts';
import type { LeaderLock, MachineLock, WaiterLock } from '../cluster/worker.ts';
import { followSpool, spoolBody } from './spool.ts';
import { policyView } from './stored-view.ts';
import type { StoredViews } from './stored-view.ts';

/** What a flight (one upstream fetch shared by coalesced requests) produced. */
export type Flight =
  | { kind: 'fill'; meta: EntryMeta; body: GrowingBody }
  | { kind: 'not-modified'; meta: EntryMeta }
  /** A 304 naming a different representation than the stored one: refetch. */
  | { kind: 'changed' }
  /** Not storable: only the leader may use `response`; followers fetch for themselves. */
  | { kind: 'unshareable'; response: UpstreamResponse }
  /** Another worker of the edge filled the key meanwhile: look it up again (the disk tier is shared). */
  | { kind: 'elsewhere' };

/** One fill per key for the whole machine when the edge runs several workers (see cluster/worker.ts). */
export type MachineFills = { lock(key: string): Promise<MachineLock> };

/** The request a fill is made for: its zone, target, cache key, fields and client. */
type FillFor = {
  zone: Zone;
  target: string;
  primary: string;
  headers: Headers;
  clientIp: string;
  onInterim: UpstreamRequest['onInterim'];
};

type FillerOptions = {
  cache: EdgeCache;
  views: StoredViews;
  now: () => number;
  coalesceTimeoutMs: number;
  onStats: ((zone: string, e: StatsEvent) => void) | undefined;
  onError: (err: unknown) => void;
  /** Several workers: a fill of a key waits for another worker's fill of it instead of asking upstream. */
  machine?: MachineFills;
};

/** How long a key whose response was not storable skips coalescing (Varnish's hit-for-pass). */
const HIT_FOR_PASS_MS = 60_000;
const HIT_FOR_PASS_MAX = 10_000;

export class Filler {
  readonly #cache: EdgeCache;
  readonly #views: StoredViews;
  readonly #now: () => number;
  readonly #onStats: FillerOptions['onStats'];
  readonly #onError: (err: unknown) => void;
  readonly #machine: MachineFills | undefined;
  readonly #flights: Coalescer<Flight>;
  readonly #hitForPass = new Map<string, number>();
  /** Background refreshes (stale-while-revalidate) still running. */
  readonly #background = new Set<Promise<void>>();

  constructor(opts: FillerOptions) {
    this.#cache = opts.cache;
    this.#views = opts.views;
    this.#now = opts.now;
    this.#onStats = opts.onStats;
    this.#onError = opts.onError;
    this.#machine = opts.machine;
    this.#flights = new Coalescer<Flight>({
      timeoutMs: opts.coalesceTimeoutMs,
      timeoutError: () => new OriginTimeoutError('upstream', 'waiting for a coalesced fill'),
      // A request that arrives after a purge of its key never joins a fill that started before it.
      generation: () => opts.cache.epoch(),
      superseded: (key, startedIn) => opts.cache.purgedSince(startedIn, primaryOfFlight(key)),
    });
  }

  /** Flights in progress (tests, stats). */
  get inFlight(): number {
    return this.#flights.size;
  }

  /** Resolves when no background refresh is running (tests; graceful shutdown). */
  async idle(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  /** The key's response was recently not storable: pass without coalescing. */
  passes(primary: string): boolean {
    const until = this.#hitForPass.get(primary);
    return until !== undefined && until > this.#now();
  }

  /** The upstream GET of a fill, or of a revalidation of `stored`. */
  request(c: FillFor, stored: EntryMeta | undefined): UpstreamRequest {
    const headers: Headers = { ...c.headers };
    for (const name of CONDITIONAL_AND_RANGE) delete headers[name];
    if (stored) {
      // RFC 9111 §4.3.1: "When generating a conditional request for validation, a cache ... MUST send
      // the relevant entity tags (using If-Match, If-None-Match, or If-Range) if the entity tags were
      // provided in the stored response(s) being validated" and SHOULD send Last-Modified in If-Modified-Since.
      const d = this.#views.of(stored, c.zone);
      if (d.rep.etag !== undefined) headers['if-none-match'] = d.rep.etag;
      const lm = firstValue(stored.headers['last-modified']);
      if (lm !== undefined) headers['if-modified-since'] = lm;
    }
    return { method: 'GET', target: c.target, headers, clientIp: c.clientIp, zoneHost: c.zone.host, onInterim: c.onInterim };
  }

  /**
   * Starts or joins the flight of `c` (a revalidation when `stored` has a validator). Checked before
   * others may join: a request the origin would refuse for its size leads no flight. Uncoalesced
   * requests (Authorization, a second try) fly alone.
   */
  fly(c: FillFor, stored: EntryMeta | undefined, coalesce: boolean): { leader: boolean; result: Promise<Flight> } {
    c.zone.upstream.assertForwardable(this.request(c, stored));
    const run = (release: () => void) => this.#fetch(c, release, stored);
    if (!coalesce) return { leader: true, result: run(() => {}) };
    const machine = this.#machine;
    if (stored || !machine) return this.#flights.join(stored ? validationFlightKey(stored.key) : c.primary, run);
    return this.#flights.join(c.primary, (release) => this.#fillOnce(c, release, machine));
  }

  /**
   * A fill when several workers share the disk tier: the worker that gets the key's lock fills it and
   * releases the lock once the object is on disk (or will not be). The others, and the requests that
   * joined them here, stream its body from its spool while it arrives when the response is storable
   * (spool.ts), or else wait for the release and look the key up again.
   */
  async #fillOnce(c: FillFor, release: () => void, machine: MachineFills): Promise<Flight> {
    const seen = this.#cache.select(c.primary, c.headers)?.responseTime;
    const lock = await machine.lock(c.primary);
    if (!lock.leader) return this.#fillOfAnother(c, release, lock);
    // Another worker may have stored the key between our lookup and the lock: its disk write reaches
    // this worker before the lock does (the primary relays both in order).
    if (this.#cache.select(c.primary, c.headers)?.responseTime !== seen) {
      lock.release();
      release();
      return { kind: 'elsewhere' };
    }
    try {
      return await this.#fetch(c, release, undefined, lock.release, lock);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** Another worker fills the key: its body as it arrives, when it shares one this request may use. */
  async #fillOfAnother(c: FillFor, release: () => void, lock: WaiterLock): Promise<Flight> {
    const fill = await lock.filling;
    // Joinable here until the filler's lock is released; later requests find the object on disk.
    void lock.released.then(release);
    // The filler's response must be the variant this request selects (Vary).
    if (fill === undefined || (fill.meta.vary.length > 0 && varyKey(fill.meta.vary, c.headers) !== fill.meta.varySecondary)) {
      await lock.released;
      return { kind: 'elsewhere' };
    }
    const size = fill.meta.size >= 0 ? fill.meta.size : undefined;
    const body = new GrowingBody(size, c.zone.maxObjectBytes);
    void followSpool(fill, body);
    return { kind: 'fill', meta: fill.meta, body };
  }

  /** Whether a stored response can be validated (it has an entity tag or Last-Modified). */
  validates(stored: EntryMeta, zone: Zone): boolean {
    const d = this.#views.of(stored, zone);
    return d.rep.etag !== undefined || d.rep.lastModified !== undefined;
  }

  /**
   * RFC 5861 §3: the stale copy is served now and one refresh runs in the background. "One per key":
   * it is a flight under the same key a foreground refresh would use, so while it runs no other
   * refresh starts and foreground requests that must not be served stale join it.
   */
  refreshInBackground(c: FillFor, stored: EntryMeta): void {
    const validate = this.validates(stored, c.zone) ? stored : undefined;
    const key = validate ? validationFlightKey(stored.key) : c.primary;
    if (this.#flights.has(key)) return;
    try {
      c.zone.upstream.assertForwardable(this.request(c, validate));
    } catch {
      return; // this client's head is too large to forward: the next request refreshes
    }
    const bg: FillFor = { ...c };
    const { leader, result } = this.#flights.join(key, (release) => this.#fetch(bg, release, validate));
    if (!leader) return;
    this.#onStats?.(c.zone.host, { kind: 'stale-while-revalidate' });
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

  /** One upstream GET for the cache: a fill, or a revalidation of `stored`. */
  async #fetch(c: FillFor, release: () => void, stored: EntryMeta | undefined, onStored = (): void => {}, machineLock?: LeaderLock): Promise<Flight> {
    const { zone } = c;
    const requestTime = this.#now();
    // Taken before asking upstream: a purge from here on may be aimed at the copy this fetch gets.
    const epoch = this.#cache.epoch();
    const up = await zone.upstream.request(this.request(c, stored));
    const responseTime = this.#now();

    if (stored && up.status === 304) {
      up.body.on('error', () => {});
      up.body.resume();
      const storedEtag = firstValue(stored.headers['etag']);
      const newEtag = firstValue(up.headers['etag']);
      // §4.3.4: "If the new response contains a strong validator ... If none of the stored responses
      // contain the same strong validator, then the cache MUST NOT use the new response to update any
      // stored responses."
      if (newEtag !== undefined && !newEtag.startsWith('W/') && newEtag !== storedEtag) {
        await this.#cache.purge({ kind: 'key', zone: zone.host, target: c.target });
        release();
        onStored();
        return { kind: 'changed' };
      }
      // §4.3.4: "the cache MUST ... use other header fields provided in the 304 (Not Modified) response
      // to replace all instances of the corresponding header fields in the stored response."
      const meta: EntryMeta = { ...stored, headers: mergeNotModified(stored.headers, up.headers), requestTime, responseTime };
      await this.#cache.updateMeta(meta);
      release();
      onStored();
      return { kind: 'not-modified', meta };
    }

    // Any final status is stored when the response allows it (a 503 with max-age too, RFC 9111 §3) —
    // but an error answer never replaces a stored success (below), so a stored copy stays for
    // stale-if-error through an outage.
    const policyHeaders = policyView(up.status, up.headers, zone);
    const policy = responsePolicy(policyHeaders);
    const verdict = storability({ method: 'GET', status: up.status, requestHeaders: c.headers, responseHeaders: policyHeaders, policy });
    const tooBig = up.contentLength !== undefined && up.contentLength > zone.maxObjectBytes;
    // An error answer goes to this client only while a successful response is stored for the URL: what
    // one client's request made the origin refuse must not replace what everyone else gets.
    const errorOverStored = up.status >= 400 && this.#cache.variants(c.primary).some((m) => m.status < 400);
    if (verdict.kind === 'skip' || tooBig || errorOverStored) {
      // Only the origin's own word about the object switches caching off for the key (hit-for-pass)
      // or removes the stored copy: a success it marked not storable (no-store, private, too large
      // ...). An error answer, or an answer to a request carrying Authorization or no-store, may be
      // about this one request: it changes nothing for anyone else.
      if (up.status < 400 && !requestShapesAnswer(c.headers)) {
        this.#rememberPass(c.primary);
        if (stored) await this.#cache.purge({ kind: 'key', zone: zone.host, target: c.target });
      }
      release();
      onStored();
      return { kind: 'unshareable', response: up };
    }
    this.#hitForPass.delete(c.primary);
    const vary = parseVary(up.headers['vary']);
    const names = vary.kind === 'fields' ? vary.names : [];
    const secondary = varyKey(names, c.headers);
    const meta: EntryMeta = {
      key: variantKey(c.primary, secondary),
      primaryKey: c.primary,
      zone: zone.host,
      status: up.status,
      headers: up.headers,
      vary: names,
      varySecondary: secondary,
      requestTime,
      responseTime,
      size: up.contentLength ?? -1,
    };
    // Up to the largest object the zone stores, the announced length is allocated once (see GrowingBody).
    const body = new GrowingBody(up.contentLength, zone.maxObjectBytes);
    let afterStore = onStored;
    const root = this.#cache.disk?.root;
    if (machineLock && root !== undefined) {
      // Other workers waiting for the key stream the body from a spool; the lock is released (they
      // look the key up in the disk tier) only once the spool is complete too.
      let spooled: Promise<void> | undefined;
      machineLock.share(meta, () => {
        // Complete already: the disk tier has it in a moment, the waiters look there.
        if (body.state === 'open') spooled = spoolBody(body, root, machineLock.progress, machineLock.end);
      });
      afterStore = () => void (spooled ?? Promise.resolve()).finally(onStored);
    }
    this.#pump(up, body, meta, zone, release, epoch, afterStore);
    return { kind: 'fill', meta, body };
  }

  /**
   * Moves the upstream body into the growing body, then stores it. Independent of any client.
   * `onStored` runs once the object reached the tiers, or once it is known it will not be stored.
   */
  #pump(up: UpstreamResponse, body: GrowingBody, meta: EntryMeta, zone: Zone, release: () => void, epoch: number, onStored: () => void): void {
    let storing = true;
    const onStats = this.#onStats;
    up.body.on('data', (chunk: Buffer) => {
      onStats?.(zone.host, { kind: 'origin-bytes', bytes: chunk.length });
      body.push(chunk);
      if (storing && body.length > zone.maxObjectBytes) {
        // Larger than announced (or unannounced): serve the clients already attached, store nothing.
        storing = false;
        release();
        onStored();
      }
    });
    up.body.once('error', (err) => {
      body.fail(upstreamError(zone.upstream.origin, err));
      release();
      onStored();
    });
    up.body.once('end', () => {
      if (meta.size >= 0 && body.length !== meta.size) {
        body.fail(new OriginProtocolError(zone.upstream.origin, `body of ${body.length} bytes, Content-Length ${meta.size}`));
        release();
        onStored();
        return;
      }
      body.end();
      // The cache shows the entry to lookups from this call on, so the flight can close right away.
      if (storing) {
        this.#cache
          .store({ ...meta, size: body.length }, body.parts(), epoch, body.room())
          .catch((err: unknown) => this.#onError(err))
          .finally(onStored);
      } else onStored();
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

/**
 * A request whose answer may be about the request rather than the object: with Authorization the
 * origin may answer for that user (§3.5), and request no-store forbids storing the answer (§5.2.1.5)
 * without saying anything about the object.
 */
function requestShapesAnswer(headers: Headers): boolean {
  return headers.authorization !== undefined || parseCacheControl(headers['cache-control']).has('no-store');
}
