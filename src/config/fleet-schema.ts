// The `fleet` (every edge of the CDN, configured once) and `dns` (the geo DNS server that routes
// clients to them) sections of the configuration. Cross-references (route and default edge names) are
// checked in `checkFleetReferences`, called by the file schema, so errors name the option path.
import { z } from 'zod';
import { normaliseIp, parseCidr } from '../edge/limits/ip-match.ts';
import { originUrl, zoneHost } from './edge-schema.ts';

/** A fleet member's name: lower-case letters, digits and dashes, as in a DNS label (it appears in logs, stats and exports). */
const edgeName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { message: 'must be 1-63 lower-case letters, digits or dashes (e.g. fra, nyc-2)' });

/** One IPv4 or IPv6 address, kept in canonical text (RFC 5952; `::ffff:a.b.c.d` becomes a.b.c.d). */
const ipAddress = z
  .string()
  .refine((s) => normaliseIp(s) !== undefined && !s.includes('%'), { message: 'must be an IPv4 or IPv6 address such as 192.0.2.10 or 2001:db8::10' })
  .transform((s) => normaliseIp(s)!);

const location = z
  .object({
    lat: z.number().min(-90).max(90),
    lon: z.number().min(-180).max(180),
  })
  .strict();

/** The roles a fleet member plays. Edges answer clients (DNS routes to them); shields sit between edges and the origin and are purged first. */
export const FLEET_ROLES = ['edge', 'shield'] as const;
export type FleetRole = (typeof FLEET_ROLES)[number];

export const fleetEdgeSchema = z
  .object({
    name: edgeName,
    /** Addresses clients connect to (A / AAAA answers). A shield needs none. */
    addresses: z.array(ipAddress).default([]),
    /** Where the edge is; DNS sends each client to the nearest one (great-circle distance). */
    location: location.optional(),
    /** The edge's control listener (edge.adminPort), e.g. http://10.0.0.2:8081: health, purge and stats. */
    control: originUrl,
    /**
     * Preference among edges: the distance to an edge is divided by its weight, so an edge of weight 2
     * wins against an edge of weight 1 up to twice as far away. Default 1.
     */
    weight: z.number().positive().max(1000).default(1),
    role: z.enum(FLEET_ROLES).default('edge'),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.role !== 'edge') return;
    if (e.addresses.length === 0) ctx.addIssue({ code: 'custom', path: ['addresses'], message: 'an edge needs at least one address for DNS answers' });
    if (e.location === undefined) ctx.addIssue({ code: 'custom', path: ['location'], message: 'an edge needs a location { "lat": …, "lon": … }' });
  });

export const fleetSchema = z.array(fleetEdgeSchema).superRefine((fleet, ctx) => {
  const seen = new Set<string>();
  fleet.forEach((e, i) => {
    if (seen.has(e.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `fleet member ${e.name} is defined twice` });
    seen.add(e.name);
  });
});

const edgeNames = z.array(edgeName);

const routeSchema = z
  .object({
    /** Clients (EDNS Client Subnet, else the resolver's address) inside this block… */
    cidr: z.string().refine((s) => parseCidr(s) !== undefined, { message: 'must be a CIDR block such as 10.1.0.0/16 or 2001:db8::/32' }),
    /** …are answered with these edges (the healthy ones), whatever GeoIP says. */
    edges: edgeNames.min(1),
  })
  .strict();

const nameserverSchema = z
  .object({
    /** Host name of a server answering for the zones (NS records, SOA MNAME for the first). */
    name: zoneHost,
    /** Its addresses: answered for names inside a zone (glue); tell the parent zone the same. */
    addresses: z.array(ipAddress).default([]),
  })
  .strict();

/** Response rate limiting per client subnet (UDP only), after nsd / Knot / BIND RRL. */
const rateLimitSchema = z
  .object({
    /** Answers per second to one subnet; 0 disables the limit. */
    responsesPerSecond: z.number().int().min(0).default(200),
    /** Every slip-th limited answer goes out truncated (TC, empty) so real clients retry over TCP; 0 = drop all, 1 = truncate all. */
    slip: z.number().int().min(0).max(10).default(2),
    ipv4PrefixLength: z.number().int().min(8).max(32).default(24),
    ipv6PrefixLength: z.number().int().min(16).max(128).default(56),
  })
  .strict();

