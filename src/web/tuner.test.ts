import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StationItem } from './client/station-types.ts';
import { addSample, clockOffset, itemAfter, itemAt, mergeItems, needsResync, positionAt } from './client/tuner.ts';

const item = (seq: number, id: number, startsAt: number, ms = 10_000): StationItem => ({
  seq, id, kind: 'song', url: `http://cdn.test/media/${id}.mp3`, contentType: 'audio/mpeg', title: `t${id}`, artist: null, album: null,
  durationMs: ms, startsAt, endsAt: startsAt + ms, background: null,
});

describe('the listener page’s clock and running order', () => {
  it('the clock offset comes from the quickest exchange, at its midpoint', () => {
    for (const [samples, expected] of [
      [[], 0],
      [[{ sentAt: 1000, receivedAt: 1100, serverTime: 3_601_050 }], 3_600_000],
      // A slow exchange (a long round trip) is ignored in favour of a quick one.
      [[{ sentAt: 1000, receivedAt: 3000, serverTime: 10_000 }, { sentAt: 5000, receivedAt: 5020, serverTime: 4010 }], -1000],
      // A sample whose answer came "before" the request (own clock set back meanwhile) is not used.
      [[{ sentAt: 5000, receivedAt: 4000, serverTime: 0 }, { sentAt: 0, receivedAt: 10, serverTime: 105 }], 100],
    ] as const) assert.equal(clockOffset(samples), expected, JSON.stringify(samples));
    let kept = addSample([], { sentAt: 0, receivedAt: 1, serverTime: 0 });
    for (let i = 1; i < 9; i++) kept = addSample(kept, { sentAt: i, receivedAt: i + 1, serverTime: i });
    assert.deepEqual(kept.map((s) => s.sentAt), [4, 5, 6, 7, 8]);
  });

  it('position, item at a time, item after a seq', () => {
    const items = [item(4, 1, 1000), item(5, 2, 11_000), item(6, 3, 21_000)];
    assert.equal(positionAt(items[0], 3500), 2.5);
    assert.equal(positionAt(items[0], 500), 0);
    assert.equal(itemAt(items, 11_000)?.seq, 5);
    assert.equal(itemAt(items, 10_999)?.seq, 4);
    assert.equal(itemAt(items, 31_000), undefined);
    assert.equal(itemAfter(items, 4)?.seq, 5);
    assert.equal(itemAfter(items, 6), undefined);
    assert.equal(itemAfter([items[2], items[0]], 4)?.seq, 6);
  });

  it('a newer answer replaces the same items; a changed plan drops what was planned after it', () => {
    const old = [item(4, 1, 0), item(5, 2, 10_000), item(6, 3, 20_000), item(7, 1, 30_000)];
    const same = mergeItems(old, [item(5, 2, 10_000)], 4);
    assert.deepEqual(same.map((i) => i.seq), [4, 5, 6, 7]);
    const changed = mergeItems(old, [item(5, 9, 10_000)], 4);
    assert.deepEqual(changed.map((i) => [i.seq, i.id]), [[4, 1], [5, 9]]);
    const forgotten = mergeItems(old, [item(8, 2, 40_000)], 6);
    assert.deepEqual(forgotten.map((i) => i.seq), [6, 7, 8]);
    assert.deepEqual(mergeItems(old, [], 5).map((i) => i.seq), [5, 6, 7]);
  });

  it('resyncs only past the allowed drift, and never past the end of the file', () => {
    assert.equal(needsResync(10, 10.5, 60), false);
    assert.equal(needsResync(10, 10.7, 60), true);
    assert.equal(needsResync(12, 10, 60), true);
    assert.equal(needsResync(55, 59.95, 60), false);
    assert.equal(needsResync(0, 5, Number.NaN), true);
  });
});
