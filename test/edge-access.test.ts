// Edge scenarios: a zone that serves signed links only, and a zone with hotlink protection. Every
// request runs the same stages, so a stored object is refused to a bad link like a miss is.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { zoneSchema } from '../src/config/edge-schema.ts';
import { signUrl } from '../src/edge/zone/signed-url.ts';
import { bytes, startHarness } from './helpers/edge-harness.ts';
import type { Harness, Reply } from './helpers/edge-harness.ts';

const KEY_NEW = 'n'.repeat(16) + '0123456789abcdef';
const KEY_OLD = 'old-signing-key-0123456789abcdefgh';
const BODY = bytes(10_000, 5);
const HEADERS = { 'cache-control': 'max-age=600', etag: '"s1"', 'content-type': 'audio/mpeg' };

function reason(r: Reply): string {
  assert.equal(r.headers['content-type'], 'application/json');
  const json = JSON.parse(r.body.toString()) as { code: string; message: string };
  assert.ok(json.message.length > 0);
  return json.code;
}

describe('edge: signed links', () => {
  let h: Harness;
  const inAnHour = () => Math.floor(h.clock.now / 1000) + 3600;
  before(async () => {
    h = await startHarness({}, { signedUrls: { keys: [KEY_NEW, KEY_OLD] } });
    h.origin.route('/media/a.mp3', { headers: HEADERS, body: BODY });
    h.origin.route('/media/b.mp3', { headers: HEADERS, body: BODY });
  });
  after(() => h.close());

  it('serves a signed link; the origin and the cache key see the link without its signature', async () => {
    const r = await h.get(signUrl('/media/a.mp3', { key: KEY_NEW, expires: inAnHour() }));
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(BODY));
    assert.equal(h.origin.requests.at(-1)?.url, '/media/a.mp3');
    // Another link to the same file (other expiry, other key, bound to this client) is a hit.
    const again = await h.get(signUrl('/media/a.mp3', { key: KEY_OLD, expires: inAnHour() + 60, ip: '127.0.0.1' }), { range: 'bytes=0-9' });
    assert.equal(again.status, 206);
    assert.equal(again.headers['x-cache'], 'HIT');
    assert.equal(h.origin.count('/media/a.mp3'), 1);
  });

  it('the stored object is the plain link\'s: purging the plain link removes it', async () => {
    const purged = await h.control('POST', '/_mediacdn/purge', { url: 'http://cdn.example.com/media/a.mp3' });
    assert.deepEqual(JSON.parse(purged.body.toString()), { removed: 1 });
    const r = await h.get(signUrl('/media/a.mp3', { key: KEY_NEW, expires: inAnHour() }));
    assert.equal(r.headers['x-cache'], 'MISS');
    assert.equal(h.origin.count('/media/a.mp3'), 2);
  });

  it('refuses unsigned, tampered, expired, wrong-address and unknown-key links with 403 and a JSON reason, hits included', async () => {
    const good = signUrl('/media/a.mp3', { key: KEY_NEW, expires: inAnHour() });
    const cases: Array<[string, string, string]> = [
      ['unsigned', '/media/a.mp3', 'signature_missing'],
      ['another file', good.replace('a.mp3', 'b.mp3'), 'signature_invalid'],
      ['a later expiry', good.replace(/expires=(\d+)/, (_, e: string) => `expires=${Number(e) + 1}`), 'signature_invalid'],
      ['an unknown key', signUrl('/media/a.mp3', { key: 'x'.repeat(32), expires: inAnHour() }), 'signature_invalid'],
      ['expired', signUrl('/media/a.mp3', { key: KEY_NEW, expires: Math.floor(h.clock.now / 1000) - 1 }), 'signature_expired'],
      ['another client', signUrl('/media/a.mp3', { key: KEY_NEW, expires: inAnHour(), ip: '192.0.2.10' }), 'signature_ip'],
      ['outside its prefix', signUrl('/media/a.mp3', { key: KEY_NEW, expires: inAnHour(), prefix: '/media/' }).replace('/media/a.mp3', '/other/a.mp3'), 'signature_scope'],
    ];
    const before = h.origin.count();
    for (const [name, target, code] of cases) {
      const r = await h.get(target);
      assert.equal(r.status, 403, name);
      assert.equal(reason(r), code, name);
      assert.equal(r.headers['cache-control'], 'no-store');
    }
    assert.equal(h.origin.count(), before, 'no refused link reaches the origin');
  });

  it('a link expires while the object stays cached: the same link is refused once the clock passes expires', async () => {
    const link = signUrl('/media/b.mp3', { key: KEY_NEW, expires: Math.floor(h.clock.now / 1000) + 30 });
    assert.equal((await h.get(link)).status, 200);
    assert.equal((await h.get(link)).headers['x-cache'], 'HIT');
    h.clock.advance(31);
    const r = await h.get(link);
    assert.equal(r.status, 403);
    assert.equal(reason(r), 'signature_expired');
  });

  it('one prefix token serves every file under the prefix', async () => {
    const folder = signUrl('/media/a.mp3', { key: KEY_NEW, expires: inAnHour(), prefix: '/media/' });
    assert.equal((await h.get(folder)).status, 200);
    assert.equal((await h.get(folder.replace('/media/a.mp3', '/media/b.mp3'))).status, 200);
  });

  it('a rotated-out key stops working when it leaves the list', async () => {
    const oldLink = signUrl('/media/a.mp3', { key: KEY_OLD, expires: inAnHour() });
    assert.equal((await h.get(oldLink)).status, 200);
    await h.restart({ zones: [{ host: 'cdn.example.com', origin: h.origin.url, signedUrls: { keys: [KEY_NEW] } }] });
    const r = await h.get(oldLink);
    assert.equal(r.status, 403);
    assert.equal(reason(r), 'signature_invalid');
    assert.equal((await h.get(signUrl('/media/a.mp3', { key: KEY_NEW, expires: inAnHour() }))).status, 200);
  });
});

