import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkProperty } from '../../../test/helpers/property.ts';
import { checkSignature, linkSigner, signUrl, signedMessage } from './signed-url.ts';

const KEY = 'k'.repeat(32);
const OLD = 'o'.repeat(40);
const NOW = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const LATER = NOW / 1000 + 3600;

function params(url: string): URLSearchParams {
  return new URL(url, 'http://x').searchParams;
}

describe('signed links: the documented scheme', () => {
  it('token = base64url(HMAC-SHA256(key, expires + path)) for a plain link', () => {
    const url = signUrl('https://cdn.radio.example/media/abc.mp3', { key: KEY, expires: 1767225600 });
    const expected = createHmac('sha256', KEY).update('1767225600/media/abc.mp3').digest('base64url');
    assert.equal(url, `https://cdn.radio.example/media/abc.mp3?expires=1767225600&token=${expected}`);
  });

  it('a prefix and an address are carried in the link and appended to the message as documented', () => {
    const url = signUrl('/media/abc.mp3', { key: KEY, expires: 1767225600, prefix: '/media/', ip: '203.0.113.7' });
    const expected = createHmac('sha256', KEY).update('1767225600/media/\nprefix\nip=203.0.113.7').digest('base64url');
    assert.equal(signedMessage('1767225600', '/media/', true, '203.0.113.7'), '1767225600/media/\nprefix\nip=203.0.113.7');
    assert.equal(url, `/media/abc.mp3?expires=1767225600&prefix=%2Fmedia%2F&ip=203.0.113.7&token=${expected}`);
  });

  it('keeps other query parameters before the signing ones and replaces old signing parameters', () => {
    const url = signUrl('/a.mp3?v=2&token=old&expires=1', { key: KEY, expires: LATER });
    assert.match(url, /^\/a\.mp3\?v=2&expires=\d+&token=[A-Za-z0-9_-]{43}$/);
  });

  it('refuses to sign what it could not verify', () => {
    assert.throws(() => signUrl('/a.mp3', { key: KEY, expires: LATER, prefix: 'media/' }), RangeError);
    assert.throws(() => signUrl('/a.mp3', { key: KEY, expires: LATER, prefix: '/other/' }), RangeError);
    assert.throws(() => signUrl('/a.mp3', { key: KEY, expires: LATER, ip: 'nope' }), RangeError);
    assert.throws(() => signUrl('a.mp3', { key: KEY, expires: LATER }), RangeError);
  });
});

