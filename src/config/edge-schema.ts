// The `edge` section of the configuration: listener, cache sizes, origin timeouts, outage behaviour,
// limits, statistics and pull zones. The config loader validates it (naming option paths in errors);
// `parseZoneFlag` reads `--zone h=url`.
import { z } from 'zod';
import { parseCidr } from '../edge/limits/ip-match.ts';
import { EXIT, MediaCdnError } from '../errors.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

const bytes = z.number().int().min(0);
const millis = z.number().int().positive();
const seconds = z.number().int().min(0);

/** IPv4 / IPv6 addresses and CIDR blocks (block lists, trusted proxies). */
const ipList = z.array(
  z.string().refine((s) => parseCidr(s) !== undefined, { message: 'must be an IPv4/IPv6 address or CIDR block such as 203.0.113.0/24 or 2001:db8::/32' }),
);

/** 5xx statuses worth another attempt. */
const retryStatuses = z.array(z.number().int().min(500).max(599)).max(100);

/** Token bucket per client IP: a sustained rate and a burst. */
const rateLimitSchema = z
  .object({
    requestsPerSecond: z.number().positive(),
    /** Requests allowed at once after a quiet period; default: one second's worth (at least 1). */
    burst: z.number().int().min(1).optional(),
  })
  .strict();

/** PEM files of a certificate chain and its private key (certbot's fullchain.pem and privkey.pem). */
export const tlsFilesSchema = z
  .object({
    /** The certificate chain, leaf first. */
    cert: z.string().min(1),
    key: z.string().min(1),
  })
  .strict();

/**
 * How the query string takes part in the cache key (and in the upstream request):
 * keep = as sent; ignore = dropped (one object per path); sort = parameters sorted by name, so
 * `?b=1&a=2` and `?a=2&b=1` are one object.
 */
export const QUERY_STRING_MODES = ['keep', 'ignore', 'sort'] as const;
export type QueryStringMode = (typeof QUERY_STRING_MODES)[number];

/** A DNS host name as the Host header carries it, lower-cased; no port, no trailing dot. */
export const zoneHost = z
  .string()
  .min(1)
  .max(253)
  .transform((s) => s.toLowerCase().replace(/\.$/, ''))
  .refine((s) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(s), {
    message: 'must be a host name such as cdn.example.com (no scheme, port or path)',
  });

export const originUrl = z
  .string()
  .min(1)
  .refine(
    (s) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '' &&
          u.search === '' && u.hash === '';
      } catch {
        return false;
      }
    },
    { message: 'must be an http:// or https:// URL without credentials, query or fragment' },
  )
  // A trailing slash is not part of the prefix: 'http://o/base/' and 'http://o/base' are the same origin.
  .transform((s) => s.replace(/\/+$/, ''));

