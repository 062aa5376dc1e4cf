// A zone's rate limit shared by several workers through leases: the real primary (EdgePrimary) and
// real worker lines (WorkerLink), joined by an in-process message queue instead of IPC, on fake time.
// What must hold: one worker passes exactly what a single bucket passes; several never pass more than
// the bucket allows in any window; a request mostly costs no question to the primary; a silent
// primary lets requests through; expired leases go back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fakeTimers, type FakeTimers } from '../../../test/helpers/fake-timers.ts';
import { EdgePrimary } from '../cluster/primary.ts';
import { WorkerLink } from '../cluster/worker.ts';
import type { ToPrimary } from '../cluster/protocol.ts';
import { LEASE_MS, LeasedRateLimiter } from './lease.ts';
import { RateLimiter, type TakeResult } from './rate-limit.ts';

const ZONE = 'z.test';

type Machine = { timers: FakeTimers; limiters: LeasedRateLimiter[]; questions: () => number; sent: ToPrimary[] };

/** n workers and their primary; `silent`: the primary never gets the messages. */
function machine(n: number, limit: { requestsPerSecond: number; burst: number }, o: { silent?: boolean } = {}): Machine {
  const timers = fakeTimers(1_800_000_000_000);
  const primary = new EdgePrimary({ now: timers.now, rateLimits: [{ zone: ZONE, ...limit }], maxZones: 1, lockTimeoutMs: 60_000 });
  const sent: ToPrimary[] = [];
  const limiters: LeasedRateLimiter[] = [];
  for (let id = 1; id <= n; id++) {
    const link: WorkerLink = new WorkerLink({
      index: id,
      inStep: true,
      timers,
      send: (m) => {
        sent.push(m);
        if (!o.silent) queueMicrotask(() => primary.receive(id, m));
      },
    });
    primary.add({ id, send: (m) => queueMicrotask(() => link.receive(m)) });
    link.serve({ applyPurge: async () => 0, snapshot: () => ({ zones: {} }) as never, disk: () => {} });
    limiters.push(new LeasedRateLimiter({ timers, line: { lease: (ip, unused) => link.lease(ZONE, ip, unused), settle: (ip, unused) => link.settle(ZONE, ip, unused) } }));
  }
  return { timers, limiters, sent, questions: () => sent.filter((m) => m.edge === 'lease').length };
}

async function take(l: LeasedRateLimiter, ip: string): Promise<TakeResult> {
  return await l.take(ip);
}

test('one worker: a burst costs a few questions, refusals cost none until a token is due', async () => {
  const m = machine(1, { requestsPerSecond: 1, burst: 10 });
  const [w] = m.limiters;
  const answers: boolean[] = [];
  for (let i = 0; i < 10; i++) answers.push((await take(w, '192.0.2.1')).ok);
  assert.deepEqual(answers, Array(10).fill(true));
  assert.equal(m.questions(), 2, 'leases of half the burst');
  // The 11th asks and is refused; the refusal is remembered.
  assert.deepEqual(await take(w, '192.0.2.1'), { ok: false, retryAfterSeconds: 1 });
  const asked = m.questions();
  for (let i = 0; i < 50; i++) {
    const r = w.take('192.0.2.1');
    assert.ok(!(r instanceof Promise));
    assert.equal(r.ok, false);
  }
  assert.equal(m.questions(), asked, 'no question while refused');
  await m.timers.advance(1_000);
  assert.equal((await take(w, '192.0.2.1')).ok, true, 'a token is back after a second');
});

test('a client moving to another worker gets the tokens the first one did not spend back once its lease ends', async () => {
  const m = machine(2, { requestsPerSecond: 0.001, burst: 8 });
  const [a, b] = m.limiters;
  assert.equal((await take(a, '192.0.2.9')).ok, true); // a holds a lease of 2, spent 1
  const onB: boolean[] = [];
  for (let i = 0; i < 8; i++) onB.push((await take(b, '192.0.2.9')).ok);
  assert.deepEqual(onB, [true, true, true, true, true, true, false, false], 'one spent on a, one still lent to a');
  await m.timers.advance(LEASE_MS);
  await m.timers.advance(LEASE_MS); // b's refusal is remembered for a while; a settled its lease meanwhile
  const refused = await take(b, '192.0.2.9');
  assert.equal(refused.ok, false, 'nothing refills at 0.001/s');
  await m.timers.advance(1_000_000);
  assert.equal((await take(b, '192.0.2.9')).ok, true);
});

