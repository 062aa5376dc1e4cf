import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { InvalidIpEntryError, createIpMatcher, formatCidr, formatIp, normaliseIp, parseCidr, parseIp } from './ip-match.ts';

test('normaliseIp: canonical text, mapped → IPv4, zone ids dropped, junk → undefined', async (t) => {
  const rows: Array<[string, string | undefined]> = [
    ['1.2.3.4', '1.2.3.4'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:102:304', '1.2.3.4'],
    ['0:0:0:0:0:ffff:c000:0280', '192.0.2.128'],
    ['::1.2.3.4', '::102:304'], // IPv4-compatible (deprecated) is not mapped
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
    ['fe80::1%eth0', 'fe80::1'],
    ['fe80::1%25', 'fe80::1'],
    ['fe80::1%', undefined],
    ['::% ', undefined],
    ['::%%', undefined],
    ['fe80::1%a/b', undefined],
    ['1.2.3.4%eth0', undefined],
    ['', undefined],
    ['1.2.3', undefined],
    ['1.2.3.4.5', undefined],
    ['1.2.3.256', undefined],
    ['01.2.3.4', undefined], // octal in inet_aton: ambiguous
    ['1.2.3.-4', undefined],
    [' 1.2.3.4', undefined],
    ['1.2.3.4/32', undefined],
    ['0x1.2.3.4', undefined],
    ['١.٢.٣.٤', undefined], // Arabic-Indic digits
    [':::', undefined],
    ['1::2::3', undefined],
    [':1:2:3:4:5:6:7', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['1:2:3:4:5:6:7', undefined],
    ['1:2:3:4:5:6:7:8::', undefined],
    ['12345::', undefined],
    ['g::', undefined],
    ['1.2.3.4::', undefined],
    ['::1.2.3.4:5', undefined],
    ['[::1]', undefined],
    ['unknown', undefined],
  ];
  for (const [input, expected] of rows) {
    await t.test(JSON.stringify(input), () => assert.equal(normaliseIp(input), expected));
  }
});

test('parseCidr: prefixes, host routes, host bits cleared, mapped blocks become IPv4', async (t) => {
  const rows: Array<[string, string | undefined]> = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['10.1.2.3', '10.1.2.3/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['255.255.255.255/1', '128.0.0.0/1'],
    ['  192.0.2.0/24 ', '192.0.2.0/24'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:db8:ffff::1/32', '2001:db8::/32'],
    ['2001:db8::1', '2001:db8::1/128'],
    ['::/0', '::/0'],
    ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    ['::ffff:1.2.3.4', '1.2.3.4/32'],
    ['::ffff:0:0/95', '::fffe:0:0/95'], // not a mapped block: stays IPv6
    ['10.0.0.0/33', undefined],
    ['2001:db8::/129', undefined],
    ['10.0.0.0/', undefined],
    ['10.0.0.0/08', undefined],
    ['10.0.0.0/-1', undefined],
    ['10.0.0.0/8/8', undefined],
    ['10.0.0.0 /8', undefined],
    ['fe80::%eth0/64', undefined],
    ['/8', undefined],
    ['', undefined],
    ['example.com', undefined],
  ];
  for (const [input, expected] of rows) {
    await t.test(JSON.stringify(input), () => {
      const block = parseCidr(input);
      assert.equal(block && formatCidr(block), expected);
    });
  }
});

test('createIpMatcher: IPv4, IPv6, mapped, zone ids, /0 and host routes', async (t) => {
  const list = ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '2001:db8:1::5', '::ffff:198.51.100.0/120', 'fe80::/10'];
  const match = createIpMatcher(list);
  const rows: Array<[string, boolean]> = [
    ['10.0.0.0', true],
    ['10.255.255.255', true],
    ['11.0.0.0', false],
    ['9.255.255.255', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['::ffff:10.1.2.3', true], // mapped address against an IPv4 rule
    ['::ffff:a01:203', true],
    ['::ffff:192.0.2.7', true],
    ['198.51.100.9', true], // IPv4 address against a mapped rule
    ['198.51.101.9', false],
    ['2001:db8::1', true],
    ['2001:DB8:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:db9::', false],
    ['2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['fe80::1%eth0', true], // zone id stripped
    ['febf::1', true],
    ['fec0::1', false],
    ['::1', false],
    ['', false],
    ['garbage', false],
    ['10.0.0.1:80', false],
  ];
  for (const [ip, expected] of rows) {
    await t.test(`${ip} → ${expected}`, () => assert.equal(match(ip), expected));
  }

  await t.test('/0 covers its own family only', () => {
    const all4 = createIpMatcher(['0.0.0.0/0']);
    const all6 = createIpMatcher(['::/0']);
    assert.equal(all4('203.0.113.1'), true);
    assert.equal(all4('::ffff:203.0.113.1'), true);
    assert.equal(all4('2001:db8::1'), false);
    assert.equal(all6('2001:db8::1'), true);
    assert.equal(all6('::'), true);
    assert.equal(all6('203.0.113.1'), false); // node:net BlockList says true here
    assert.equal(all6('::ffff:203.0.113.1'), false);
  });

  await t.test('empty list matches nothing', () => {
    assert.equal(createIpMatcher([])('1.2.3.4'), false);
  });

  await t.test('an invalid entry is named in the error', () => {
    assert.throws(
      () => createIpMatcher(['10.0.0.0/8', '10.0.0.0/33']),
      (err: unknown) =>
        err instanceof InvalidIpEntryError && err.entry === '10.0.0.0/33' && err.index === 1 && err.code === 'ip_list_invalid' &&
        err.message.includes('"10.0.0.0/33"'),
    );
  });
});

test('createIpMatcher: thousands of entries agree with a linear scan', () => {
  const entries: string[] = [];
  for (let i = 0; i < 3000; i++) entries.push(`${(i * 7) % 223 + 1}.${(i * 13) % 256}.${i % 256}.0/${[16, 20, 24, 32][i % 4]}`);
  for (let i = 0; i < 1000; i++) entries.push(`2001:db8:${i.toString(16)}::/${[48, 56, 64][i % 3]}`);
  const match = createIpMatcher(entries);
  const blocks = entries.map((e) => parseCidr(e)!);
  const linear = (ip: string): boolean => {
    const a = parseIp(ip)!;
    return blocks.some((b) => {
      if (b.family !== a.family) return false;
      if (a.family === 4 && b.family === 4) return b.prefix === 0 || (a.value >>> (32 - b.prefix)) === (b.network >>> (32 - b.prefix));
      if (a.family === 6 && b.family === 6) return b.prefix === 0 || (a.value >> BigInt(128 - b.prefix)) === (b.network >> BigInt(128 - b.prefix));
      return false;
    });
  };
  fc.assert(
    fc.property(
      fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('1.0.0.1', '8.13.0.5', '2001:db8:3e7::1', '2001:db8:1:0:ff::')),
      (ip) => assert.equal(match(ip), linear(ip), ip),
    ),
    { numRuns: 2000 },
  );
  let hits = 0;
  for (let i = 0; i < 3000; i++) if (match(`${(i * 7) % 223 + 1}.${(i * 13) % 256}.${i % 256}.0`)) hits++;
  assert.equal(hits, 3000);
});

// Oracles: node:net's isIP for what is an address, WHATWG URL for RFC 5952 canonical text.
const hexGroup = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const v6ish = fc.oneof(
  fc.ipV6(),
  fc.ipV4Extended().map(String),
  fc.array(fc.oneof(hexGroup, fc.constantFrom('', '0', '00000', 'ffff', '1.2.3.4', '01.2.3.4', 'g', ' ')), { maxLength: 10 }).map((g) => g.join(':')),
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.%/ '), maxLength: 20 }),
);

test('parseIp agrees with node:net isIP on what is an address', () => {
  fc.assert(
    fc.property(v6ish, (s) => {
      assert.equal(parseIp(s) !== undefined, isIP(s) !== 0, s);
    }),
    { numRuns: 3000 },
  );
});

test('formatIp: RFC 5952 text as WHATWG URL serialises it, and parse(format(x)) = x', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }), (groups) => {
      const text = groups.map((g) => g.toString(16)).join(':');
      const ip = parseIp(text)!;
      const formatted = formatIp(ip);
      assert.deepEqual(parseIp(formatted), ip);
      if (ip.family === 6) assert.equal(`[${formatted}]`, new URL(`http://[${text}]/`).hostname);
    }),
    { numRuns: 2000 },
  );
});
