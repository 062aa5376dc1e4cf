// Which edges a client is sent to: the configured CIDR table first (most specific block), else the
// nearest healthy edges to the client's GeoIP location (great-circle distance divided by weight), else
// the default set. Unhealthy edges are left out unless every candidate is down. Results are cached per
// client block and answer family until the health of any edge changes.
import type { FleetEdge } from '../config/fleet.ts';
import { cidrContains, formatIp, maskIp, parseCidr, parseIp, type Cidr, type IpAddress } from '../edge/limits/ip-match.ts';
import { distanceKm, type Locator } from './geo.ts';

export type AddressFamily = 4 | 6;

/** The client as DNS sees it: an address and how many of its leading bits are known (ECS source prefix, else all). */
export type ClientBlock = { ip: IpAddress; bits: number };

export type Selection = Readonly<{
  /** Edges whose `family` addresses go into the answer; empty when no edge has an address of that family. */
  edges: readonly FleetEdge[];
  /** ECS scope prefix length: how many leading bits of the client address this answer depends on. */
  scope: number;
  /** Why these edges, for logs and tests. */
  reason: 'route' | 'nearest' | 'default' | 'all-down' | 'none';
}>;

export type Health = { isUp(name: string): boolean; generation(): number };

export type RouterOptions = {
  edges: readonly FleetEdge[];
  routes: readonly { cidr: string; edges: readonly string[] }[];
  /** Names for clients of unknown location; undefined = every edge. */
  defaultEdges: readonly string[] | undefined;
  edgesPerAnswer: number;
  locate: Locator;
  health: Health;
  /** Entries kept before the cache starts over. */
  cacheSize?: number;
};

/** Blocks this short are located as a whole: finer GeoIP data buys nothing and the cache stays small. */
const GEO_BITS: Record<AddressFamily, number> = { 4: 24, 6: 56 };
const FULL_BITS: Record<AddressFamily, number> = { 4: 32, 6: 128 };

export type Router = { select(client: ClientBlock, family: AddressFamily): Selection };

export function hasFamily(edge: FleetEdge, family: AddressFamily): boolean {
  return edge.addresses.some((a) => parseIp(a)?.family === family);
}

function networkOf(block: Cidr): IpAddress {
  return block.family === 4 ? { family: 4, value: block.network } : { family: 6, value: block.network };
}

export function createRouter(opts: RouterOptions): Router {
  const byName = new Map(opts.edges.map((e) => [e.name, e]));
  const routes = opts.routes.map((r) => ({ block: parseCidr(r.cidr) as Cidr, edges: r.edges.map((n) => byName.get(n)).filter((e) => e !== undefined) }));
  const defaults = opts.defaultEdges === undefined ? opts.edges : opts.defaultEdges.map((n) => byName.get(n)).filter((e) => e !== undefined);
  const candidates: Record<AddressFamily, readonly FleetEdge[]> = { 4: opts.edges.filter((e) => hasFamily(e, 4)), 6: opts.edges.filter((e) => hasFamily(e, 6)) };
  const cacheSize = opts.cacheSize ?? 100_000;
  const cache = new Map<string, Selection>();
  let generation = opts.health.generation();

  const up = (list: readonly FleetEdge[], family: AddressFamily) => list.filter((e) => hasFamily(e, family) && opts.health.isUp(e.name));

  function compute(client: ClientBlock, family: AddressFamily): Selection {
    const cf = client.ip.family;
    const bits = Math.min(client.bits, FULL_BITS[cf]);
    const geoBits = Math.min(bits, GEO_BITS[cf]);
    let scope = geoBits;
    // The most specific route holding the client's known block; a longer route inside that block means
    // the answer depends on more bits than the client sent (the resolver learns so from the scope).
    let match: (typeof routes)[number] | undefined;
    for (const r of routes) {
      if (r.block.family !== cf) continue;
      if (r.block.prefix <= bits) {
        if (cidrContains(r.block, client.ip) && (match === undefined || r.block.prefix > match.block.prefix)) match = r;
      } else if (maskIp(networkOf(r.block), bits).value === maskIp(client.ip, bits).value) {
        scope = Math.max(scope, r.block.prefix);
      }
    }
    if (candidates[family].length === 0) return { edges: [], scope, reason: 'none' };
    if (match) {
      scope = Math.max(scope, match.block.prefix);
      const healthy = up(match.edges, family);
      if (healthy.length > 0) return { edges: healthy, scope, reason: 'route' };
    }
    const healthy = up(candidates[family], family);
    if (healthy.length === 0) return { edges: candidates[family], scope, reason: 'all-down' };
    const where = opts.locate(formatIp(maskIp(client.ip, geoBits)));
    if (where) {
      const ranked = healthy
        .map((e) => ({ e, d: distanceKm(where, e.location!) / e.weight }))
        .sort((a, b) => a.d - b.d || (a.e.name < b.e.name ? -1 : 1));
      return { edges: ranked.slice(0, opts.edgesPerAnswer).map((r) => r.e), scope, reason: 'nearest' };
    }
    const fallback = up(defaults, family);
    return { edges: fallback.length > 0 ? fallback : healthy, scope, reason: 'default' };
  }

  return {
    select(client, family) {
      const g = opts.health.generation();
      if (g !== generation) {
        cache.clear();
        generation = g;
      }
      const masked = maskIp(client.ip, client.bits);
      const key = `${family}|${masked.family}|${masked.value}|${client.bits}`;
      let hit = cache.get(key);
      if (hit === undefined) {
        hit = compute({ ip: masked, bits: client.bits }, family);
        if (cache.size >= cacheSize) cache.clear();
        cache.set(key, hit);
      }
      return hit;
    },
  };
}