test('the lease a worker gave back is spent by the other: the burst, no more, no less', async () => {
  const m = machine(2, { requestsPerSecond: 0.001, burst: 8 });
  const [a, b] = m.limiters;
  for (let i = 0; i < 3; i++) assert.equal((await take(a, '192.0.2.5')).ok, true); // leases of 2: 4 lent, 3 spent
  await m.timers.advance(LEASE_MS); // a's lease ends: 1 back
  let passed = 0;
  for (let i = 0; i < 10; i++) if ((await take(b, '192.0.2.5')).ok) passed++;
  assert.equal(passed, 5);
});

test('a client at the limit passes every time, on one worker and alternating between two', async () => {
  for (const n of [1, 2]) {
    const m = machine(n, { requestsPerSecond: 1, burst: 10 });
    for (let i = 0; i < 40; i++) {
      await m.timers.advance(1_000);
      assert.equal((await take(m.limiters[i % n], '192.0.2.3')).ok, true, `${n} worker(s), request ${i}`);
    }
  }
});

test('tokens still lent count as taken: a full bucket and a lease never add up to more than the burst', async () => {
  const m = machine(2, { requestsPerSecond: 50, burst: 8 });
  const [a, b] = m.limiters;
  assert.equal((await take(a, '192.0.2.4')).ok, true); // a holds a lease of 2, one of it unspent
  await m.timers.advance(500); // the bucket would be full again by now; a's lease is still good
  const burst = async () => {
    let passed = 0;
    for (let i = 0; i < 12; i++) if ((await take(i % 2 === 0 ? a : b, '192.0.2.4')).ok) passed++;
    return passed;
  };
  // 7, not 8: the token a spent from its lease is refilled only once that lease is settled (the cost
  // of lending, see lease.ts). Never 9.
  assert.equal(await burst(), 7);
  await m.timers.advance(LEASE_MS);
  assert.equal(await burst(), 8, 'every lease settled: the whole burst again, no more');
});

test('a silent primary: requests pass once the question times out', async () => {
  const m = machine(1, { requestsPerSecond: 1, burst: 1 }, { silent: true });
  let answer: TakeResult | undefined;
  void take(m.limiters[0], '192.0.2.1').then((r) => (answer = r));
  await m.timers.advance(5_000);
  assert.deepEqual(answer, { ok: true });
});

test('property: never more than a bucket allows in any window; one worker with leases of one token passes exactly what one bucket passes', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }),
      fc.record({ requestsPerSecond: fc.constantFrom(0.5, 1, 5, 50), burst: fc.integer({ min: 1, max: 12 }) }),
      fc.array(fc.record({ worker: fc.nat(2), client: fc.nat(1), wait: fc.constantFrom(0, 0, 0, 1, 7, 100, 400, 1_000, 3_000) }), { minLength: 1, maxLength: 60 }),
      async (n, limit, steps) => {
        const m = machine(n, limit);
        const single = new RateLimiter({ ratePerSecond: limit.requestsPerSecond, burst: limit.burst, now: m.timers.now });
        const passedAt = new Map<number, number[]>();
        for (const s of steps) {
          await m.timers.advance(s.wait);
          const ip = `192.0.2.${s.client}`;
          const got = await take(m.limiters[s.worker % n], ip);
          const alone = single.take(ip);
          if (n === 1 && limit.burst < 4) assert.equal(got.ok, alone.ok);
          if (got.ok) passedAt.set(s.client, [...(passedAt.get(s.client) ?? []), m.timers.now()]);
        }
        for (const times of passedAt.values()) {
          for (let i = 0; i < times.length; i++) {
            for (let j = i; j < times.length; j++) {
              const allowed = limit.burst + (limit.requestsPerSecond * (times[j] - times[i])) / 1000;
              assert.ok(j - i + 1 <= allowed + 1e-9, `${j - i + 1} requests passed in ${times[j] - times[i]} ms, at most ${allowed}`);
            }
          }
        }
      },
    ),
    { numRuns: 200 },
  );
});
