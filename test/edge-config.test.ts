// The edge configuration schema and the --zone flag.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { edgeConfigSchema, parseZoneFlag } from '../src/config/edge-schema.ts';

describe('edge config schema', () => {
  it('fills defaults', () => {
    const c = edgeConfigSchema.parse({});
    assert.equal(c.port, 8080);
    assert.equal(c.workers, 0, 'one worker per core');
    assert.deepEqual(c.zones, []);
    assert.ok(c.memoryCacheBytes > 0 && c.diskCacheBytes > c.memoryCacheBytes && c.maxObjectBytes > 0);
  });

  it('normalises zones and applies per-zone defaults', () => {
    const c = edgeConfigSchema.parse({ zones: [{ host: 'CDN.Example.com.', origin: 'http://127.0.0.1:4000/' }] });
    assert.equal(c.zones[0].host, 'cdn.example.com');
    assert.equal(c.zones[0].origin, 'http://127.0.0.1:4000');
    assert.equal(c.zones[0].heuristicFraction, 0.1);
  });

  it('defaults for outages, retries and limits', () => {
    const c = edgeConfigSchema.parse({ zones: [{ host: 'a.example', shield: 'http://10.0.0.1:8080/' }] });
    assert.equal(c.staleIfErrorSeconds, 86_400);
    assert.equal(c.staleWhileRevalidateSeconds, 0);
    assert.equal(c.retries, 2);
    assert.deepEqual(c.retryOnStatus, []);
    assert.equal(c.zones[0].retryOnStatus, undefined);
    assert.equal(c.maxHeaderBytes, 16 * 1024);
    assert.equal(c.clientBodyIdleTimeoutMs, 30_000);
    assert.equal(c.maxConnectionsPerIp, 0);
    assert.equal(c.adminPort, undefined);
    assert.equal(c.zones[0].shield, 'http://10.0.0.1:8080');
    assert.equal(c.zones[0].queryString, 'keep');
    assert.deepEqual(c.zones[0].corsOrigins, []);
  });

  const bad: [string, unknown, string][] = [
    ['unknown top-level key', { prot: 1 }, ''],
    ['unknown zone key', { zones: [{ host: 'a.example', origin: 'http://o', ttl: 5 }] }, 'zones.0'],
    ['host with a port', { zones: [{ host: 'a.example:80', origin: 'http://o' }] }, 'zones.0.host'],
    ['origin that is not http', { zones: [{ host: 'a.example', origin: 'ftp://o' }] }, 'zones.0.origin'],
    ['origin with credentials', { zones: [{ host: 'a.example', origin: 'http://u:p@o' }] }, 'zones.0.origin'],
    ['duplicate zone', { zones: [{ host: 'a.example', origin: 'http://o' }, { host: 'A.example', origin: 'http://p' }] }, 'zones.1.host'],
    ['negative cache size', { diskCacheBytes: -1 }, 'diskCacheBytes'],
    ['port out of range', { port: 70000 }, 'port'],
    ['zone with neither origin nor shield', { zones: [{ host: 'a.example' }] }, 'zones.0.origin'],
    ['shield that is not a URL', { zones: [{ host: 'a.example', shield: 'edge1:8080' }] }, 'zones.0.shield'],
    ['block list entry that is no address', { blockList: ['10.0.0.0/8', 'example.com'] }, 'blockList.1'],
    ['IPv6 CIDR prefix over 128', { zones: [{ host: 'a.example', origin: 'http://o', blockList: ['2001:db8::/129'] }] }, 'zones.0.blockList.0'],
    ['trusted proxy that is no address', { trustedProxies: ['proxy.local'] }, 'trustedProxies.0'],
    ['unknown query string mode', { zones: [{ host: 'a.example', origin: 'http://o', queryString: 'drop' }] }, 'zones.0.queryString'],
    ['rate limit of zero', { zones: [{ host: 'a.example', origin: 'http://o', rateLimit: { requestsPerSecond: 0 } }] }, 'zones.0.rateLimit.requestsPerSecond'],
    ['retries over 10', { retries: 11 }, 'retries'],
    ['retryOnStatus that is not a 5xx', { zones: [{ host: 'a.example', origin: 'http://o', retryOnStatus: [502, 404] }] }, 'zones.0.retryOnStatus.1'],
    ['tls without a key', { httpsPort: 443, zones: [{ host: 'a.example', origin: 'http://o', tls: { cert: 'c.pem' } }] }, 'zones.0.tls.key'],
    ['redirectHttp without tls', { httpsPort: 443, zones: [{ host: 'a.example', origin: 'http://o', redirectHttp: true }] }, 'zones.0.redirectHttp'],
    ['redirectHttp without an https listener', { zones: [{ host: 'a.example', origin: 'http://o', tls: { cert: 'c', key: 'k' }, redirectHttp: true }] }, 'zones.0.redirectHttp'],
    ['hsts without tls', { zones: [{ host: 'a.example', origin: 'http://o', hsts: 60 }] }, 'zones.0.hsts'],
    ['negative hsts', { zones: [{ host: 'a.example', origin: 'http://o', tls: { cert: 'c', key: 'k' }, hsts: -1 }] }, 'zones.0.hsts'],
    ['caFile for a plain http origin', { zones: [{ host: 'a.example', origin: 'http://o', caFile: 'ca.pem' }] }, 'zones.0.caFile'],
    ['httpsPort out of range', { httpsPort: 65536 }, 'httpsPort'],
    ['httpsPort the same as port', { port: 8443, httpsPort: 8443 }, 'httpsPort'],
    ['originMaxHeaderBytes below 1 KiB', { zones: [{ host: 'a.example', origin: 'http://o', originMaxHeaderBytes: 100 }] }, 'zones.0.originMaxHeaderBytes'],
  ];
  for (const [name, input, at] of bad) {
    it(`rejects ${name} and names the option path`, () => {
      const r = edgeConfigSchema.safeParse(input);
      assert.equal(r.success, false);
      assert.equal(r.error!.issues[0].path.join('.'), at);
    });
  }
});

describe('--zone flag', () => {
  it('parses host=origin', () => {
    assert.deepEqual(parseZoneFlag('cdn.example.com=http://127.0.0.1:4000'), { host: 'cdn.example.com', origin: 'http://127.0.0.1:4000' });
  });
  for (const flag of ['cdn.example.com', '=http://o', 'cdn.example.com=', 'cdn.example.com=not a url', 'bad_host!=http://o']) {
    it(`rejects ${JSON.stringify(flag)}`, () => {
      assert.throws(() => parseZoneFlag(flag), (e: Error & { code?: string }) => e.code === 'config_invalid' && e.message.startsWith('--zone'));
    });
  }
});
