import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gutterFor, niceMax, timeTicks, valueTicks } from './client/chart-axes.ts';

describe('chart axes', () => {
  it('value ticks are round; counts get whole numbers only', () => {
    const rows: Array<[number[], number[]]> = [
      [valueTicks(1), [0, 0.25, 0.5, 0.75, 1]],
      [valueTicks(1, { integer: true }), [0, 1]],
      [valueTicks(0, { integer: true }), [0, 1]],
      [valueTicks(3, { integer: true }), [0, 1, 2, 3]],
      [valueTicks(5, { integer: true }), [0, 2, 4, 6]],
      [valueTicks(0.4, { integer: true }), [0, 1]],
      [valueTicks(37, { integer: true }), [0, 10, 20, 30, 40]],
      [valueTicks(9, { integer: true }), [0, 5, 10]],
      [valueTicks(0.9), [0, 0.25, 0.5, 0.75, 1]],
      [valueTicks(123, { yMax: 1 }), [0, 0.25, 0.5, 0.75, 1]],
    ];
    for (const [got, want] of rows) assert.deepEqual(got, want);
    for (let max = 0; max <= 2000; max += 7) {
      const ticks = valueTicks(max, { integer: true });
      assert.ok(ticks.every(Number.isInteger), `${max}: ${ticks}`);
      assert.ok(ticks.at(-1)! >= max && ticks.length <= 6, `${max}: ${ticks}`);
    }
    assert.deepEqual(niceMax(5, 4, true), { top: 6, step: 2 });
  });

  it('time labels fall on round clock minutes, the same for every chart of the same minutes', () => {
    const start = Date.UTC(2025, 0, 1, 10, 7);
    const times = Array.from({ length: 60 }, (_, i) => start + i * 60_000);
    const at = (idx: number[]) => idx.map((i) => new Date(times[i]).toISOString().slice(11, 16));
    assert.deepEqual(at(timeTicks(times, 5)), ['10:15', '10:30', '10:45', '11:00']);
    assert.deepEqual(at(timeTicks(times, 12)), ['10:10', '10:15', '10:20', '10:25', '10:30', '10:35', '10:40', '10:45', '10:50', '10:55', '11:00', '11:05']);
    // In a time zone an hour and a half ahead, labels fall on that zone's round minutes.
    assert.deepEqual(at(timeTicks(times, 2, 90)), ['10:30', '11:00']);
    const day = Array.from({ length: 1440 }, (_, i) => start + i * 60_000);
    assert.ok(timeTicks(day, 8).length <= 8);
    assert.deepEqual(timeTicks([], 4), []);
  });

  it('one gutter fits the widest label of every chart', () => {
    assert.equal(gutterFor(['0', '1.2 Mbit/s']), gutterFor(['1.2 Mbit/s']));
    assert.ok(gutterFor(['1.2 Mbit/s']) > gutterFor(['0', '1']));
  });
});
