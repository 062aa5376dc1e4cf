import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatAccessLogLine, truncateIp } from './access-log.ts';
import type { AccessLogEntry } from './access-log.ts';

test('truncateIp: IPv4 to /24, IPv6 to /48, junk to -', async (t) => {
  const rows: Array<[string, string]> = [
    ['203.0.113.77', '203.0.113.0'],
    ['203.0.113.0', '203.0.113.0'],
    ['255.255.255.255', '255.255.255.0'],
    ['::ffff:203.0.113.77', '203.0.113.0'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1::'],
    ['2001:db8:abcd:ffff::1', '2001:db8:abcd::'],
    ['2001:db8::1', '2001:db8::'],
    ['::1', '::'],
    ['fe80::1%eth0', 'fe80::'],
    ['', '-'],
    ['unknown', '-'],
    ['203.0.113.77:8080', '-'],
  ];
  for (const [input, expected] of rows) await t.test(JSON.stringify(input), () => assert.equal(truncateIp(input), expected));
});

const base: AccessLogEntry = {
  time: Date.UTC(2025, 0, 2, 3, 4, 5, 678),
  clientIp: '203.0.113.77',
  method: 'GET',
  target: '/media/a.mp3',
  httpVersion: '1.1',
  status: 200,
  bytes: 5120,
  referer: 'https://radio.example/',
  userAgent: 'Mozilla/5.0 (X11)',
  zone: 'cdn.example.com',
  outcome: 'hit',
  durationMs: 3.4,
};

test('formatAccessLogLine', async (t) => {
  const rows: Array<[string, Partial<AccessLogEntry>, string]> = [
    ['combined format plus zone, outcome, duration', {}, '203.0.113.0 - - [02/Jan/2025:03:04:05 +0000] "GET /media/a.mp3 HTTP/1.1" 200 5120 "https://radio.example/" "Mozilla/5.0 (X11)" cdn.example.com hit 3'],
    ['IPv6 client, no referer or agent', { clientIp: '2001:db8:1:2::9', referer: undefined, userAgent: '' }, '2001:db8:1:: - - [02/Jan/2025:03:04:05 +0000] "GET /media/a.mp3 HTTP/1.1" 200 5120 "-" "-" cdn.example.com hit 3'],
    ['quotes and backslashes escaped', { userAgent: 'a"b\\c' }, '"a\\x22b\\x5Cc"'],
    ['line breaks cannot forge a line', { target: '/x\r\n203.0.113.9 - - [forged]' }, '"GET /x\\x0D\\x0A203.0.113.9 - - [forged] HTTP/1.1"'],
    ['latin1 bytes from the parser escaped', { target: '/caf\u00c3\u00a9' }, '"GET /caf\\xC3\\xA9 HTTP/1.1"'],
    ['characters above U+00FF escaped', { userAgent: 'x\u{1F600}' }, '"x\\u{1F600}"'],
    ['spaces escaped in unquoted fields', { outcome: 'hit miss' }, ' hit\\x20miss '],
    ['odd numbers become -', { bytes: Number.NaN, durationMs: -1 }, '" 200 - "https'],
    ['midnight, month names', { time: Date.UTC(2024, 11, 31, 23, 59, 59) }, '[31/Dec/2024:23:59:59 +0000]'],
  ];
  for (const [name, change, expected] of rows) {
    await t.test(name, () => {
      const line = formatAccessLogLine({ ...base, ...change });
      if (name.startsWith('combined') || name.startsWith('IPv6')) assert.equal(line, expected);
      else assert.ok(line.includes(expected), `${line}\n  does not include\n${expected}`);
    });
  }
});

test('formatAccessLogLine: any input gives one line of printable ASCII with 12 fields and no full address', () => {
  const text = fc.string({ unit: 'binary', maxLength: 30 });
  fc.assert(
    fc.property(text, text, text, text, text, fc.ipV4(), (method, target, referer, userAgent, zone, ip) => {
      const line = formatAccessLogLine({ ...base, method, target, referer, userAgent, zone, clientIp: ip });
      assert.match(line, /^[\x20-\x7e]+$/);
      // Split on the field grammar: quoted fields hold no unescaped quote.
      const fields = line.match(/"[^"]*"|\[[^\]]*\]|\S+/g)!;
      assert.equal(fields.length, 12, line);
      assert.ok(fields[0].endsWith('.0'), line);
    }),
    { numRuns: 500 },
  );
});
