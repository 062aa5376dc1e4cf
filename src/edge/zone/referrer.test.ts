import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkProperty } from '../../../test/helpers/property.ts';
import { checkReferrer } from './referrer.ts';

describe('hotlink protection: checkReferrer', () => {
  const strict = { allowed: ['radio.example', '*.radio.example'], allowEmpty: false };
  const lenient = { allowed: ['radio.example'], allowEmpty: true };
  const rows: Array<[string, typeof strict, string | undefined, string]> = [
    ['the site itself', strict, 'https://radio.example/listen', 'ok'],
    ['upper case and a port', strict, 'HTTPS://RADIO.EXAMPLE:8443/', 'ok'],
    ['a subdomain by wildcard', strict, 'https://www.radio.example/', 'ok'],
    ['a deeper subdomain by wildcard', strict, 'http://a.b.radio.example/x', 'ok'],
    ['a look-alike host', strict, 'https://evilradio.example/', 'referrer_not_allowed'],
    ['the allowed name inside another host', strict, 'https://radio.example.evil.test/', 'referrer_not_allowed'],
    ['the allowed name in the path', strict, 'https://evil.test/radio.example', 'referrer_not_allowed'],
    ['another site', strict, 'https://evil.test/', 'referrer_not_allowed'],
    ['not a URL', strict, 'radio.example', 'referrer_not_allowed'],
    ['another scheme', strict, 'ftp://radio.example/', 'referrer_not_allowed'],
    ['no Referer', strict, undefined, 'referrer_missing'],
    ['an empty Referer', strict, '', 'referrer_missing'],
    ['no Referer where the zone allows it', lenient, undefined, 'ok'],
    ['a wildcard does not cover the apex unless listed', { allowed: ['*.radio.example'], allowEmpty: false }, 'https://radio.example/', 'referrer_not_allowed'],
  ];
  for (const [name, policy, referer, expected] of rows) {
    it(name, () => {
      const r = checkReferrer(policy, referer);
      assert.equal(r.kind === 'ok' ? 'ok' : r.code, expected);
    });
  }
  it('hostile Referer values never throw and are allowed only when they name an allowed host', () => {
    checkProperty(
      fc.property(fc.string({ maxLength: 200 }), (referer) => {
        const r = checkReferrer(strict, referer);
        if (r.kind === 'ok') assert.match(new URL(referer.trim()).hostname, /(^|\.)radio\.example\.?$/);
      }),
      { numRuns: 500, timeLimitMs: 5000 },
    );
  });
});
