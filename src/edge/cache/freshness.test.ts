import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Headers } from '../../http/types.ts';
import {
  ageHeaderSeconds,
  currentAge,
  freshnessLifetime,
  mergeNotModified,
  requestDirectives,
  responsePolicy,
  reuseDecision,
  staleOnErrorAllowed,
  staleWhileRevalidateAllowed,
  storability,
  withEdgeTtl,
} from './freshness.ts';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const httpDate = (ms: number) => new Date(ms).toUTCString();

describe('storability (RFC 9111 §3, RFC 9213 §2.2)', () => {
  const rows: { cite: string; status?: number; method?: string; req?: Headers; res: Headers; expect: 'store' | string }[] = [
    { cite: '§3 max-age present', res: { 'cache-control': 'max-age=60' }, expect: 'store' },
    { cite: '§3 heuristically cacheable status 200 without freshness info', res: {}, expect: 'store' },
    { cite: '§3 heuristically cacheable status 404', status: 404, res: {}, expect: 'store' },
    { cite: '§3 302 without explicit freshness is not stored', status: 302, res: {}, expect: 'no freshness information' },
    { cite: '§3 302 with max-age is stored', status: 302, res: { 'cache-control': 'max-age=5' }, expect: 'store' },
    { cite: '§3 any final status with explicit freshness (500)', status: 500, res: { 'cache-control': 'max-age=60' }, expect: 'store' },
    { cite: '§3 an unrecognised status is its class (299 ≈ 200)', status: 299, res: { 'cache-control': 'max-age=60' }, expect: 'store' },
    { cite: '§3 an unrecognised status is its class (499 ≈ 400)', status: 499, res: { 'cache-control': 'max-age=60' }, expect: 'store' },
    { cite: '§3 an unrecognised status is its class (599 ≈ 500)', status: 599, res: { expires: 'Thu, 01 Jan 2099 00:00:00 GMT' }, expect: 'store' },
    { cite: '§3 303 with max-age', status: 303, res: { 'cache-control': 'max-age=60' }, expect: 'store' },
    { cite: '§3 400 without explicit freshness is not stored', status: 400, res: {}, expect: 'no freshness information' },
    { cite: '§3 503 with public only: no lifetime, not heuristically cacheable', status: 503, res: { 'cache-control': 'public' }, expect: 'store' },
    { cite: '§3 an interim status is not final', status: 103, res: { 'cache-control': 'max-age=60' }, expect: 'status 103' },
    { cite: '§3 a status outside 100-599', status: 600, res: { 'cache-control': 'max-age=60' }, expect: 'status 600' },
    { cite: '§3 304 is never stored as a response', status: 304, res: { 'cache-control': 'max-age=60' }, expect: 'status 304' },
    { cite: '§5.2.2.3 must-understand with an understood status ignores no-store', res: { 'cache-control': 'max-age=60, must-understand, no-store' }, expect: 'store' },
    { cite: '§5.2.2.3 must-understand with an understood 404', status: 404, res: { 'cache-control': 'max-age=60, must-understand, no-store' }, expect: 'store' },
    { cite: '§5.2.2.3 must-understand with a status we do not know: never stored', status: 555, res: { 'cache-control': 'max-age=60, must-understand' }, expect: 'must-understand' },
    { cite: '§5.2.2.3 must-understand: 299 is understood only by class, not stored', status: 299, res: { 'cache-control': 'max-age=60, must-understand, no-store' }, expect: 'must-understand' },
    { cite: '§5.2.2.3 must-understand does not override private', res: { 'cache-control': 'max-age=60, must-understand, private' }, expect: 'private' },
    { cite: '§5.2.1.5 must-understand does not override request no-store', req: { 'cache-control': 'no-store' }, res: { 'cache-control': 'max-age=60, must-understand' }, expect: 'request no-store' },
    { cite: '§3 206 is never stored by a whole-object cache', status: 206, res: { 'cache-control': 'max-age=60' }, expect: 'status 206' },
    { cite: '§3 method not understood (POST)', method: 'POST', res: { 'cache-control': 'max-age=60' }, expect: 'method' },
    { cite: '§5.2.2.5 response no-store', res: { 'cache-control': 'max-age=60, no-store' }, expect: 'no-store' },
    { cite: '§5.2.1.5 request no-store', req: { 'cache-control': 'no-store' }, res: { 'cache-control': 'max-age=60' }, expect: 'request no-store' },
    { cite: '§5.2.2.7 private', res: { 'cache-control': 'private, max-age=60' }, expect: 'private' },
    { cite: '§5.2.2.7 qualified private treated as private', res: { 'cache-control': 'private="set-cookie", max-age=60' }, expect: 'private' },
    { cite: '§3.5 Authorization without permission', req: { authorization: 'Bearer x' }, res: { 'cache-control': 'max-age=60' }, expect: 'authorization' },
    { cite: '§3.5 Authorization with public', req: { authorization: 'Bearer x' }, res: { 'cache-control': 'public, max-age=60' }, expect: 'store' },
    { cite: '§3.5 Authorization with s-maxage', req: { authorization: 'Bearer x' }, res: { 'cache-control': 's-maxage=60' }, expect: 'store' },
    { cite: '§3.5 Authorization with must-revalidate', req: { authorization: 'Bearer x' }, res: { 'cache-control': 'must-revalidate, max-age=60' }, expect: 'store' },
    { cite: '§4.1 Vary: * always fails to match', res: { 'cache-control': 'max-age=60', vary: 'Accept, *' }, expect: 'vary *' },
    { cite: '§7.3 Set-Cookie is not shared (deliberate deviation)', res: { 'cache-control': 'max-age=60', 'set-cookie': 'a=b' }, expect: 'set-cookie' },
    { cite: '§3 Content-Range (partial) not stored', res: { 'content-range': 'bytes 0-1/2' }, expect: 'partial content' },
    { cite: 'RFC 9213 §2.2 CDN-Cache-Control overrides Cache-Control private', res: { 'cache-control': 'private', 'cdn-cache-control': 'max-age=60' }, expect: 'store' },
    { cite: 'RFC 9213 §2.2 CDN-Cache-Control no-store overrides Cache-Control max-age', res: { 'cache-control': 'max-age=60', 'cdn-cache-control': 'no-store' }, expect: 'no-store' },
    { cite: 'RFC 9213 §2.2 an empty CDN-Cache-Control is ignored', res: { 'cache-control': 'no-store', 'cdn-cache-control': '' }, expect: 'no-store' },
  ];
  for (const row of rows) {
    it(row.cite, () => {
      const got = storability({
        method: row.method ?? 'GET',
        status: row.status ?? 200,
        requestHeaders: row.req ?? {},
        responseHeaders: row.res,
        policy: responsePolicy(row.res),
      });
      assert.equal(got.kind === 'store' ? 'store' : got.reason, row.expect);
    });
  }
});

