// `mediacdn dns --export powerdns`: the same routing as zone files with PowerDNS LUA records, for
// operators who run PowerDNS (enable-lua-records=yes). The CIDR table becomes `netmask()` rules (most
// specific first) with the route's edges as the first pool of an `ifurlup()` on the edges' health URL
// and every other edge as the fallback pool; everyone else gets the default set first, or with
// `geoip` the edge PowerDNS's GeoIP backend finds closest (`selector='pickclosest'`). When every
// address is down, all are answered (backupSelector='all'), as `mediacdn dns` does.
//
// PowerDNS checks the health URL's port and path at each candidate address (Host header from the URL),
// so every edge's control listener must answer on the edge's public addresses and on one port.
import type { Config } from '../config/index.ts';
import { fleetOf, healthUrl, type FleetEdge } from '../config/fleet.ts';
import { formatCidr, parseCidr } from '../edge/limits/ip-match.ts';
import { MediaCdnError, EXIT } from '../errors.ts';
import { hasFamily, type AddressFamily } from './routing.ts';
import { isIP } from 'node:net';

export class PowerDnsExportError extends MediaCdnError {
  constructor(message: string) {
    super('dns_export', `dns --export powerdns: ${message}`, { exitCode: EXIT.usage });
  }
}

export type PowerDnsExport = {
  /** File name → contents: one zone file per zone and a named.conf for the bind backend. */
  files: Map<string, string>;
};

const lua = (list: readonly string[]) => `{${list.map((a) => `'${a}'`).join(',')}}`;

function addrs(edges: readonly FleetEdge[], family: AddressFamily): string[] {
  return edges.flatMap((e) => e.addresses.filter((a) => isIP(a) === family));
}

/** One LUA record body (the part inside the quotes) for A or AAAA. */
function luaBody(config: Pick<Config, 'fleet' | 'dns'>, family: AddressFamily, url: string, geoip: boolean): string | undefined {
  const edges = fleetOf(config).edges.filter((e) => hasFamily(e, family));
  if (edges.length === 0) return undefined;
  const byName = new Map(edges.map((e) => [e.name, e]));
  const opts = (selector: string) => `{selector='${selector}',backupSelector='all'}`;
  const pools = (first: readonly FleetEdge[]) => {
    const rest = edges.filter((e) => !first.includes(e));
    return `{${[first, rest].filter((p) => p.length > 0).map((p) => lua(addrs(p, family))).join(',')}}`;
  };
  const lines: string[] = [`local u='${url}'`];
  const routes = config.dns.routes
    .map((r) => ({ block: parseCidr(r.cidr)!, edges: r.edges.map((n) => byName.get(n)).filter((e) => e !== undefined) }))
    .filter((r) => r.edges.length > 0)
    .sort((a, b) => b.block.prefix - a.block.prefix);
  for (const r of routes) {
    lines.push(`if netmask({'${formatCidr(r.block)}'}) then return ifurlup(u,${pools(r.edges)},${opts('all')}) end`);
  }
  if (geoip) {
    lines.push(`return ifurlup(u,{${lua(addrs(edges, family))}},${opts('pickclosest')})`);
  } else {
    const defaults = config.dns.default === undefined ? edges : config.dns.default.map((n) => byName.get(n)).filter((e) => e !== undefined);
    lines.push(`return ifurlup(u,${pools(defaults.length > 0 ? defaults : edges)},${opts('all')})`);
  }
  return `;${lines.join(' ')}`;
}

/** The health URL PowerDNS checks at every edge address: one scheme, port and path for the whole fleet. */
function fleetHealthUrl(edges: readonly FleetEdge[]): string {
  const urls = edges.map((e) => new URL(healthUrl(e)));
  const key = (u: URL) => `${u.protocol}//:${u.port}${u.pathname}`;
  const first = urls[0];
  const other = urls.find((u) => key(u) !== key(first));
  if (other) throw new PowerDnsExportError(`PowerDNS checks one health URL at every edge address, but the fleet's control URLs differ (${first.href} and ${other.href}); give every edge's control listener the same scheme, port and path.`);
  if (/['"\\\s]/.test(first.href)) throw new PowerDnsExportError(`the health URL ${JSON.stringify(first.href)} has characters that cannot go into a LUA record.`);
  return first.href;
}

export function exportPowerDns(config: Pick<Config, 'fleet' | 'dns' | 'edge'>, opts: { serial: number; geoip: boolean; /** Where the zone files will be (named.conf `directory`); default: PowerDNS's working directory. */ directory?: string }): PowerDnsExport {
  const fleet = fleetOf(config);
  if (fleet.edges.length === 0) throw new PowerDnsExportError('the fleet has no edges.');
  const zones = [...new Set(config.edge.zones.map((z) => z.host))];
  if (zones.length === 0) throw new PowerDnsExportError('no zones; add edge.zones[] with the CDN host names.');
  const url = fleetHealthUrl(fleet.edges);
  const { dns } = config;
  const files = new Map<string, string>();
  const conf: string[] = ['// named.conf for PowerDNS bind backend (bind-config=<this file>); written by mediacdn dns --export powerdns'];
  if (opts.directory !== undefined) conf.push(`options { directory "${opts.directory.replace(/["\\]/g, '\\$&')}"; };`);
  for (const apex of zones) {
    const ns = dns.nameservers.length > 0 ? dns.nameservers : [{ name: `ns.${apex}`, addresses: [] as string[] }];
    const email = dns.soaEmail ?? `hostmaster@${apex}`;
    const rname = `${email.slice(0, email.lastIndexOf('@')).replace(/\./g, '\\.')}.${email.slice(email.lastIndexOf('@') + 1)}`;
    const lines = [
      `; ${apex}: written by mediacdn dns --export powerdns; needs enable-lua-records=yes`,
      `$ORIGIN ${apex}.`,
      `@ ${dns.nsTtl} IN SOA ${ns[0].name}. ${rname}. ${opts.serial} 3600 600 604800 ${dns.ttl}`,
      ...ns.map((n) => `@ ${dns.nsTtl} IN NS ${n.name}.`),
      ...ns
        .filter((n) => n.name.endsWith(`.${apex}`))
        .flatMap((n) => n.addresses.map((a) => `${n.name}. ${dns.nsTtl} IN ${isIP(a) === 4 ? 'A' : 'AAAA'} ${a}`)),
    ];
    for (const [family, type] of [[4, 'A'], [6, 'AAAA']] as const) {
      const body = luaBody(config, family, url, opts.geoip);
      if (body !== undefined) lines.push(`@ ${dns.ttl} IN LUA ${type} "${body}"`);
    }
    files.set(`${apex}.zone`, `${lines.join('\n')}\n`);
    conf.push(`zone "${apex}" { type master; file "${apex}.zone"; };`);
  }
  files.set('named.conf', `${conf.join('\n')}\n`);
  return { files };
}
