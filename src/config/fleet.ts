// The fleet as the origin, the DNS server and the CLI read it: one typed view over `config.fleet`,
// with the derived URLs (health, stats, purge) and the purge order (shields before edges) in one place.
import type { FleetEdge, FleetRole } from './fleet-schema.ts';

export type { FleetEdge, FleetRole };

export type Fleet = Readonly<{
  /** Every member in configuration order. */
  members: readonly FleetEdge[];
  /** Members that answer clients (role edge): what DNS routes to. */
  edges: readonly FleetEdge[];
  /** Members between edges and the origin (role shield). */
  shields: readonly FleetEdge[];
  byName: (name: string) => FleetEdge | undefined;
  /**
   * Purge waves, run one after the other: shields first, then edges, so that no edge refills from a
   * shield that still holds the old copy. Empty waves are left out.
   */
  purgeWaves: readonly (readonly FleetEdge[])[];
}>;

/** `control` + path, e.g. controlUrl(edge, '/_mediacdn/health'). */
export function controlUrl(edge: Pick<FleetEdge, 'control'>, path: string): string {
  return `${edge.control}${path}`;
}

/** What DNS checks: the edge's unauthenticated health endpoint. */
export function healthUrl(edge: Pick<FleetEdge, 'control'>): string {
  return controlUrl(edge, '/_mediacdn/health');
}

export function fleetOf(config: { fleet: readonly FleetEdge[] }): Fleet {
  const members = config.fleet;
  const edges = members.filter((m) => m.role === 'edge');
  const shields = members.filter((m) => m.role === 'shield');
  const byName = new Map(members.map((m) => [m.name, m]));
  return Object.freeze({
    members,
    edges,
    shields,
    byName: (name: string) => byName.get(name),
    purgeWaves: [shields, edges].filter((w) => w.length > 0),
  });
}
