import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { builtinLocator, chainLocators, GeoDatabaseError, mmdbLocator } from './geo.ts';
import { configuredLocator } from './service.ts';
import { loadConfig } from '../config/index.ts';
import { writeMmdb } from '../../test/helpers/mmdb.ts';
import { tempDirSync } from '../../test/helpers/temp.ts';

const tmp = () => tempDirSync('mediacdn-geo-');

function sampleDb(): string {
  const file = path.join(tmp(), 'city.mmdb');
  writeMmdb(file, [
    { cidr: '81.169.0.0/16', record: { city: { names: { en: 'Berlin' } }, location: { latitude: 52.52, longitude: 13.405, accuracy_radius: 20 } } },
    { cidr: '10.1.0.0/16', record: { location: { latitude: -33.87, longitude: 151.21, accuracy_radius: 5 } } },
    { cidr: '10.2.0.0/16', record: { country: { iso_code: 'DE' } } },
  ]);
  return file;
}

test('mmdbLocator reads city coordinates from a MaxMind database; records without them are unknown', () => {
  const locate = mmdbLocator(sampleDb());
  assert.deepEqual(locate('81.169.145.7'), { lat: 52.52, lon: 13.405 });
  assert.deepEqual(locate('10.1.2.3'), { lat: -33.87, lon: 151.21 }, 'a private block the operator placed');
  assert.equal(locate('10.2.0.1'), undefined, 'a country-only record has no coordinates');
  assert.equal(locate('8.8.8.8'), undefined, 'not in the file');
  assert.equal(locate('2001:db8::1'), undefined, 'an IPv6 address in an IPv4 file is unknown, not an error');
  assert.equal(locate('not an address'), undefined);
});

test('a file that is not a MaxMind database is a usage error naming the option', () => {
  const file = path.join(tmp(), 'bad.mmdb');
  writeFileSync(file, 'definitely not a database');
  assert.throws(() => mmdbLocator(file), (err: unknown) => err instanceof GeoDatabaseError && err.exitCode === 2 && /config dns\.geoipDatabase: cannot read .*bad\.mmdb/.test(err.message));
  assert.throws(() => mmdbLocator(path.join(tmp(), 'missing.mmdb')), GeoDatabaseError);
});

test('dns.geoipDatabase is consulted before the built-in database; builtinGeoip false leaves it out', () => {
  const db = sampleDb();
  const cwd = path.dirname(db);
  const both = configuredLocator(loadConfig({ env: {}, cwd, flags: { dns: { geoipDatabase: 'city.mmdb' } } }).dns);
  assert.deepEqual(both('10.1.2.3'), { lat: -33.87, lon: 151.21 }, 'from the file');
  assert.ok(both('8.8.8.8') !== undefined, 'from geoip-lite when the file does not know it');
  const fileOnly = configuredLocator(loadConfig({ env: {}, cwd, flags: { dns: { geoipDatabase: 'city.mmdb', builtinGeoip: false } } }).dns);
  assert.equal(fileOnly('8.8.8.8'), undefined);
  assert.equal(configuredLocator(loadConfig({ env: {}, cwd, flags: { dns: { builtinGeoip: false } } }).dns)('81.169.145.7'), undefined, 'no database: every location unknown');
});

test('builtinLocator: geoip-lite places public addresses, not private or documentation ones', () => {
  const locate = builtinLocator();
  const berlin = locate('81.169.145.7');
  assert.ok(berlin && Math.abs(berlin.lat - 52.5) < 2 && Math.abs(berlin.lon - 13.4) < 2, JSON.stringify(berlin));
  assert.equal(locate('10.1.2.3'), undefined);
  assert.equal(locate('192.0.2.1'), undefined);
  assert.equal(chainLocators([])('81.169.145.7'), undefined);
});