/** Per-zone settings; the timeouts fall back to the edge-wide ones when absent. */
export const zoneSchema = z
  .object({
    /** The CDN host name clients use (the Host header selects the zone). */
    host: zoneHost,
    /** Where misses go: scheme, host, port and an optional path prefix. */
    origin: originUrl.optional(),
    /**
     * An upstream edge (shield) to fetch from instead of the origin, e.g. http://shield.internal:8080.
     * The request carries Host = this zone's host, so the shield must serve the same zone. Purges sent
     * to this edge are forwarded to the shield first.
     */
    shield: originUrl.optional(),
    /** The shield's control listener for forwarded purges, when it runs one (edge.adminPort); default the shield URL. */
    shieldAdmin: originUrl.optional(),
    /** Host header sent to the origin; default: the origin URL's host. (A shield edge wants the zone host.) */
    originHost: z.string().min(1).optional(),
    connectTimeoutMs: millis.optional(),
    /** Time to the response head (first byte). */
    headersTimeoutMs: millis.optional(),
    /** Longest silence while the body streams in. */
    bodyTimeoutMs: millis.optional(),
    /**
     * The largest request head the origin (or shield) accepts. Requests whose forwarded head (the
     * client's fields plus the edge's Via / X-Forwarded-*) would be larger get 431 from the edge.
     * Default 16 KiB (Node's limit); for a shield, the edge's own maxHeaderBytes.
     */
    originMaxHeaderBytes: z.number().int().min(1024).max(1024 * 1024).optional(),
    /** Objects above this are passed through uncached; default the edge-wide maxObjectBytes. */
    maxObjectBytes: bytes.optional(),
    /**
     * Heuristic freshness (RFC 9111 §4.2.2) for responses without explicit lifetime: a fraction of
     * the time since Last-Modified, capped. 0 disables heuristics.
     */
    heuristicFraction: z.number().min(0).max(1).default(0.1),
    heuristicMaxSeconds: z.number().int().min(0).default(86_400),
    /** Origin retries for idempotent requests (connection errors, timeouts, retryOnStatus); default the edge-wide one. */
    retries: z.number().int().min(0).max(10).optional(),
    /** Origin answers retried like connection errors (e.g. [502, 503, 504]); default the edge-wide list. */
    retryOnStatus: retryStatuses.optional(),
    /** Stale-if-error window when the origin sent none; default the edge-wide one. 0 disables it. */
    staleIfErrorSeconds: seconds.optional(),
    /** Stale-while-revalidate window when the origin sent none; default the edge-wide one (0 = only when sent). */
    staleWhileRevalidateSeconds: seconds.optional(),
    /** Replaces the origin's Cache-Control / CDN-Cache-Control / Expires for the edge: store for this long. */
    edgeTtlSeconds: seconds.optional(),
    /** Replaces the Cache-Control sent to clients on cached responses with `public, max-age=<n>`. */
    browserTtlSeconds: seconds.optional(),
    queryString: z.enum(QUERY_STRING_MODES).default('keep'),
    /** CORS: allowed Origins (['*'] for any); empty = no CORS headers added. */
    corsOrigins: z.array(z.string().min(1)).default([]),
    /** Access-Control-Max-Age of preflight answers. */
    corsMaxAgeSeconds: seconds.default(86_400),
    /** Per client IP; absent = unlimited. */
    rateLimit: rateLimitSchema.optional(),
    /** Clients refused with 403 in this zone (in addition to edge.blockList). */
    blockList: ipList.default([]),
    /** The zone's certificate on the https listener (edge.httpsPort), chosen by SNI; the files are watched. */
    tls: tlsFilesSchema.optional(),
    /** Requests on the plain listener get 301 (GET, HEAD) or 308 to the same URL on https. */
    redirectHttp: z.boolean().default(false),
    /** Strict-Transport-Security max-age (seconds) on https responses; absent = not sent. */
    hsts: z.number().int().min(0).max(2 ** 31 - 1).optional(),
    /** PEM CA certificates that an https:// origin or shield is verified against instead of the system's. */
    caFile: z.string().min(1).optional(),
    /**
     * Signed links only (src/edge/zone/signed-url.ts has the scheme): any key verifies, the first signs
     * the links the origin publishes, valid for at least linkTtlSeconds.
     */
    signedUrls: z
      .object({
        keys: z.array(z.string().min(32, 'a signing key needs at least 32 characters').max(1024)).min(1).max(16),
        linkTtlSeconds: z.number().int().min(60).max(365 * 86_400).default(86_400),
      })
      .strict()
      .optional(),
    /** Hotlink protection: hosts whose pages may use the zone ("radio.example", "*.radio.example"); absent = any. */
    allowedReferrers: z
      .array(z.string().regex(/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i, 'must be a host name, optionally starting with "*."'))
      .min(1)
      .optional(),
    /** With allowedReferrers: also serve requests that carry no Referer. */
    allowEmptyReferrer: z.boolean().default(false),
  })
  .strict()
  .refine((z) => z.origin !== undefined || z.shield !== undefined, { message: 'a zone needs an origin or a shield', path: ['origin'] })
  .refine((z) => !z.redirectHttp || z.tls !== undefined, { message: 'redirectHttp needs the zone\'s tls certificate', path: ['redirectHttp'] })
  .refine((z) => z.hsts === undefined || z.tls !== undefined, { message: 'hsts needs the zone\'s tls certificate', path: ['hsts'] })
  .refine((z) => z.caFile === undefined || (z.shield ?? z.origin ?? '').startsWith('https://'), {
    message: 'caFile verifies an https:// origin or shield; this zone fetches over plain http',
    path: ['caFile'],
  });

