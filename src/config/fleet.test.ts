import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from './index.ts';
import { fleetOf, healthUrl } from './fleet.ts';
import { ConfigError } from '../errors.ts';
import { tempDirSync } from '../../test/helpers/temp.ts';

const tmp = () => tempDirSync('mediacdn-fleet-');

const FRA = { name: 'fra', addresses: ['192.0.2.10'], location: { lat: 50.1, lon: 8.7 }, control: 'http://10.0.0.2:8081' };
const NYC = { name: 'nyc', addresses: ['198.51.100.10', '2001:DB8::10'], location: { lat: 40.7, lon: -74.0 }, control: 'http://10.0.0.3:8081/' };

test('the example fleet and dns sections load, with defaults and normalised values', () => {
  const cwd = tmp();
  writeFileSync(
    path.join(cwd, 'mediacdn.config.json'),
    JSON.stringify({
      fleet: [FRA, NYC],
      dns: { port: 53, ttl: 30, geoipDatabase: 'optional.mmdb', healthIntervalMs: 5000, routes: [{ cidr: '10.1.0.0/16', edges: ['fra'] }], default: ['fra', 'nyc'] },
    }),
  );
  const c = loadConfig({ env: {}, cwd });
  assert.equal(c.fleet.length, 2);
  assert.deepEqual(c.fleet[1].addresses, ['198.51.100.10', '2001:db8::10'], 'IPv6 in RFC 5952 form');
  assert.equal(c.fleet[1].control, 'http://10.0.0.3:8081', 'trailing slash dropped');
  assert.equal(c.fleet[0].weight, 1);
  assert.equal(c.fleet[0].role, 'edge');
  assert.equal(c.dns.geoipDatabase, path.join(cwd, 'optional.mmdb'), 'resolved against the working directory');
  assert.equal(c.dns.healthTimeoutMs, 1000);
  assert.equal(c.dns.failuresBeforeDown, 2);
  assert.equal(c.dns.successesBeforeUp, 2);
  assert.equal(c.dns.rateLimit.slip, 2);
  assert.ok(Object.isFrozen(c.fleet[0].location) && Object.isFrozen(c.dns.routes));
  assert.equal(healthUrl(c.fleet[1]), 'http://10.0.0.3:8081/_mediacdn/health');
});

test('without a fleet the config still loads: an empty fleet and dns defaults', () => {
  const c = loadConfig({ env: {}, cwd: tmp() });
  assert.deepEqual(c.fleet, []);
  assert.equal(c.dns.port, 53);
  assert.equal(c.dns.ttl, 30);
  assert.equal(c.dns.healthIntervalMs, 5000);
  assert.equal(loadConfig({ env: { MEDIACDN_DNS_PORT: '5353' }, cwd: tmp() }).dns.port, 5353);
});

test('fleetOf: edges, shields, lookup by name, and purge waves with shields first', () => {
  const shield = { name: 'shield', control: 'http://10.0.0.9:8081', role: 'shield' };
  const c = loadConfig({ env: {}, cwd: tmp(), flags: { fleet: [FRA, shield, NYC] } });
  const fleet = fleetOf(c);
  assert.deepEqual(fleet.edges.map((e) => e.name), ['fra', 'nyc']);
  assert.deepEqual(fleet.shields.map((e) => e.name), ['shield']);
  assert.equal(fleet.byName('nyc')?.location?.lat, 40.7);
  assert.equal(fleet.byName('nope'), undefined);
  assert.deepEqual(fleet.purgeWaves.map((w) => w.map((e) => e.name)), [['shield'], ['fra', 'nyc']]);
  assert.deepEqual(fleetOf(loadConfig({ env: {}, cwd: tmp(), flags: { fleet: [FRA] } })).purgeWaves.map((w) => w.length), [1]);
});

test('bad fleet and dns values are errors that name the option path', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['duplicate name', { fleet: [FRA, { ...NYC, name: 'fra' }] }, /config fleet\.1\.name: fleet member fra is defined twice/],
    ['bad name', { fleet: [{ ...FRA, name: 'Frankfurt 1' }] }, /config fleet\.0\.name: must be 1-63 lower-case/],
    ['bad address', { fleet: [{ ...FRA, addresses: ['192.0.2.300'] }] }, /config fleet\.0\.addresses\.0: must be an IPv4 or IPv6 address/],
    ['CIDR as address', { fleet: [{ ...FRA, addresses: ['192.0.2.0/24'] }] }, /config fleet\.0\.addresses\.0:/],
    ['edge without address', { fleet: [{ ...FRA, addresses: [] }] }, /config fleet\.0\.addresses: an edge needs at least one address/],
    ['edge without location', { fleet: [{ ...FRA, location: undefined }] }, /config fleet\.0\.location: an edge needs a location/],
    ['latitude out of range', { fleet: [{ ...FRA, location: { lat: 91, lon: 0 } }] }, /config fleet\.0\.location\.lat:/],
    ['unknown location key', { fleet: [{ ...FRA, location: { lat: 1, lng: 2 } }] }, /config fleet\.0\.location\.(lon|lng)/],
    ['control not a URL', { fleet: [{ ...FRA, control: '10.0.0.2:8081' }] }, /config fleet\.0\.control: must be an http/],
    ['zero weight', { fleet: [{ ...FRA, weight: 0 }] }, /config fleet\.0\.weight:/],
    ['unknown role', { fleet: [{ ...FRA, role: 'cache' }] }, /config fleet\.0\.role:/],
    ['unknown fleet key', { fleet: [{ ...FRA, region: 'eu' }] }, /config fleet\.0\.region: unknown option/],
    ['route to unknown edge', { fleet: [FRA], dns: { routes: [{ cidr: '10.0.0.0/8', edges: ['nyc'] }] } }, /config dns\.routes\.0\.edges\.0: nyc is not in the fleet/],
    ['route to a shield', { fleet: [FRA, { name: 's', control: 'http://s:1', role: 'shield' }], dns: { routes: [{ cidr: '10.0.0.0/8', edges: ['s'] }] } }, /config dns\.routes\.0\.edges\.0: s is a shield/],
    ['default unknown edge', { fleet: [FRA], dns: { default: ['fra', 'sfo'] } }, /config dns\.default\.1: sfo is not in the fleet/],
    ['bad CIDR', { fleet: [FRA], dns: { routes: [{ cidr: '10.0.0.0/33', edges: ['fra'] }] } }, /config dns\.routes\.0\.cidr: must be a CIDR block/],
    ['empty route', { fleet: [FRA], dns: { routes: [{ cidr: '10.0.0.0/8', edges: [] }] } }, /config dns\.routes\.0\.edges:/],
    ['timeout not below interval', { dns: { healthIntervalMs: 1000, healthTimeoutMs: 1000 } }, /config dns\.healthTimeoutMs: must be shorter than healthIntervalMs/],
    ['bad soa email', { dns: { soaEmail: 'hostmaster' } }, /config dns\.soaEmail: must be an e-mail address/],
    ['bad nameserver', { dns: { nameservers: [{ name: 'ns 1' }] } }, /config dns\.nameservers\.0\.name:/],
    ['unknown dns key', { dns: { zones: [] } }, /config dns\.zones: unknown option/],
    ['port', { dns: { port: -1 } }, /config dns\.port:/],
  ];
  for (const [what, flags, re] of cases) {
    assert.throws(
      () => loadConfig({ env: {}, cwd: tmp(), flags }),
      (err: unknown) => err instanceof ConfigError && re.test(err.message) || assert.fail(`${what}: ${(err as Error).message}`),
      what,
    );
  }
});