describe('freshness lifetime (RFC 9111 §4.2.1, §4.2.2, RFC 9213)', () => {
  const date = httpDate(T0);
  const rows: { cite: string; status?: number; res: Headers; expect: number }[] = [
    { cite: '§4.2.1 s-maxage wins over max-age in a shared cache', res: { 'cache-control': 'max-age=10, s-maxage=100' }, expect: 100 },
    { cite: '§4.2.1 max-age', res: { 'cache-control': 'max-age=10' }, expect: 10 },
    { cite: '§4.2.1 max-age wins over Expires', res: { 'cache-control': 'max-age=10', date, expires: httpDate(T0 + 500_000) }, expect: 10 },
    { cite: '§4.2.1 Expires minus Date', res: { date, expires: httpDate(T0 + 300_000) }, expect: 300 },
    { cite: '§4.2.1 Expires minus receipt time when Date is absent', res: { expires: httpDate(T0 + 60_000) }, expect: 60 },
    { cite: '§5.3 invalid Expires ("0") means already expired', res: { date, expires: '0' }, expect: 0 },
    { cite: '§4.2.1 conflicting max-age directives: stale', res: { 'cache-control': 'max-age=10, max-age=99' }, expect: 0 },
    { cite: '§4.2.2 heuristic: 10% of Date minus Last-Modified', res: { date, 'last-modified': httpDate(T0 - 1000_000) }, expect: 100 },
    { cite: '§4.2.2 heuristic is capped', res: { date, 'last-modified': httpDate(T0 - 10 * 86_400_000 * 10) }, expect: 86_400 },
    { cite: '§4.2.2 no heuristic without Last-Modified', res: { date }, expect: 0 },
    { cite: '§4.2.2 no heuristic for a status not heuristically cacheable', status: 302, res: { date, 'last-modified': httpDate(T0 - 1000_000) }, expect: 0 },
    { cite: '§4.2.2 MUST NOT use heuristics when Expires is present', res: { date, expires: httpDate(T0), 'last-modified': httpDate(T0 - 1000_000) }, expect: 0 },
    { cite: 'RFC 9213 §2.2 CDN-Cache-Control max-age replaces Cache-Control', res: { 'cache-control': 'max-age=5', 'cdn-cache-control': 'max-age=600' }, expect: 600 },
    { cite: 'RFC 9213 §2.2 Expires ignored when CDN-Cache-Control is used', res: { 'cdn-cache-control': 'public', date, expires: httpDate(T0 + 300_000) }, expect: 0 },
  ];
  for (const row of rows) {
    it(row.cite, () => {
      assert.equal(freshnessLifetime(row.status ?? 200, row.res, responsePolicy(row.res), T0), row.expect);
    });
  }
});