describe('signed links: checkSignature', () => {
  const signed = signUrl('/media/a.mp3?v=1', { key: KEY, expires: LATER });
  const rows: Array<[string, string, readonly string[], number, string, string]> = [
    ['a signed link', signed, [KEY], NOW, '127.0.0.1', 'ok'],
    ['an unsigned link', '/media/a.mp3', [KEY], NOW, '127.0.0.1', 'signature_missing'],
    ['no token', '/media/a.mp3?expires=1767229200', [KEY], NOW, '127.0.0.1', 'signature_missing'],
    ['another path', signed.replace('/media/a.mp3', '/media/b.mp3'), [KEY], NOW, '127.0.0.1', 'signature_invalid'],
    ['a later expiry', signed.replace(`expires=${LATER}`, `expires=${LATER + 1}`), [KEY], NOW, '127.0.0.1', 'signature_invalid'],
    ['one token character changed', signed.replace(/token=(.)/, (_, c: string) => `token=${c === 'A' ? 'B' : 'A'}`), [KEY], NOW, '127.0.0.1', 'signature_invalid'],
    ['expired', signed, [KEY], LATER * 1000, '127.0.0.1', 'signature_expired'],
    ['an unknown key', signed, [OLD], NOW, '127.0.0.1', 'signature_invalid'],
    ['the old key still listed (rotation)', signUrl('/media/a.mp3', { key: OLD, expires: LATER }), [KEY, OLD], NOW, '127.0.0.1', 'ok'],
    ['the old key removed', signUrl('/media/a.mp3', { key: OLD, expires: LATER }), [KEY], NOW, '127.0.0.1', 'signature_invalid'],
    ['bound to this address', signUrl('/media/a.mp3', { key: KEY, expires: LATER, ip: '192.0.2.1' }), [KEY], NOW, '192.0.2.1', 'ok'],
    ['bound to this address (IPv4-mapped)', signUrl('/media/a.mp3', { key: KEY, expires: LATER, ip: '192.0.2.1' }), [KEY], NOW, '::ffff:192.0.2.1', 'ok'],
    ['bound to another address', signUrl('/media/a.mp3', { key: KEY, expires: LATER, ip: '192.0.2.1' }), [KEY], NOW, '192.0.2.2', 'signature_ip'],
    ['an address added to an unbound link', `${signed}&ip=127.0.0.1`, [KEY], NOW, '127.0.0.1', 'signature_invalid'],
    ['bound to an IPv6 address', signUrl('/media/a.mp3', { key: KEY, expires: LATER, ip: '2001:DB8::1' }), [KEY], NOW, '2001:db8::1', 'ok'],
    ['a prefix link, another file under it', signUrl('/media/a.mp3', { key: KEY, expires: LATER, prefix: '/media/' }).replace('/media/a.mp3', '/media/b.mp3'), [KEY], NOW, '127.0.0.1', 'ok'],
    ['a prefix link, a path outside it', signUrl('/media/a.mp3', { key: KEY, expires: LATER, prefix: '/media/' }).replace('/media/a.mp3', '/admin/x'), [KEY], NOW, '127.0.0.1', 'signature_scope'],
    ['a prefix link, climbing out with ..', signUrl('/media/a.mp3', { key: KEY, expires: LATER, prefix: '/media/' }).replace('/media/a.mp3', '/media/../admin'), [KEY], NOW, '127.0.0.1', 'signature_scope'],
    ['a prefix link, climbing out with %2e%2E', signUrl('/media/a.mp3', { key: KEY, expires: LATER, prefix: '/media/' }).replace('/media/a.mp3', '/media/%2e%2E/admin'), [KEY], NOW, '127.0.0.1', 'signature_scope'],
    ['a path token presented as a prefix token', `${signUrl('/media/', { key: KEY, expires: LATER })}`.replace('/media/?', '/media/x.mp3?prefix=%2Fmedia%2F&'), [KEY], NOW, '127.0.0.1', 'signature_invalid'],
    ['expires twice', `${signed}&expires=${LATER}`, [KEY], NOW, '127.0.0.1', 'signature_malformed'],
    ['expires not a number', '/a?expires=soon&token=' + 'A'.repeat(43), [KEY], NOW, '127.0.0.1', 'signature_malformed'],
    ['a short token', `/a?expires=${LATER}&token=abc`, [KEY], NOW, '127.0.0.1', 'signature_malformed'],
    ['a bad address', `/a?expires=${LATER}&ip=nope&token=${'A'.repeat(43)}`, [KEY], NOW, '127.0.0.1', 'signature_malformed'],
    ['a bad percent-encoding', `/a?expires=${LATER}&prefix=%E0%A4%A&token=${'A'.repeat(43)}`, [KEY], NOW, '127.0.0.1', 'signature_malformed'],
  ];
  for (const [name, target, keys, now, ip, expected] of rows) {
    it(name, () => {
      const r = checkSignature(target, keys, now, ip);
      assert.equal(r.kind === 'ok' ? 'ok' : r.code, expected, r.kind === 'refused' ? r.message : '');
    });
  }

  it('takes only the signing parameters off the target', () => {
    const r = checkSignature(signed, [KEY], NOW, '127.0.0.1');
    assert.deepEqual(r, { kind: 'ok', target: '/media/a.mp3?v=1' });
    const plain = checkSignature(signUrl('/media/a.mp3', { key: KEY, expires: LATER }), [KEY], NOW, '127.0.0.1');
    assert.deepEqual(plain, { kind: 'ok', target: '/media/a.mp3' });
  });

  it('hostile query strings: never throws, never lets an unsigned target through', () => {
    const piece = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('expires', 'token', 'prefix', 'ip').chain((n) => fc.string({ maxLength: 60 }).map((v) => `${n}=${v}`)),
      fc.constant(`expires=${LATER}`),
      fc.constant(`token=${'A'.repeat(43)}`),
    );
    checkProperty(
      fc.property(fc.string({ maxLength: 60 }), fc.array(piece, { maxLength: 8 }), (path, pieces) => {
        const target = `/${path.replace(/[?#]/g, '')}?${pieces.join('&')}`;
        const r = checkSignature(target, [KEY], NOW, '127.0.0.1');
        assert.equal(r.kind, 'refused');
      }),
      { numRuns: 300, timeLimitMs: 5000 },
    );
  });

  it('any link with any other parameters, signed, verifies and comes back without the signing ones', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9._~%-]{1,12}$/);
    const param = fc.tuple(fc.stringMatching(/^[a-z]{1,6}$/), fc.stringMatching(/^[A-Za-z0-9%._-]{0,10}$/)).filter(([n]) => !['expires', 'token', 'prefix', 'ip'].includes(n)).map(([n, v]) => `${n}=${v}`);
    checkProperty(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.array(param, { maxLength: 4 }), fc.boolean(), (segments, others, withPrefix) => {
        const path = `/${segments.join('/')}`;
        const target = others.length === 0 ? path : `${path}?${others.join('&')}`;
        const url = signUrl(target, { key: KEY, expires: LATER, prefix: withPrefix ? `/${segments[0]}` : undefined });
        const r = checkSignature(url, [OLD, KEY], NOW, '10.0.0.1');
        if (withPrefix && path.split('/').some((s) => /^(\.|%2e){1,2}$/i.test(s))) return; // refused as climbing out
        assert.deepEqual(r, { kind: 'ok', target });
      }),
      { numRuns: 200, timeLimitMs: 5000 },
    );
  });
});

describe('signed links: links the origin publishes', () => {
  const zones = [{ host: 'cdn.radio.example', signedUrls: { keys: [KEY, OLD], linkTtlSeconds: 3600 } }, { host: 'open.example' }];
  it('signs links of a zone with signedUrls, valid for at least the TTL, the same within a window', () => {
    let t = NOW + 10_000;
    const sign = linkSigner('https://cdn.radio.example/media/', zones, () => t)!;
    const a = sign('https://cdn.radio.example/media/x.mp3');
    t += 60_000;
    assert.equal(sign('https://cdn.radio.example/media/x.mp3'), a);
    const expires = Number(params(a).get('expires'));
    assert.ok(expires * 1000 - t >= 3600 * 1000);
    assert.equal(checkSignature(new URL(a).pathname + new URL(a).search, [KEY], t, '127.0.0.1').kind, 'ok');
    assert.equal(checkSignature(new URL(a).pathname + new URL(a).search, [KEY], (expires - 1) * 1000, '127.0.0.1').kind, 'ok');
  });
  it('leaves links of other hosts and zones without signedUrls alone', () => {
    assert.equal(linkSigner('https://open.example/media/', zones, () => NOW), undefined);
    assert.equal(linkSigner('http://localhost:4000/media/', zones, () => NOW), undefined);
    assert.ok(linkSigner('//cdn.radio.example/media/', zones, () => NOW));
  });
});