export const dnsConfigSchema = z
  .object({
    host: z.string().min(1).default('0.0.0.0'),
    port: z.number().int().min(0).max(65535).default(53),
    /** TTL of A / AAAA answers (seconds). Short, so clients move when an edge goes down. */
    ttl: z.number().int().min(0).max(86_400).default(30),
    /** TTL of the SOA and NS records. */
    nsTtl: z.number().int().min(0).max(604_800).default(3600),
    /** A MaxMind-format (.mmdb) city or country database, consulted before the built-in one. */
    geoipDatabase: z.string().min(1).optional(),
    /** The database shipped with the geoip-lite package (about 150 MB of memory); false = only geoipDatabase and routes. */
    builtinGeoip: z.boolean().default(true),
    /** How often each edge's /_mediacdn/health is checked. */
    healthIntervalMs: z.number().int().positive().default(5_000),
    healthTimeoutMs: z.number().int().positive().default(1_000),
    /** Consecutive failed checks before an edge leaves the answers. */
    failuresBeforeDown: z.number().int().min(1).max(10).default(2),
    /** Consecutive good checks before a down edge comes back. */
    successesBeforeUp: z.number().int().min(1).max(10).default(2),
    /** How many of the nearest edges one answer names (routes and default answer all their healthy edges). */
    edgesPerAnswer: z.number().int().min(1).max(16).default(1),
    /** CIDR → edges table; the most specific block wins, over EDNS Client Subnet and GeoIP alike. */
    routes: z.array(routeSchema).default([]),
    /** Edges for clients whose location is unknown; default: every edge. */
    default: edgeNames.optional(),
    /** NS records of every zone; the first is the SOA MNAME. Default: ns.<zone host> without addresses. */
    nameservers: z.array(nameserverSchema).default([]),
    /** SOA RNAME as an e-mail address; default hostmaster@<zone host>. */
    soaEmail: z
      .string()
      .regex(/^[^@\s]+@[a-z0-9.-]+$/i, { message: 'must be an e-mail address such as hostmaster@example.com' })
      .optional(),
    rateLimit: rateLimitSchema.default(rateLimitSchema.parse({})),
    /** A TCP connection with no complete query for this long is closed. */
    tcpIdleTimeoutMs: z.number().int().positive().default(10_000),
    /** Open TCP connections at most; further ones are closed at once. */
    tcpMaxConnections: z.number().int().min(1).default(256),
    /** Largest UDP answer we send whatever the client's EDNS buffer says (1232: the DNS flag day 2020 value, no fragmentation). */
    udpMaxPayload: z.number().int().min(512).max(4096).default(1232),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.healthTimeoutMs >= d.healthIntervalMs) {
      ctx.addIssue({ code: 'custom', path: ['healthTimeoutMs'], message: 'must be shorter than healthIntervalMs' });
    }
  });

export type FleetEdge = z.infer<typeof fleetEdgeSchema>;
export type FleetEdgeInput = z.input<typeof fleetEdgeSchema>;
export type DnsConfig = z.infer<typeof dnsConfigSchema>;
export type DnsConfigInput = z.input<typeof dnsConfigSchema>;

/** Route and default edge names must be fleet members that answer clients (role edge). */
export function checkFleetReferences(fleet: readonly FleetEdge[], dns: DnsConfig, ctx: z.RefinementCtx): void {
  const roles = new Map(fleet.map((e) => [e.name, e.role]));
  const check = (name: string, path: (string | number)[]) => {
    const role = roles.get(name);
    if (role === undefined) ctx.addIssue({ code: 'custom', path, message: `${name} is not in the fleet` });
    else if (role !== 'edge') ctx.addIssue({ code: 'custom', path, message: `${name} is a ${role}, not an edge clients can be sent to` });
  };
  dns.routes.forEach((r, i) => r.edges.forEach((n, j) => check(n, ['dns', 'routes', i, 'edges', j])));
  dns.default?.forEach((n, j) => check(n, ['dns', 'default', j]));
}
