// The `edge` section of the configuration: listener, cache sizes, origin timeouts and pull zones.
// The config loader validates it (naming option paths in errors); `parseZoneFlag` reads `--zone h=url`.
import { z } from 'zod';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

const bytes = z.number().int().min(0);
const millis = z.number().int().positive();

/** A DNS host name as the Host header carries it, lower-cased; no port, no trailing dot. */
const zoneHost = z
  .string()
  .min(1)
  .max(253)
  .transform((s) => s.toLowerCase().replace(/\.$/, ''))
  .refine((s) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(s), {
    message: 'must be a host name such as cdn.example.com (no scheme, port or path)',
  });

const originUrl = z
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
    origin: originUrl,
    /** Host header sent to the origin; default: the origin URL's host. (A shield edge wants the zone host.) */
    originHost: z.string().min(1).optional(),
    connectTimeoutMs: millis.optional(),
    /** Time to the response head (first byte). */
    headersTimeoutMs: millis.optional(),
    /** Longest silence while the body streams in. */
    bodyTimeoutMs: millis.optional(),
    /** Objects above this are passed through uncached; default the edge-wide maxObjectBytes. */
    maxObjectBytes: bytes.optional(),
    /**
     * Heuristic freshness (RFC 9111 §4.2.2) for responses without explicit lifetime: a fraction of
     * the time since Last-Modified, capped. 0 disables heuristics.
     */
    heuristicFraction: z.number().min(0).max(1).default(0.1),
    heuristicMaxSeconds: z.number().int().min(0).default(86_400),
  })
  .strict();

export const edgeConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65535).default(8080),
    host: z.string().min(1).default('0.0.0.0'),
    /** Worker processes sharing the port (the CLI forks them); 0 = one per core. */
    workers: z.number().int().min(0).max(64).default(1),
    /** In-memory LRU tier for small hot objects (0 disables it). */
    memoryCacheBytes: bytes.default(256 * MiB),
    /** Largest object kept in the memory tier. */
    memoryObjectMaxBytes: bytes.default(32 * MiB),
    /** Disk tier under <dataDir>/cache/<zone>/ (0 disables it). */
    diskCacheBytes: bytes.default(10 * GiB),
    /** Larger objects pass through uncached. A fill holds its object in memory while it streams. */
    maxObjectBytes: bytes.default(512 * MiB),
    connectTimeoutMs: millis.default(5_000),
    headersTimeoutMs: millis.default(30_000),
    bodyTimeoutMs: millis.default(30_000),
    /** How long a coalesced waiter waits for the response head of someone else's fill. */
    coalesceTimeoutMs: millis.default(60_000),
    /** Idle keep-alive connections kept per origin. */
    originConnections: z.number().int().positive().default(64),
    zones: z.array(zoneSchema).default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.zones.forEach((zone, i) => {
      if (seen.has(zone.host)) {
        ctx.addIssue({ code: 'custom', path: ['zones', i, 'host'], message: `zone ${zone.host} is defined twice` });
      }
      seen.add(zone.host);
    });
  });

export type EdgeConfig = z.infer<typeof edgeConfigSchema>;
export type EdgeConfigInput = z.input<typeof edgeConfigSchema>;
export type ZoneConfig = z.infer<typeof zoneSchema>;
export type ZoneConfigInput = z.input<typeof zoneSchema>;

export class ZoneFlagError extends Error {
  readonly code = 'config_invalid';
  readonly status = 500;
  readonly path = '--zone';
  constructor(message: string) {
    super(`--zone: ${message}`);
    this.name = 'ZoneFlagError';
  }
}

/** `cdn.example.com=http://127.0.0.1:4000` → { host, origin } (validated, defaults not applied). */
export function parseZoneFlag(flag: string): { host: string; origin: string } {
  const eq = flag.indexOf('=');
  if (eq <= 0 || eq === flag.length - 1) {
    throw new ZoneFlagError(`expected <hostname>=<origin-url>, got ${JSON.stringify(flag)}`);
  }
  const parsed = zoneSchema.pick({ host: true, origin: true }).safeParse({
    host: flag.slice(0, eq).trim(),
    origin: flag.slice(eq + 1).trim(),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ZoneFlagError(`${issue.path.join('.')} ${issue.message} (in ${JSON.stringify(flag)})`);
  }
  return parsed.data;
}
