// The shape of mediacdn's configuration (config file keys; env vars and flags map onto them).
import { z } from 'zod';
import { edgeConfigSchema, tlsFilesSchema } from './edge-schema.ts';
import { checkFleetReferences, dnsConfigSchema, fleetSchema } from './fleet-schema.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export const originSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(4000),
    /** Worker processes; 0 = one per core. */
    workers: z.number().int().min(0).max(64).default(0),
    cacheControl: z.string().min(1).default('public, max-age=31536000, immutable'),
    /** max-age for 404s of media names, so edges do not hammer the origin. */
    notFoundMaxAge: z.number().int().min(0).default(60),
    maxUploadBytes: z.number().int().positive().default(2 * GiB),
    /** Bounded memory cache: small files whole, hot 64 KiB blocks of larger ones (0 disables). */
    memoryCacheBytes: z.number().int().min(0).default(64 * MiB),
    memoryCacheMaxFileBytes: z.number().int().min(0).default(1 * MiB),
    /**
     * Send bodies of 64 KiB to 1 MiB of files not held in memory with sendfile(2), when the helper
     * was built at install (build/sendfile.node; needs a C compiler): the kernel sends them from the
     * page cache without a copy through the process. false: always copy.
     */
    sendfile: z.boolean().default(true),
    headersTimeoutMs: z.number().int().positive().default(10_000),
    keepAliveTimeoutMs: z.number().int().positive().default(5_000),
    requestTimeoutMs: z.number().int().min(0).default(0),
    /** A request body that sends no byte for this long is cut (408); 0 = never. */
    bodyIdleTimeoutMs: z.number().int().min(0).default(30_000),
    shutdownGraceMs: z.number().int().min(0).default(10_000),
    /**
     * How long a looked-up media record is trusted before it is checked again (src/origin/media-cache.ts).
     * A deletion made by another process is served at most this long: edges are purged after it.
     */
    recordTtlMs: z.number().int().min(0).max(60_000).default(5_000),
    /** Edge control URLs (e.g. http://127.0.0.1:8080) purged when media is deleted. */
    purgeEdges: z.array(z.string().url()).default([]),
    /** Serve https with this certificate and key (PEM files, watched and reloaded when they change). */
    tls: tlsFilesSchema.optional(),
  })
  .strict();


export const backupSchema = z
  .object({
    repo: z.string().min(1).optional(),
    /** Shell command run after a successful snapshot with the snapshot path as its argument. */
    then: z.string().min(1).optional(),
  })
  .strict();

export const fileSchema = z
  .object({
    dataDir: z.string().min(1).default('./data'),
    databaseUrl: z.string().min(1).optional(),
    mediaDir: z.string().min(1).optional(),
    mediaUrl: z.string().min(1).optional(),
    cdn: z.string().min(1).optional(),
    token: z.string().min(16, 'the admin token must be at least 16 characters').optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    origin: originSchema.default(originSchema.parse({})),
    edge: edgeConfigSchema.default(edgeConfigSchema.parse({})),
    backup: backupSchema.default({}),
    /** Every edge (and shield) of the CDN: read by the origin (purges), the DNS server and the CLI (stats). */
    fleet: fleetSchema.default([]),
    dns: dnsConfigSchema.default(dnsConfigSchema.parse({})),
  })
  .strict()
  .superRefine((c, ctx) => checkFleetReferences(c.fleet, c.dns, ctx));

export type FileConfig = z.infer<typeof fileSchema>;
export type OriginConfig = z.infer<typeof originSchema>;
