import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clientIp } from './client-ip.ts';
import { createIpMatcher } from './ip-match.ts';

const trusted = createIpMatcher(['10.0.0.0/8', '2001:db8:ffff::/48', '192.0.2.1']);
const nobody = createIpMatcher([]);

test('clientIp', async (t) => {
  const rows: Array<[string, string | undefined, string | string[] | undefined, string]> = [
    // [name, socket, X-Forwarded-For, expected]
    ['direct client, no header', '203.0.113.5', undefined, '203.0.113.5'],
    ['untrusted peer: header ignored', '203.0.113.5', '198.51.100.1', '203.0.113.5'],
    ['mapped socket address normalised', '::ffff:203.0.113.5', undefined, '203.0.113.5'],
    ['IPv6 socket address canonical', '2001:DB8:0:0::1', '1.1.1.1', '2001:db8::1'],
    ['trusted peer, one hop', '10.0.0.1', '198.51.100.1', '198.51.100.1'],
    ['trusted mapped peer', '::ffff:10.0.0.1', '198.51.100.1', '198.51.100.1'],
    ['trusted peer, no header', '10.0.0.1', undefined, '10.0.0.1'],
    ['trusted peer, empty header', '10.0.0.1', '', '10.0.0.1'],
    ['client-supplied entries on the left are not believed', '10.0.0.1', '6.6.6.6, 198.51.100.1', '198.51.100.1'],
    ['trusted hops are skipped', '10.0.0.1', '6.6.6.6, 198.51.100.1, 10.0.0.2, 192.0.2.1', '198.51.100.1'],
    ['IPv6 trusted hops', '2001:db8:ffff::1', '2001:db8:1::7, 2001:db8:ffff::2', '2001:db8:1::7'],
    ['all hops trusted: the leftmost', '10.0.0.1', '10.0.0.3, 10.0.0.2', '10.0.0.3'],
    ['several field lines combine in order', '10.0.0.1', ['6.6.6.6', '198.51.100.1, 10.0.0.2'], '198.51.100.1'],
    ['empty list elements ignored', '10.0.0.1', ' , 198.51.100.1 ,, 10.0.0.2,', '198.51.100.1'],
    ['garbage on the right of the client stops the walk at the last trusted hop', '10.0.0.1', '6.6.6.6, garbage, 10.0.0.2', '10.0.0.2'],
    ['garbage right at the peer', '10.0.0.1', '6.6.6.6, unknown', '10.0.0.1'],
    ['garbage left of the client is never reached', '10.0.0.1', 'garbage, 198.51.100.1', '198.51.100.1'],
    ['obfuscated identifier', '10.0.0.1', '_hidden', '10.0.0.1'],
    ['IPv4 with port', '10.0.0.1', '198.51.100.1:5678', '198.51.100.1'],
    ['bracketed IPv6 with port', '10.0.0.1', '[2001:db8::9]:443', '2001:db8::9'],
    ['bracketed IPv6', '10.0.0.1', '[2001:db8::9]', '2001:db8::9'],
    ['mapped entry normalised and checked as IPv4', '10.0.0.1', '198.51.100.1, ::ffff:10.9.9.9', '198.51.100.1'],
    ['zone id dropped', '10.0.0.1', 'fe80::1%eth0', 'fe80::1'],
    ['bad port', '10.0.0.1', '198.51.100.1:99999x', '10.0.0.1'],
    ['unclosed bracket', '10.0.0.1', '[2001:db8::9', '10.0.0.1'],
    ['junk after bracket', '10.0.0.1', '[2001:db8::9]x', '10.0.0.1'],
    ['quoted value is garbage', '10.0.0.1', '"198.51.100.1"', '10.0.0.1'],
    ['no socket address', undefined, '198.51.100.1', ''],
    ['unparsable socket address returned as is', 'weird', '198.51.100.1', 'weird'],
  ];
  for (const [name, socket, xff, expected] of rows) {
    await t.test(name, () => assert.equal(clientIp(socket, xff, trusted), expected));
  }
  await t.test('no trusted proxies: the peer, whatever the header says', () => {
    assert.equal(clientIp('10.0.0.1', '198.51.100.1', nobody), '10.0.0.1');
  });
});

test('clientIp: never throws, and a client cannot choose an address left of its own hop', () => {
  const entry = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('10.0.0.2', 'unknown', '', ' ', '[', ']:1', '::ffff:10.1.1.1'), fc.string({ maxLength: 12 }));
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 8 }), fc.ipV4(), (spoofed, realClient) => {
      // The client sends anything; the trusted proxy 10.0.0.1 appends the real client address.
      const header = [...spoofed, realClient].join(', ');
      const got = clientIp('10.0.0.1', header, trusted);
      const expected = trusted(realClient) ? undefined : realClient;
      if (expected !== undefined) assert.equal(got, expected);
      else assert.equal(typeof got, 'string');
    }),
    { numRuns: 1000 },
  );
});
