import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fleetSchema, type FleetEdgeInput } from '../config/fleet-schema.ts';
import { parseIp } from '../edge/limits/ip-match.ts';
import { createRouter, type AddressFamily } from './routing.ts';
import { distanceKm, type LatLon } from './geo.ts';

const FLEET: FleetEdgeInput[] = [
  { name: 'fra', addresses: ['192.0.2.10', '2001:db8::10'], location: { lat: 50.1, lon: 8.7 }, control: 'http://10.0.0.2:8081' },
  { name: 'nyc', addresses: ['198.51.100.10'], location: { lat: 40.7, lon: -74.0 }, control: 'http://10.0.0.3:8081' },
  { name: 'sfo', addresses: ['203.0.113.10'], location: { lat: 37.8, lon: -122.4 }, control: 'http://10.0.0.4:8081' },
];

/** A locator over a few /16 blocks: Berlin, New York, Los Angeles, Lisbon. */
const PLACES: Record<string, LatLon> = {
  '81.169': { lat: 52.5, lon: 13.4 },
  '24.0': { lat: 40.7, lon: -73.9 },
  '47.144': { lat: 34.05, lon: -118.2 },
  '2.80': { lat: 38.7, lon: -9.1 },
};
const locate = (ip: string) => PLACES[ip.split('.').slice(0, 2).join('.')];

function router(opts: { down?: string[]; routes?: { cidr: string; edges: string[] }[]; defaultEdges?: string[]; weights?: Record<string, number>; perAnswer?: number } = {}) {
  const edges = fleetSchema.parse(FLEET.map((e) => ({ ...e, weight: opts.weights?.[e.name] ?? 1 })));
  const down = new Set(opts.down ?? []);
  return createRouter({
    edges,
    routes: opts.routes ?? [],
    defaultEdges: opts.defaultEdges,
    edgesPerAnswer: opts.perAnswer ?? 1,
    locate,
    health: { isUp: (n) => !down.has(n), generation: () => 0 },
  });
}

const pick = (r: ReturnType<typeof router>, ip: string, bits: number, family: AddressFamily = 4) => {
  const sel = r.select({ ip: parseIp(ip)!, bits }, family);
  return { edges: sel.edges.map((e) => e.name), scope: sel.scope, reason: sel.reason };
};

test('distanceKm: known great-circle distances', () => {
  assert.ok(Math.abs(distanceKm({ lat: 50.1, lon: 8.7 }, { lat: 40.7, lon: -74.0 }) - 6200) < 60, 'Frankfurt–New York ≈ 6200 km');
  assert.equal(distanceKm({ lat: 1, lon: 2 }, { lat: 1, lon: 2 }), 0);
  assert.ok(Math.abs(distanceKm({ lat: 0, lon: 179.9 }, { lat: 0, lon: -179.9 }) - 22.2) < 1, 'across the antimeridian');
});

