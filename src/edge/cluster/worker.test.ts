// A worker's line to the primary when the primary answers, and when it does not: questions on the
// request path (fill lock, rate-limit lease, purge-log gate) fail open after their deadline, an
// operator's questions (purge, statistics) fail with 503, a fill waiter stops waiting, and nothing is
// left waiting. Time is the test's (fake timers).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeTimers } from '../../../test/helpers/fake-timers.ts';
import type { ToPrimary } from './protocol.ts';
import { WorkerLink } from './worker.ts';

const TIMEOUTS = { request: 5_000, control: 60_000 };

function link(answer?: (m: ToPrimary, reply: (value: unknown) => void) => void) {
  const timers = fakeTimers();
  const sent: ToPrimary[] = [];
  let worker: WorkerLink | undefined;
  worker = new WorkerLink({
    index: 1,
    inStep: false,
    timers,
    timeoutsMs: TIMEOUTS,
    send: (m) => {
      sent.push(m);
      if (answer && 'id' in m) answer(m, (value) => queueMicrotask(() => worker!.receive({ edge: 'reply', id: m.id, value })));
    },
  });
  return { worker, timers, sent };
}

test('with a primary that answers: replies reach the right question and no deadline is left pending', async () => {
  const { worker, timers } = link((m, reply) => {
    if (m.edge === 'lease') reply({ granted: 0, retryAfterMs: 3_000 });
    else if (m.edge === 'lock') reply({ leader: true });
    else if (m.edge === 'purge') reply(4);
    else reply(true);
  });
  assert.deepEqual(await worker.lease('z', '192.0.2.1', 0), { granted: 0, retryAfterMs: 3_000 });
  assert.equal((await worker.lock('k')).leader, true);
  assert.equal(await worker.purgeAll({ kind: 'zone', zone: 'z' }), 4);
  await worker.gate();
  assert.equal(worker.waiting, 0);
  assert.equal(timers.pending(), 0);
});

test('a silent primary: rate limit, fill lock and gate fail open after the request deadline', async () => {
  const { worker, timers } = link();
  let took: unknown = 'waiting';
  let locked: unknown;
  let gated = false;
  void worker.lease('z', '192.0.2.1', 0).then((r) => (took = r));
  void worker.lock('k').then((l) => (locked = l.leader));
  void worker.gate()!.then(() => (gated = true));
  await timers.advance(TIMEOUTS.request - 1);
  assert.equal(took, 'waiting');
  assert.equal(locked, undefined);
  assert.equal(gated, false);
  await timers.advance(1);
  assert.equal(took, undefined, 'no lease: the rate limiter lets the request pass (limits/lease.test.ts)');
  assert.equal(locked, true, 'fills alone');
  assert.equal(gated, true);
  assert.equal(worker.waiting, 0);
});

test('a silent primary: purge and statistics fail with 503 after the control deadline, not on a guess', async () => {
  const { worker, timers } = link();
  const purge = worker.purgeAll({ kind: 'zone', zone: 'z' });
  const stats = worker.stats();
  const outcomes: unknown[] = [];
  for (const p of [purge, stats]) p.then((v) => outcomes.push(v), (e: unknown) => outcomes.push(e));
  await timers.advance(TIMEOUTS.request);
  assert.equal(outcomes.length, 0, 'still waiting after the request deadline');
  await timers.advance(TIMEOUTS.control - TIMEOUTS.request);
  assert.equal(outcomes.length, 2);
  for (const e of outcomes) {
    assert.ok(e instanceof Error);
    assert.equal((e as Error & { status: number }).status, 503);
    assert.match((e as Error).message, /primary process did not answer/);
  }
  assert.equal(worker.waiting, 0);
});

test('a fill waiter whose leader is never reported done stops waiting at the control deadline', async () => {
  const { worker, timers } = link((m, reply) => reply(m.edge === 'lock' ? { leader: false } : true));
  const lock = await worker.lock('k');
  assert.equal(lock.leader, false);
  let released = false;
  if (!lock.leader) void lock.released.then(() => (released = true));
  await timers.advance(TIMEOUTS.control - 1);
  assert.equal(released, false);
  await timers.advance(1);
  assert.equal(released, true);
});

test('a reply after the deadline is ignored', async () => {
  const { worker, timers, sent } = link();
  const took = worker.lease('z', '192.0.2.1', 0);
  await timers.advance(TIMEOUTS.request);
  assert.equal(await took, undefined);
  const m = sent.find((x) => x.edge === 'lease') as ToPrimary & { id: number };
  worker.receive({ edge: 'reply', id: m.id, value: { granted: 3, retryAfterMs: 0 } });
  assert.equal(worker.waiting, 0);
});

test('a streamed fill keeps its wait alive while news comes; silence for the control deadline ends it short', async () => {
  const { worker, timers } = link((m, reply) => reply(m.edge === 'lock' ? { leader: false } : true));
  const lock = await worker.lock('k');
  assert.equal(lock.leader, false);
  if (lock.leader) return;
  const id = 1;
  worker.receive({ edge: 'filling', id, meta: { key: 'k' }, spool: '/s', bytes: 3 });
  const fill = await lock.filling;
  assert.ok(fill);
  const seen: Array<[number, boolean | undefined]> = [];
  fill.onChange = () => seen.push([fill.bytes, fill.ended]);
  for (let i = 1; i <= 3; i++) {
    await timers.advance(TIMEOUTS.control - 1);
    worker.receive({ edge: 'fill-progress', id, bytes: 3 + i });
  }
  assert.deepEqual(seen, [[4, undefined], [5, undefined], [6, undefined]], 'three control deadlines passed, with news in between');
  await timers.advance(TIMEOUTS.control);
  assert.deepEqual(seen.at(-1), [6, false], 'no news for the whole deadline: the stream ends short');
  let released = false;
  void lock.released.then(() => (released = true));
  await timers.advance(0);
  assert.equal(released, true);
  assert.equal(timers.pending(), 0);
});