describe('current age (RFC 9111 §4.2.3)', () => {
  const rows: { cite: string; res: Headers; req: number; resp: number; now: number; expect: number }[] = [
    { cite: '§4.2.3 resident time counts', res: { date: httpDate(T0) }, req: T0, resp: T0, now: T0 + 30_000, expect: 30 },
    { cite: '§4.2.3 Age from upstream plus response delay', res: { date: httpDate(T0), age: '100' }, req: T0, resp: T0 + 2000, now: T0 + 2000, expect: 102 },
    { cite: '§4.2.3 apparent age when Date is in the past', res: { date: httpDate(T0 - 50_000) }, req: T0, resp: T0, now: T0, expect: 50 },
    { cite: '§4.2.3 a Date in the future does not make age negative', res: { date: httpDate(T0 + 50_000) }, req: T0, resp: T0, now: T0, expect: 0 },
    { cite: '§5.1 an invalid Age is ignored', res: { date: httpDate(T0), age: '-5' }, req: T0, resp: T0, now: T0, expect: 0 },
    { cite: '§5.1 a list-based Age takes its first member', res: { date: httpDate(T0), age: '7200, 0' }, req: T0, resp: T0, now: T0, expect: 7200 },
    { cite: '§5.1 several Age lines: the first line counts', res: { date: httpDate(T0), age: ['30', '0'] }, req: T0, resp: T0, now: T0, expect: 30 },
  ];
  for (const row of rows) {
    it(row.cite, () => assert.equal(currentAge(row.res, row.req, row.resp, row.now), row.expect));
  }
});

describe('Age field value (RFC 9111 §5.1, §1.2.2)', () => {
  const rows: [Headers[string], number][] = [
    ['7200, 0', 7200],
    [' 7200 ,0', 7200],
    ['0, 7200', 0],
    [['120', '7200'], 120],
    ['60', 60],
    ['', 0],
    ['-1', 0],
    ['1.5', 0],
    ['abc, 60', 0],
    ['\u0661', 0],
    ['99999999999999999999', 2 ** 31],
    ['2147483649', 2 ** 31],
    ['000000000000060', 60],
    [undefined, 0],
  ];
  for (const [value, want] of rows) it(JSON.stringify(value), () => assert.equal(ageHeaderSeconds(value), want));
});