test('routing table: nearest, routes, default, weights, health, families, scopes', () => {
  const rows: Array<[string, ReturnType<typeof router>, string, number, AddressFamily, { edges: string[]; scope: number; reason: string }]> = [
    ['Berlin /24 → fra', router(), '81.169.145.0', 24, 4, { edges: ['fra'], scope: 24, reason: 'nearest' }],
    ['New York /24 → nyc', router(), '24.0.7.0', 24, 4, { edges: ['nyc'], scope: 24, reason: 'nearest' }],
    ['Los Angeles → sfo', router(), '47.144.1.0', 24, 4, { edges: ['sfo'], scope: 24, reason: 'nearest' }],
    ['resolver address without ECS: located by its /24, scope irrelevant', router(), '81.169.145.7', 32, 4, { edges: ['fra'], scope: 24, reason: 'nearest' }],
    ['a /16 source gives a /16 scope', router(), '81.169.0.0', 16, 4, { edges: ['fra'], scope: 16, reason: 'nearest' }],
    ['unknown location → every edge by default', router(), '192.0.2.99', 32, 4, { edges: ['fra', 'nyc', 'sfo'], scope: 24, reason: 'default' }],
    ['unknown location → the configured default set', router({ defaultEdges: ['nyc'] }), '192.0.2.99', 32, 4, { edges: ['nyc'], scope: 24, reason: 'default' }],
    ['route overrides GeoIP', router({ routes: [{ cidr: '81.169.0.0/16', edges: ['sfo'] }] }), '81.169.145.0', 24, 4, { edges: ['sfo'], scope: 24, reason: 'route' }],
    ['most specific route wins', router({ routes: [{ cidr: '10.0.0.0/8', edges: ['fra'] }, { cidr: '10.1.0.0/16', edges: ['nyc'] }] }), '10.1.2.3', 32, 4, { edges: ['nyc'], scope: 24, reason: 'route' }],
    ['route longer than /24 raises the scope', router({ routes: [{ cidr: '10.1.2.0/28', edges: ['nyc'] }] }), '10.1.2.3', 32, 4, { edges: ['nyc'], scope: 28, reason: 'route' }],
    ['a longer route inside a short ECS block raises the scope', router({ routes: [{ cidr: '81.169.145.0/24', edges: ['sfo'] }] }), '81.169.0.0', 16, 4, { edges: ['fra'], scope: 24, reason: 'nearest' }],
    ['route whose edges are all down → nearest healthy', router({ routes: [{ cidr: '81.169.0.0/16', edges: ['sfo'] }], down: ['sfo'] }), '81.169.1.0', 24, 4, { edges: ['fra'], scope: 24, reason: 'nearest' }],
    ['nearest down → next nearest', router({ down: ['fra'] }), '81.169.145.0', 24, 4, { edges: ['nyc'], scope: 24, reason: 'nearest' }],
    ['every edge down → all of them', router({ down: ['fra', 'nyc', 'sfo'] }), '81.169.145.0', 24, 4, { edges: ['fra', 'nyc', 'sfo'], scope: 24, reason: 'all-down' }],
    ['weight 3 pulls Lisbon to nyc (5400 km / 3 < 1900 km)', router({ weights: { nyc: 3 } }), '2.80.1.0', 24, 4, { edges: ['nyc'], scope: 24, reason: 'nearest' }],
    ['without the weight Lisbon goes to fra', router(), '2.80.1.0', 24, 4, { edges: ['fra'], scope: 24, reason: 'nearest' }],
    ['two per answer, nearest first', router({ perAnswer: 2 }), '24.0.7.0', 24, 4, { edges: ['nyc', 'sfo'], scope: 24, reason: 'nearest' }],
    ['AAAA: only fra has IPv6, even for New York', router(), '24.0.7.0', 24, 6, { edges: ['fra'], scope: 24, reason: 'nearest' }],
    ['IPv6 client, unknown location', router(), '2001:db8:1::', 48, 4, { edges: ['fra', 'nyc', 'sfo'], scope: 48, reason: 'default' }],
    ['IPv6 client without ECS: scope /56', router(), '2001:db8:1::1', 128, 6, { edges: ['fra'], scope: 56, reason: 'default' }],
    ['ECS /0 is not used: callers pass the resolver address instead; /0 itself locates nothing', router(), '0.0.0.0', 0, 4, { edges: ['fra', 'nyc', 'sfo'], scope: 0, reason: 'default' }],
  ];
  for (const [what, r, ip, bits, family, expected] of rows) assert.deepEqual(pick(r, ip, bits, family), expected, what);
});

test('answers are cached per block until health changes', () => {
  const edges = fleetSchema.parse(FLEET);
  let generation = 0;
  const down = new Set<string>();
  let lookups = 0;
  const r = createRouter({
    edges,
    routes: [],
    defaultEdges: undefined,
    edgesPerAnswer: 1,
    locate: (ip) => (lookups++, locate(ip)),
    health: { isUp: (n) => !down.has(n), generation: () => generation },
  });
  const client = { ip: parseIp('81.169.145.0')!, bits: 24 };
  assert.equal(r.select(client, 4).edges[0].name, 'fra');
  assert.equal(r.select({ ip: parseIp('81.169.145.77')!, bits: 24 }, 4).edges[0].name, 'fra', 'host bits past the source prefix do not matter');
  assert.equal(lookups, 1, 'one GeoIP lookup per block');
  down.add('fra');
  assert.equal(r.select(client, 4).edges[0].name, 'fra', 'cached until the generation moves');
  generation++;
  assert.equal(r.select(client, 4).edges[0].name, 'nyc');
});