export const edgeConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65535).default(8080),
    host: z.string().min(1).default('0.0.0.0'),
    /** The TLS listener (HTTP/2 and HTTP/1.1) beside the plain one, for zones with a tls certificate; absent = none. */
    httpsPort: z.number().int().min(0).max(65535).optional(),
    /** A TLS handshake not finished in this time is cut. */
    tlsHandshakeTimeoutMs: millis.default(10_000),
    /** Worker processes sharing the ports and the disk tier (`mediacdn edge` forks them); 0 = one per core. */
    workers: z.number().int().min(0).max(64).default(0),
    /** Largest request head (request line and header fields) a client may send; larger gets 431. */
    maxHeaderBytes: z.number().int().min(1024).max(1024 * 1024).default(16 * 1024),
    /** In-memory LRU tier for small hot objects (0 disables it). */
    memoryCacheBytes: bytes.default(256 * MiB),
    /** Largest object kept in the memory tier. */
    memoryObjectMaxBytes: bytes.default(32 * MiB),
    /**
     * Send hits of 64 KiB and more from the disk tier's copy with sendfile(2), when the helper was
     * built at install (build/sendfile.node): no copy through the process. false: from memory.
     */
    sendfile: z.boolean().default(true),
    /** Disk tier under <dataDir>/cache/<zone>/ (0 disables it). */
    diskCacheBytes: bytes.default(10 * GiB),
    /** Larger objects pass through uncached. A fill holds its object in memory while it streams. */
    maxObjectBytes: bytes.default(512 * MiB),
    connectTimeoutMs: millis.default(5_000),
    headersTimeoutMs: millis.default(30_000),
    bodyTimeoutMs: millis.default(30_000),
    /** Longest silence while a client sends a request body: then 408 and the connection closes (0 = off). */
    clientBodyIdleTimeoutMs: z.number().int().min(0).default(30_000),
    /** How long a coalesced waiter waits for the response head of someone else's fill. */
    coalesceTimeoutMs: millis.default(60_000),
    /** Idle keep-alive connections kept per origin. */
    originConnections: z.number().int().positive().default(64),
    /** Retries of idempotent origin requests on connection errors and head timeouts (per zone: zones[].retries). */
    retries: z.number().int().min(0).max(10).default(2),
    /** Origin answer statuses that are retried too; default none (a failing origin is not asked again). */
    retryOnStatus: retryStatuses.default([]),
    /** Backoff before retry n (from 0): min(max, base * 2^n), scaled by a random factor in [0.5, 1). */
    retryBaseDelayMs: z.number().int().min(0).default(100),
    retryMaxDelayMs: z.number().int().min(0).default(2_000),
    /** Serve a stored response this long past its freshness when the origin fails (5xx, timeout, refused, reset). */
    staleIfErrorSeconds: seconds.default(86_400),
    /**
     * After an origin connection failure (retries included), requests with a stale copy are answered
     * from it without trying the origin for this long; 0 = every request tries.
     */
    originDownMs: z.number().int().min(0).default(1_000),
    /** Serve stale while one background refresh runs, this long past freshness, even without the directive. */
    staleWhileRevalidateSeconds: seconds.default(0),
    /** Clients refused with 403 on every zone and on the control endpoints. */
    blockList: ipList.default([]),
    /** Proxies whose X-Forwarded-For is believed (e.g. a load balancer, edges in front of a shield). */
    trustedProxies: ipList.default([]),
    /** Requests in flight per client IP (429 beyond); 0 = unlimited. */
    maxConnectionsPerIp: z.number().int().min(0).default(0),
    /** Control endpoints (/_mediacdn/purge, stats, metrics) on their own listener instead of every host. */
    adminPort: z.number().int().min(0).max(65535).optional(),
    adminHost: z.string().min(1).default('127.0.0.1'),
    /** How often statistics are written to <dataDir>/cache/stats.json. */
    statsIntervalMs: millis.default(60_000),
    /**
     * The origin's purge log, e.g. http://origin.internal:4000/api/purges: the edge catches up on the
     * purges it missed (down, cut off) when it starts and whenever a poll failed, before it answers
     * from its cache again. Absent: no catch-up (purges reach this edge only while it is reachable).
     */
    purgeLogUrl: originUrl.optional(),
    /** How often the purge log is polled; a failed poll makes the next request wait for a catch-up. */
    purgeLogIntervalMs: millis.default(5_000),
    /** How long one read of the purge log may take. */
    purgeLogTimeoutMs: millis.default(2_000),
    /** Opt-in access log (client IPs truncated): a file path, or '-' for stdout. */
    accessLog: z.string().min(1).optional(),
    zones: z.array(zoneSchema).default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.httpsPort !== undefined && cfg.httpsPort !== 0 && (cfg.httpsPort === cfg.port || cfg.httpsPort === cfg.adminPort)) {
      ctx.addIssue({ code: 'custom', path: ['httpsPort'], message: `port ${cfg.httpsPort} is already the ${cfg.httpsPort === cfg.port ? 'plain (edge.port)' : 'admin (edge.adminPort)'} listener's` });
    }
    const seen = new Set<string>();
    cfg.zones.forEach((zone, i) => {
      if (seen.has(zone.host)) {
        ctx.addIssue({ code: 'custom', path: ['zones', i, 'host'], message: `zone ${zone.host} is defined twice` });
      }
      seen.add(zone.host);
      if (zone.redirectHttp && cfg.httpsPort === undefined) {
        ctx.addIssue({ code: 'custom', path: ['zones', i, 'redirectHttp'], message: 'redirectHttp needs an https listener (edge.httpsPort)' });
      }
    });
  });

export type EdgeConfig = z.infer<typeof edgeConfigSchema>;
export type EdgeConfigInput = z.input<typeof edgeConfigSchema>;
export type ZoneConfig = z.infer<typeof zoneSchema>;
export type ZoneConfigInput = z.input<typeof zoneSchema>;

/** A bad `--zone` flag: a usage error (exit 2) that names the flag. */
export class ZoneFlagError extends MediaCdnError {
  readonly path = '--zone';
  constructor(message: string) {
    super('config_invalid', `--zone: ${message}`, { exitCode: EXIT.usage });
  }
}

/** `cdn.example.com=http://127.0.0.1:4000` → { host, origin } (validated, defaults not applied). */
export function parseZoneFlag(flag: string): { host: string; origin: string } {
  const eq = flag.indexOf('=');
  if (eq <= 0 || eq === flag.length - 1) {
    throw new ZoneFlagError(`expected <hostname>=<origin-url>, got ${JSON.stringify(flag)}`);
  }
  const parsed = z.object({ host: zoneHost, origin: originUrl }).safeParse({
    host: flag.slice(0, eq).trim(),
    origin: flag.slice(eq + 1).trim(),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ZoneFlagError(`${issue.path.join('.')} ${issue.message} (in ${JSON.stringify(flag)})`);
  }
  return parsed.data;
}
