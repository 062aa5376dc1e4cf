import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoWeek, planPrune, type PruneCandidate } from './prune-plan.ts';
import { snapshotIdFor } from './manifest.ts';

/** 90 daily snapshots at 04:15 UTC from 2026-01-01 (a Thursday) to 2026-03-31. */
function daily90(verifiedIds: string[] = []): PruneCandidate[] {
  const out: PruneCandidate[] = [];
  for (let i = 0; i < 90; i++) {
    const id = snapshotIdFor(new Date(Date.UTC(2026, 0, 1 + i, 4, 15)));
    out.push({ id, verified: verifiedIds.includes(id) });
  }
  return out;
}

test('ISO weeks start on Monday and week 1 holds the first Thursday', () => {
  const rows: Array<[string, string]> = [
    ['2026-01-01', '2026-W01'], // Thursday
    ['2025-12-29', '2026-W01'], // Monday of that week
    ['2025-12-28', '2025-W52'], // Sunday before
    ['2026-01-04', '2026-W01'],
    ['2026-01-05', '2026-W02'],
    ['2027-01-01', '2026-W53'], // Friday: 2026 has 53 weeks
    ['2024-12-30', '2025-W01'],
  ];
  for (const [day, week] of rows) assert.equal(isoWeek(new Date(`${day}T12:00:00Z`)), week, day);
});

test('on 90 daily snapshots the policy keeps exactly the promised buckets', () => {
  const snaps = daily90();
  const plan = planPrune(snaps, { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 3 });
  const kept = new Map(plan.keep.map((k) => [k.id.slice(0, 8), k.reasons]));
  // keep-last 3 and keep-daily 7: the last seven days, 25–31 March.
  for (let d = 25; d <= 31; d++) assert.ok(kept.get(`202603${d}`)?.includes('daily'), `daily ${d}`);
  for (let d = 29; d <= 31; d++) assert.ok(kept.get(`202603${d}`)?.includes('last'), `last ${d}`);
  // keep-weekly 4: the newest of each of the last four ISO weeks: Tue 31 Mar (W14), Sun 29, 22, 15 Mar.
  assert.deepEqual(plan.keep.filter((k) => k.reasons.includes('weekly')).map((k) => k.id.slice(0, 8)), ['20260331', '20260329', '20260322', '20260315']);
  // keep-monthly 3: the newest of March, February, January.
  assert.deepEqual(plan.keep.filter((k) => k.reasons.includes('monthly')).map((k) => k.id.slice(0, 8)), ['20260331', '20260228', '20260131']);
  // 7 days, plus weeks 22 and 15 March, plus 28 February and 31 January.
  assert.equal(plan.keep.length, 7 + 2 + 2);
  assert.equal(plan.keep.length + plan.remove.length, 90);
  assert.deepEqual(new Set([...plan.keep.map((k) => k.id), ...plan.remove]), new Set(snaps.map((s) => s.id)));
});

test('the newest verified snapshot survives any policy, older verified ones do not', () => {
  const snaps = daily90(['20260110T041500Z', '20260105T041500Z']);
  const plan = planPrune(snaps, { keepLast: 1 });
  assert.deepEqual(plan.keep, [
    { id: '20260331T041500Z', reasons: ['last'] },
    { id: '20260110T041500Z', reasons: ['newest-verified'] },
  ]);
  assert.ok(plan.remove.includes('20260105T041500Z'));
});

test('an empty policy is refused; counts larger than the history keep everything', () => {
  assert.throws(() => planPrune(daily90(), {}), { code: 'prune_policy' });
  assert.throws(() => planPrune(daily90(), { keepLast: 0 }), { code: 'prune_policy' });
  assert.equal(planPrune(daily90(), { keepDaily: 1000 }).remove.length, 0);
  assert.deepEqual(planPrune([], { keepLast: 1 }), { keep: [], remove: [] });
});

test('two snapshots on one day: keep-daily keeps the later one', () => {
  const plan = planPrune([{ id: '20260101T010000Z', verified: false }, { id: '20260101T230000Z', verified: false }], { keepDaily: 5 });
  assert.deepEqual(plan.keep.map((k) => k.id), ['20260101T230000Z']);
  assert.deepEqual(plan.remove, ['20260101T010000Z']);
});