describe('edge: hotlink protection', () => {
  let h: Harness;
  let lenient: Harness;
  before(async () => {
    h = await startHarness({}, { allowedReferrers: ['radio.example', '*.radio.example'] });
    lenient = await startHarness({}, { allowedReferrers: ['radio.example'], allowEmptyReferrer: true });
    for (const x of [h, lenient]) x.origin.route('/media/a.mp3', { headers: HEADERS, body: BODY });
  });
  after(async () => {
    await h.close();
    await lenient.close();
  });

  it('serves pages of the listed sites, refuses others and requests without a Referer', async () => {
    assert.equal((await h.get('/media/a.mp3', { referer: 'https://radio.example/' })).status, 200);
    assert.equal((await h.get('/media/a.mp3', { referer: 'https://www.radio.example/listen' })).headers['x-cache'], 'HIT');
    for (const [referer, code] of [['https://evil.test/', 'referrer_not_allowed'], ['https://radio.example.evil.test/', 'referrer_not_allowed'], [undefined, 'referrer_missing']] as const) {
      const r = await h.get('/media/a.mp3', referer === undefined ? {} : { referer });
      assert.equal(r.status, 403, String(referer));
      assert.equal(reason(r), code);
    }
    assert.equal(h.origin.count('/media/a.mp3'), 1);
  });

  it('with allowEmptyReferrer, requests without a Referer are served and other sites still refused', async () => {
    assert.equal((await lenient.get('/media/a.mp3')).status, 200);
    assert.equal((await lenient.get('/media/a.mp3', { referer: 'https://evil.test/' })).status, 403);
  });

  it('bad zone settings are refused with the option named', () => {
    const zone = { host: 'cdn.example.com', origin: 'http://127.0.0.1:1' };
    const bad = zoneSchema.safeParse({ ...zone, allowedReferrers: ['http://radio.example/'] });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error?.issues[0].path, ['allowedReferrers', 0]);
    const short = zoneSchema.safeParse({ ...zone, signedUrls: { keys: ['short'] } });
    assert.match(short.error?.issues[0].message ?? '', /32 characters/);
    assert.equal(zoneSchema.safeParse({ ...zone, signedUrls: { keys: [] } }).success, false);
  });
});
