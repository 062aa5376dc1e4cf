import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAgo, formatBitrate, formatBytes, formatClock, formatMs, formatPercent, titleFromFileName } from './client/format.ts';

describe('page formatting', () => {
  it('formats values as the pages show them', () => {
    const rows: Array<[string, string]> = [
      [formatBytes(0), '0 B'],
      [formatBytes(1023), '1023 B'],
      [formatBytes(1536), '1.50 KiB'],
      [formatBytes(52_000_000), '49.6 MiB'],
      [formatBytes(NaN), '–'],
      [formatClock(0), '0:00'],
      [formatClock(65.9), '1:05'],
      [formatClock(3725), '1:02:05'],
      [formatClock(Infinity), '–:––'],
      [formatClock(NaN), '–:––'],
      [formatBitrate(125), '1.0 kbit/s'],
      [formatBitrate(1_000_000), '8.0 Mbit/s'],
      [formatPercent(null), '–'],
      [formatPercent(1), '100 %'],
      [formatPercent(0.7243), '72.4 %'],
      [formatMs(0), '0 ms'],
      [formatMs(3.25), '3.3 ms'],
      [formatMs(1500), '1.50 s'],
      [titleFromFileName('My_Song (final).mp3'), 'My Song (final)'],
      [titleFromFileName('.mp3'), '.mp3'],
    ];
    for (const [got, want] of rows) assert.equal(got, want);
  });

  it('says how long ago from an injected now', () => {
    const now = Date.UTC(2025, 5, 10, 12, 0, 0);
    assert.equal(formatAgo(new Date(now - 10_000).toISOString(), now), 'just now');
    assert.equal(formatAgo(new Date(now - 5 * 60_000).toISOString(), now), '5 min ago');
    assert.equal(formatAgo(new Date(now - 3 * 3600_000).toISOString(), now), '3 h ago');
    assert.equal(formatAgo(new Date(now - 2 * 86_400_000).toISOString(), now), '2 d ago');
    assert.equal(formatAgo('2020-01-02T00:00:00Z', now), '2020-01-02');
    assert.equal(formatAgo('not a date', now), '–');
  });
});