describe('reuse of a stored response (RFC 9111 §4, §4.2.4, §5.2)', () => {
  const rows: { cite: string; res: Headers; req?: Headers; lifetime: number; age: number; expect: string }[] = [
    { cite: '§4.2 fresh while age < lifetime', res: { 'cache-control': 'max-age=60' }, lifetime: 60, age: 10, expect: 'fresh' },
    { cite: '§4.2 stale once age reaches lifetime', res: { 'cache-control': 'max-age=60' }, lifetime: 60, age: 60, expect: 'validate:stale' },
    { cite: '§5.2.2.4 response no-cache: always validate', res: { 'cache-control': 'no-cache, max-age=60' }, lifetime: 60, age: 0, expect: 'validate:response no-cache' },
    { cite: '§5.2.1.4 request no-cache: validate', res: {}, req: { 'cache-control': 'no-cache' }, lifetime: 60, age: 0, expect: 'validate:request no-cache' },
    { cite: '§5.4 Pragma: no-cache without Cache-Control', res: {}, req: { pragma: 'no-cache' }, lifetime: 60, age: 0, expect: 'validate:request no-cache' },
    { cite: '§5.4 Pragma ignored when Cache-Control is present', res: {}, req: { pragma: 'no-cache', 'cache-control': 'max-stale' }, lifetime: 60, age: 0, expect: 'fresh' },
    { cite: '§5.2.1.1 request max-age below age', res: {}, req: { 'cache-control': 'max-age=5' }, lifetime: 60, age: 10, expect: 'validate:request max-age' },
    { cite: '§5.2.1.3 request min-fresh', res: {}, req: { 'cache-control': 'min-fresh=55' }, lifetime: 60, age: 10, expect: 'validate:request min-fresh' },
    { cite: '§5.2.1.2 max-stale accepts a stale response', res: { 'cache-control': 'max-age=60' }, req: { 'cache-control': 'max-stale=30' }, lifetime: 60, age: 80, expect: 'stale-ok' },
    { cite: '§5.2.1.2 max-stale limit exceeded', res: { 'cache-control': 'max-age=60' }, req: { 'cache-control': 'max-stale=10' }, lifetime: 60, age: 80, expect: 'validate:stale' },
    { cite: '§4.2.4 / §5.2.2.2 must-revalidate forbids serving stale', res: { 'cache-control': 'max-age=60, must-revalidate' }, req: { 'cache-control': 'max-stale' }, lifetime: 60, age: 80, expect: 'validate:stale' },
    { cite: '§5.2.2.8 proxy-revalidate applies to shared caches', res: { 'cache-control': 'max-age=60, proxy-revalidate' }, req: { 'cache-control': 'max-stale' }, lifetime: 60, age: 80, expect: 'validate:stale' },
    { cite: '§5.2.2.10 s-maxage implies proxy-revalidate', res: { 'cache-control': 's-maxage=60' }, req: { 'cache-control': 'max-stale' }, lifetime: 60, age: 80, expect: 'validate:stale' },
  ];
  for (const row of rows) {
    it(row.cite, () => {
      const got = reuseDecision(row.lifetime, row.age, responsePolicy(row.res), requestDirectives(row.req ?? {}));
      assert.equal(got.kind === 'validate' ? `validate:${got.reason}` : got.kind, row.expect);
    });
  }
});

describe('stale on error (RFC 5861 §4, RFC 9111 §4.2.4)', () => {
  const rows: { cite: string; res: Headers; age: number; def: number; expect: boolean }[] = [
    { cite: 'RFC 5861 §4 within stale-if-error window', res: { 'cache-control': 'max-age=10, stale-if-error=100' }, age: 50, def: 0, expect: true },
    { cite: 'RFC 5861 §4 past stale-if-error window', res: { 'cache-control': 'max-age=10, stale-if-error=10' }, age: 50, def: 0, expect: false },
    { cite: 'RFC 5861 §4 stale-if-error overrides must-revalidate', res: { 'cache-control': 'max-age=10, must-revalidate, stale-if-error=100' }, age: 50, def: 0, expect: true },
    { cite: '§4.2.4 zone default never overrides must-revalidate', res: { 'cache-control': 'max-age=10, must-revalidate' }, age: 50, def: 86_400, expect: false },
    { cite: '§4.2.4 zone default window applies otherwise', res: { 'cache-control': 'max-age=10' }, age: 50, def: 86_400, expect: true },
    { cite: '§4.2.4 off when the zone window is 0', res: { 'cache-control': 'max-age=10' }, age: 50, def: 0, expect: false },
    { cite: '§4.2.4 zone default never overrides no-cache', res: { 'cache-control': 'max-age=10, no-cache' }, age: 50, def: 86_400, expect: false },
    { cite: '§4.2.4 zone default window has an end', res: { 'cache-control': 'max-age=10' }, age: 200, def: 100, expect: false },
  ];
  for (const row of rows) {
    it(row.cite, () => {
      const policy = responsePolicy(row.res);
      assert.equal(staleOnErrorAllowed(policy.maxAge ?? 0, row.age, policy, row.def), row.expect);
    });
  }
});

