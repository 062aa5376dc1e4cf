// The DNS service put together from the configuration: locators, health checks, router, authority,
// rate limiter and listeners. `mediacdn dns` and the tests start it the same way.
import type { Config } from '../config/index.ts';
import { fleetOf } from '../config/fleet.ts';
import { MediaCdnError, EXIT } from '../errors.ts';
import { createAuthority } from './authority.ts';
import { builtinLocator, chainLocators, mmdbLocator, type Locator } from './geo.ts';
import { createHealthChecker, type HealthChecker, type HealthProbe } from './health.ts';
import type { Timers } from '../server/timers.ts';
import { createRouter } from './routing.ts';
import { createRrl } from './rrl.ts';
import { listenDns, type DnsListener } from './server.ts';

export class DnsSetupError extends MediaCdnError {
  constructor(message: string) {
    super('dns_config', message, { exitCode: EXIT.usage });
  }
}

export type DnsServiceOptions = {
  config: Pick<Config, 'fleet' | 'dns' | 'edge'>;
  /** Overrides config.dns.host / port (flags). */
  host?: string;
  port?: number;
  /** Replaces the configured GeoIP databases (tests). */
  locate?: Locator;
  probe?: HealthProbe;
  timers?: Timers;
  onHealthChange?: (edge: string, up: boolean) => void;
};

export type DnsService = DnsListener & { health: HealthChecker; zones: readonly string[] };

/** The locator the configuration asks for: the .mmdb file first, then geoip-lite's database. */
export function configuredLocator(dns: Config['dns']): Locator {
  const chain: Locator[] = [];
  if (dns.geoipDatabase !== undefined) chain.push(mmdbLocator(dns.geoipDatabase));
  if (dns.builtinGeoip) chain.push(builtinLocator());
  return chainLocators(chain);
}

export async function startDnsService(o: DnsServiceOptions): Promise<DnsService> {
  const { dns, edge } = o.config;
  const fleet = fleetOf(o.config);
  const zones = edge.zones.map((z) => z.host);
  if (zones.length === 0) throw new DnsSetupError('dns: no names to answer for; add edge.zones[] with the CDN host names');
  if (fleet.edges.length === 0) throw new DnsSetupError('dns: the fleet has no edges; add fleet[] members with addresses and a location');
  const health = createHealthChecker({
    edges: fleet.edges,
    intervalMs: dns.healthIntervalMs,
    timeoutMs: dns.healthTimeoutMs,
    failuresBeforeDown: dns.failuresBeforeDown,
    successesBeforeUp: dns.successesBeforeUp,
    probe: o.probe,
    timers: o.timers,
    onChange: o.onHealthChange,
  });
  const router = createRouter({
    edges: fleet.edges,
    routes: dns.routes,
    defaultEdges: dns.default,
    edgesPerAnswer: dns.edgesPerAnswer,
    locate: o.locate ?? configuredLocator(dns),
    health,
  });
  const authority = createAuthority({
    zones,
    nameservers: dns.nameservers,
    soaEmail: dns.soaEmail,
    ttl: dns.ttl,
    nsTtl: dns.nsTtl,
    serial: Math.floor(Date.now() / 1000),
    router,
    udpMaxPayload: dns.udpMaxPayload,
  });
  const listener = await listenDns({
    authority,
    rrl: createRrl(dns.rateLimit),
    host: o.host ?? dns.host,
    port: o.port ?? dns.port,
    tcpIdleTimeoutMs: dns.tcpIdleTimeoutMs,
    tcpMaxConnections: dns.tcpMaxConnections,
  });
  health.start();
  return {
    ...listener,
    health,
    zones,
    close: async () => {
      health.stop();
      await listener.close();
    },
  };
}
