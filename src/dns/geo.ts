// Where a client is: great-circle distance, and locators that turn an address into coordinates
// (a MaxMind .mmdb file the operator supplies, then the database shipped with geoip-lite).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Reader, type CityResponse } from 'mmdb-lib';
import { MediaCdnError, EXIT } from '../errors.ts';

export type LatLon = Readonly<{ lat: number; lon: number }>;

/** Address text → coordinates, or undefined when the database does not know it. */
export type Locator = (ip: string) => LatLon | undefined;

const EARTH_RADIUS_KM = 6371.0088;
const rad = (deg: number) => (deg * Math.PI) / 180;

/** Haversine distance in kilometres (accurate to about 0.5 %, plenty for picking an edge). */
export function distanceKm(a: LatLon, b: LatLon): number {
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

export class GeoDatabaseError extends MediaCdnError {
  constructor(message: string, cause?: unknown) {
    super('geoip_database_invalid', message, { exitCode: EXIT.usage, cause });
  }
}

/** A MaxMind-format city database (GeoLite2-City, DB-IP city lite, …); records without coordinates are unknown. */
export function mmdbLocator(file: string): Locator {
  let reader: Reader<CityResponse>;
  try {
    reader = new Reader<CityResponse>(readFileSync(file));
  } catch (err) {
    throw new GeoDatabaseError(`config dns.geoipDatabase: cannot read ${file} as a MaxMind database: ${(err as Error).message}`, err);
  }
  return (ip) => {
    let rec: CityResponse | null;
    try {
      rec = reader.get(ip);
    } catch {
      return undefined;
    }
    const loc = rec?.location;
    if (loc === undefined || typeof loc.latitude !== 'number' || typeof loc.longitude !== 'number') return undefined;
    return { lat: loc.latitude, lon: loc.longitude };
  };
}

type GeoipLite = { lookup(ip: string): { ll?: [number, number] } | null };

/**
 * geoip-lite's bundled GeoLite2 city data (about 150 MB in memory, loaded in about 0.4 s), loaded only
 * by the DNS server. Country-level records carry the country's centre, which is what we want for them.
 */
export function builtinLocator(): Locator {
  const geoip = createRequire(import.meta.url)('geoip-lite') as GeoipLite;
  return (ip) => {
    const rec = geoip.lookup(ip);
    const ll = rec?.ll;
    if (!ll || typeof ll[0] !== 'number' || typeof ll[1] !== 'number' || (ll[0] === 0 && ll[1] === 0)) return undefined;
    return { lat: ll[0], lon: ll[1] };
  };
}

/** The first locator that knows the address wins. */
export function chainLocators(locators: readonly Locator[]): Locator {
  return (ip) => {
    for (const l of locators) {
      const found = l(ip);
      if (found) return found;
    }
    return undefined;
  };
}
