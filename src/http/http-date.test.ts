import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHttpDate, parseHttpDate } from './http-date.ts';

const T = Date.UTC(1994, 10, 6, 8, 49, 37); // the RFC 9110 example instant
const NOW = Date.UTC(2025, 5, 1);

test('formatHttpDate', async (t) => {
  const rows: Array<[number, string]> = [
    [T, 'Sun, 06 Nov 1994 08:49:37 GMT'],
    [T + 999, 'Sun, 06 Nov 1994 08:49:37 GMT'], // sub-second floored
    [0, 'Thu, 01 Jan 1970 00:00:00 GMT'],
    [-1, 'Wed, 31 Dec 1969 23:59:59 GMT'],
    [Date.UTC(2000, 1, 29, 23, 59, 59), 'Tue, 29 Feb 2000 23:59:59 GMT'],
    [Date.UTC(9999, 11, 31, 23, 59, 59), 'Fri, 31 Dec 9999 23:59:59 GMT'],
  ];
  for (const [ms, want] of rows) await t.test(want, () => assert.equal(formatHttpDate(ms), want));
  for (const bad of [NaN, Infinity, -Infinity, Date.UTC(10000, 0, 1), 8.64e15 + 1]) {
    await t.test(`throws for ${bad}`, () => assert.throws(() => formatHttpDate(bad), { code: 'ERR_HTTP_INVALID_ARGUMENT' }));
  }
});

test('parseHttpDate', async (t) => {
  const rows: Array<[string | undefined, number | undefined]> = [
    ['Sun, 06 Nov 1994 08:49:37 GMT', T],
    ['Sunday, 06-Nov-94 08:49:37 GMT', T],
    ['Sun Nov  6 08:49:37 1994', T],
    ['Sun Nov 06 08:49:37 1994', T],
    ['  Sun, 06 Nov 1994 08:49:37 GMT\t', T], // OWS
    ['sun, 06 nov 1994 08:49:37 GMT', T], // robust about case
    ['Sun, 06 Nov 1994 08:49:37 gmt', T], // lower-case zone (§5.6.7 recipients may be robust)
    ['SUNDAY, 06-NOV-94 08:49:37 Gmt', T],
    ['Mon, 06 Nov 1994 08:49:37 GMT', T], // day name not checked against the date
    ['Sat, 31 Dec 2016 23:59:60 GMT', Date.UTC(2017, 0, 1)], // leap second
    ['Thu, 29 Feb 2024 00:00:00 GMT', Date.UTC(2024, 1, 29)],
    ['Thursday, 01-Jan-70 00:00:00 GMT', Date.UTC(2070, 0, 1)], // within 50 years of NOW
    ['Thursday, 01-Jan-76 00:00:00 GMT', Date.UTC(1976, 0, 1)], // >50 years ahead → previous century
    ['Friday, 01-Jan-99 00:00:00 GMT', Date.UTC(1999, 0, 1)],
    ['Sat, 01 Jan 0001 00:00:00 GMT', -62135596800000],
    [undefined, undefined],
    ['', undefined],
    ['garbage', undefined],
    ['Sun, 06 Nov 1994 08:49:37 UTC', undefined],
    ['Sun, 06 Nov 1994 08:49:37 +0000', undefined],
    ['Sun, 6 Nov 1994 08:49:37 GMT', undefined],
    ['Sun, 06 Nov 94 08:49:37 GMT', undefined],
    ['Sun, 06 Nov 1994 08:49 GMT', undefined],
    ['Sun, 06 Xyz 1994 08:49:37 GMT', undefined],
    ['Xyz, 06 Nov 1994 08:49:37 GMT', undefined],
    ['Sundae, 06-Nov-94 08:49:37 GMT', undefined],
    ['Thu, 30 Feb 2024 00:00:00 GMT', undefined],
    ['Thu, 29 Feb 2023 00:00:00 GMT', undefined],
    ['Thu, 00 Jan 2024 00:00:00 GMT', undefined],
    ['Thu, 01 Jan 2024 24:00:00 GMT', undefined],
    ['Thu, 01 Jan 2024 23:60:00 GMT', undefined],
    ['Thu, 01 Jan 2024 23:59:61 GMT', undefined],
    ['Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT', undefined], // two members
    ['1994-11-06T08:49:37Z', undefined],
    ['784111777', undefined],
    ['Sun, ０６ Nov 1994 08:49:37 GMT', undefined], // full-width digits
    ['Sun, 06 Nov 1994 08:49:37 GMT\r\n', undefined],
    ['Sun, 06 Nov 1994 08:49:37 GMT' + ' '.repeat(100), undefined], // absurdly long
  ];
  for (const [input, want] of rows) {
    await t.test(JSON.stringify(input), () => assert.equal(parseHttpDate(input, { now: NOW }), want));
  }
});

test('parseHttpDate(formatHttpDate(x)) is x at second precision', () => {
  for (const ms of [0, T, 1e12 + 123, -1e12, Date.UTC(2038, 0, 19, 3, 14, 8)]) {
    assert.equal(parseHttpDate(formatHttpDate(ms)), Math.floor(ms / 1000) * 1000);
  }
});