describe('stale while revalidate (RFC 5861 §3, RFC 9111 §4.2.4)', () => {
  const rows: { cite: string; res: Headers; age: number; def: number; expect: boolean }[] = [
    { cite: 'RFC 5861 §3 within the window', res: { 'cache-control': 'max-age=10, stale-while-revalidate=30' }, age: 35, def: 0, expect: true },
    { cite: 'RFC 5861 §3 past the window', res: { 'cache-control': 'max-age=10, stale-while-revalidate=30' }, age: 41, def: 0, expect: false },
    { cite: 'RFC 5861 §3 the directive wins over the zone default', res: { 'cache-control': 'max-age=10, stale-while-revalidate=5' }, age: 20, def: 3600, expect: false },
    { cite: 'zone default applies without the directive', res: { 'cache-control': 'max-age=10' }, age: 20, def: 60, expect: true },
    { cite: 'off without directive or default', res: { 'cache-control': 'max-age=10' }, age: 11, def: 0, expect: false },
    { cite: '§4.2.4 must-revalidate forbids it', res: { 'cache-control': 'max-age=10, must-revalidate, stale-while-revalidate=30' }, age: 20, def: 0, expect: false },
    { cite: '§4.2.4 s-maxage implies proxy-revalidate', res: { 'cache-control': 's-maxage=10, stale-while-revalidate=30' }, age: 20, def: 0, expect: false },
    { cite: '§4.2.4 no-cache forbids it', res: { 'cache-control': 'no-cache, stale-while-revalidate=30' }, age: 1, def: 0, expect: false },
  ];
  for (const row of rows) {
    it(row.cite, () => {
      const policy = responsePolicy(row.res);
      assert.equal(staleWhileRevalidateAllowed(policy.maxAge ?? 0, row.age, policy, row.def), row.expect);
    });
  }
});

describe('edge TTL override (zone edgeTtlSeconds)', () => {
  const rows: { name: string; res: Headers; stored: boolean }[] = [
    { name: 'no-store is replaced', res: { 'cache-control': 'no-store' }, stored: true },
    { name: 'private is replaced', res: { 'cache-control': 'private, max-age=5' }, stored: true },
    { name: 'CDN-Cache-Control no-store is replaced too', res: { 'cdn-cache-control': 'no-store', 'cache-control': 'max-age=5' }, stored: true },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const view = withEdgeTtl(row.res, 300);
      const policy = responsePolicy(view);
      assert.equal(policy.maxAge, 300);
      assert.equal(storability({ method: 'GET', status: 200, requestHeaders: {}, responseHeaders: view, policy }).kind === 'store', row.stored);
      assert.equal(freshnessLifetime(200, view, policy, T0), 300);
    });
  }
  it('an expired Expires no longer counts', () => {
    const view = withEdgeTtl({ expires: 'Thu, 01 Jan 1970 00:00:00 GMT' }, 60);
    assert.equal(freshnessLifetime(200, view, responsePolicy(view), T0), 60);
  });
});

describe('304 header update (RFC 9111 §3.2, §4.3.4)', () => {
  it('§3.2 replaces stored fields with the 304 ones, except Content-Length and body framing', () => {
    const stored = { 'cache-control': 'max-age=1', etag: '"a"', 'content-length': '10', 'content-type': 'audio/mpeg', 'x-old': '1' };
    const fresh = { 'cache-control': 'max-age=99', 'content-length': '0', 'content-type': 'text/plain', 'x-new': '2' };
    assert.deepEqual(mergeNotModified(stored, fresh), {
      'cache-control': 'max-age=99',
      etag: '"a"',
      'content-length': '10',
      'content-type': 'audio/mpeg',
      'x-old': '1',
      'x-new': '2',
    });
  });
});
