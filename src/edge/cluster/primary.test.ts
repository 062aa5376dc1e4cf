// EdgePrimary's bookkeeping, with workers as message queues: fill locks (one leader, waiters released
// when it unlocks or dies), purges answered once every ready worker answered (a dead one counts as
// done), statistics merged with those of a worker that died, rate limits counted once, messages of
// unknown kinds ignored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EntryMeta } from '../cache/store.ts';
import { EdgePrimary } from './primary.ts';
import type { EdgePrimaryOptions, Peer } from './primary.ts';
import type { ToWorker } from './protocol.ts';
import { EdgeStats } from '../stats/counting.ts';

type Box = Peer & { inbox: ToWorker[] };

function setup(workers: number, limits: EdgePrimaryOptions['rateLimits'] = [], more: Partial<EdgePrimaryOptions> = {}): { primary: EdgePrimary; peers: Box[] } {
  const primary = new EdgePrimary({ now: () => 1_800_000_000_000, rateLimits: limits, maxZones: 4, lockTimeoutMs: 60_000, ...more });
  const peers: Box[] = [];
  for (let id = 1; id <= workers; id++) {
    const inbox: ToWorker[] = [];
    const peer: Box = { id, inbox, send: (m) => inbox.push(m) };
    primary.add(peer);
    primary.receive(id, { edge: 'ready' });
    peers.push(peer);
  }
  return { primary, peers };
}

test('fill locks: one leader per key, waiters released when it unlocks, then the key is free', () => {
  const { primary, peers } = setup(2);
  const [a, b] = peers;
  primary.receive(a.id, { edge: 'lock', id: 1, key: 'k' });
  primary.receive(b.id, { edge: 'lock', id: 7, key: 'k' });
  primary.receive(b.id, { edge: 'lock', id: 8, key: 'other' });
  assert.deepEqual(a.inbox, [{ edge: 'reply', id: 1, value: { leader: true } }]);
  assert.deepEqual(b.inbox, [{ edge: 'reply', id: 7, value: { leader: false } }, { edge: 'reply', id: 8, value: { leader: true } }]);
  primary.receive(b.id, { edge: 'unlock', key: 'k' }); // not its lock: ignored
  assert.equal(b.inbox.length, 2);
  primary.receive(a.id, { edge: 'unlock', key: 'k' });
  assert.deepEqual(b.inbox[2], { edge: 'released', id: 7 });
  primary.receive(b.id, { edge: 'lock', id: 9, key: 'k' });
  assert.deepEqual(b.inbox[3], { edge: 'reply', id: 9, value: { leader: true } });
});

test('a leader that dies releases its locks to the waiters', () => {
  const { primary, peers } = setup(2);
  const [a, b] = peers;
  primary.receive(a.id, { edge: 'lock', id: 1, key: 'k' });
  primary.receive(b.id, { edge: 'lock', id: 2, key: 'k' });
  primary.remove(a.id);
  assert.deepEqual(b.inbox.at(-1), { edge: 'released', id: 2 });
});

test('a shared fill: the filler is asked to spool once someone waits; waiters early and late get the same news; a filler that dies ends it', () => {
  const { primary, peers } = setup(3);
  const [a, b, c] = peers;
  const meta = { key: 'k', size: 10 } as unknown as EntryMeta;
  primary.receive(a.id, { edge: 'lock', id: 1, key: 'k' });
  primary.receive(a.id, { edge: 'fill-start', key: 'k', meta });
  assert.equal(a.inbox.filter((m) => m.edge === 'wanted').length, 0, 'nobody waits: no spool');
  primary.receive(b.id, { edge: 'lock', id: 2, key: 'k' });
  assert.deepEqual(a.inbox.at(-1), { edge: 'wanted', key: 'k' });
  primary.receive(a.id, { edge: 'fill-progress', key: 'k', spool: '/s', bytes: 4 });
  primary.receive(b.id, { edge: 'fill-progress', key: 'k', spool: '/evil', bytes: 9 }); // not the filler: ignored
  primary.receive(a.id, { edge: 'fill-progress', key: 'k', spool: '/s', bytes: 3 }); // backwards: ignored
  primary.receive(a.id, { edge: 'fill-progress', key: 'k', spool: '/s', bytes: 7 });
  primary.receive(c.id, { edge: 'lock', id: 3, key: 'k' });
  assert.equal(a.inbox.filter((m) => m.edge === 'wanted').length, 1, 'asked once');
  assert.deepEqual(b.inbox.slice(1), [
    { edge: 'filling', id: 2, meta, spool: '/s', bytes: 4 },
    { edge: 'fill-progress', id: 2, bytes: 7 },
  ]);
  assert.deepEqual(c.inbox.slice(1), [{ edge: 'filling', id: 3, meta, spool: '/s', bytes: 7 }], 'a late waiter starts where the fill is');
  primary.remove(a.id);
  assert.deepEqual(b.inbox.slice(-2), [{ edge: 'fill-end', id: 2, ok: false }, { edge: 'released', id: 2 }]);
  assert.deepEqual(c.inbox.slice(-2), [{ edge: 'fill-end', id: 3, ok: false }, { edge: 'released', id: 3 }]);
});

test('a shared fill that completes: fill-end before the release, and a waiter after the end gets it all at once', () => {
  const { primary, peers } = setup(3);
  const [a, b, c] = peers;
  const meta = { key: 'k', size: 5 } as unknown as EntryMeta;
  primary.receive(a.id, { edge: 'lock', id: 1, key: 'k' });
  primary.receive(b.id, { edge: 'lock', id: 2, key: 'k' });
  primary.receive(a.id, { edge: 'fill-start', key: 'k', meta });
  assert.deepEqual(a.inbox.at(-1), { edge: 'wanted', key: 'k' }, 'asked as soon as it shares, when someone already waits');
  primary.receive(a.id, { edge: 'fill-progress', key: 'k', spool: '/s', bytes: 5 });
  primary.receive(a.id, { edge: 'fill-end', key: 'k', ok: true });
  primary.receive(c.id, { edge: 'lock', id: 3, key: 'k' });
  primary.receive(a.id, { edge: 'unlock', key: 'k' });
  assert.deepEqual(b.inbox.slice(1), [
    { edge: 'filling', id: 2, meta, spool: '/s', bytes: 5 },
    { edge: 'fill-end', id: 2, ok: true },
    { edge: 'released', id: 2 },
  ]);
  assert.deepEqual(c.inbox.slice(1), [
    { edge: 'filling', id: 3, meta, spool: '/s', bytes: 5 },
    { edge: 'fill-end', id: 3, ok: true },
    { edge: 'released', id: 3 },
  ]);
});

test('a purge is answered once every ready worker applied it; a worker that dies meanwhile counts as done', async () => {
  const { primary, peers } = setup(3);
  const [a, b, c] = peers;
  primary.receive(a.id, { edge: 'purge', id: 5, selector: { kind: 'zone', zone: 'z.test' } });
  const asks = peers.map((p) => p.inbox.find((m) => m.edge === 'apply-purge'));
  assert.ok(asks.every((m) => m !== undefined), 'every worker was asked');
  const askId = (asks[0] as { id: number }).id;
  primary.receive(b.id, { edge: 'reply', id: askId, value: 3 });
  primary.receive(a.id, { edge: 'reply', id: askId, value: 1 });
  await new Promise((r) => setImmediate(r));
  assert.equal(a.inbox.find((m) => m.edge === 'reply' && m.id === 5), undefined, 'not answered while one worker has not applied it');
  primary.remove(c.id);
  await new Promise((r) => setImmediate(r));
  const reply = a.inbox.find((m) => m.edge === 'reply' && m.id === 5);
  assert.equal(reply?.edge === 'reply' ? reply.value : undefined, 3, 'the most one worker removed');
});

test('a purge sent to the edge is answered after the purge log catch-up that follows it', async () => {
  let caughtUp: () => void = () => {};
  let asked = 0;
  const { primary, peers } = setup(1, [], {
    afterDirectPurge: () => {
      asked++;
      return new Promise<void>((r) => (caughtUp = r));
    },
  });
  const [a] = peers;
  primary.receive(a.id, { edge: 'purge', id: 5, selector: { kind: 'zone', zone: 'z.test' } });
  const ask = a.inbox.find((m) => m.edge === 'apply-purge') as { id: number };
  primary.receive(a.id, { edge: 'reply', id: ask.id, value: 2 });
  await new Promise((r) => setImmediate(r));
  assert.equal(asked, 1, 'the catch-up starts once the workers applied the purge');
  assert.equal(a.inbox.find((m) => m.edge === 'reply' && m.id === 5), undefined, 'not answered before the catch-up');
  caughtUp();
  await new Promise((r) => setImmediate(r));
  const reply = a.inbox.find((m) => m.edge === 'reply' && m.id === 5);
  assert.equal(reply?.edge === 'reply' ? reply.value : undefined, 2);
  // A purge the log itself brings (purgeAll) does not start another catch-up.
  void primary.purgeAll({ kind: 'zone', zone: 'z.test' });
  assert.equal(asked, 1);
});

test('statistics: every worker\'s figures merged, and those of a worker that died kept', async () => {
  const { primary, peers } = setup(2);
  const snapshotOf = (requests: number) => {
    const s = new EdgeStats({ now: () => 1_800_000_000_000 });
    for (let i = 0; i < requests; i++) s.record('z.test', { kind: 'response', outcome: 'hit', status: 200, bytes: 10 });
    return s.snapshot();
  };
  const answer = (counts: number[]) => {
    for (const [i, p] of peers.entries()) {
      const ask = p.inbox.filter((m) => m.edge === 'snapshot').at(-1) as { id: number } | undefined;
      if (ask && counts[i] !== undefined) primary.receive(p.id, { edge: 'reply', id: ask.id, value: snapshotOf(counts[i]) });
    }
  };
  const first = primary.stats();
  answer([2, 3]);
  assert.equal((await first).zones['z.test'].totals.requests, 5);
  primary.remove(peers[1].id);
  const second = primary.stats();
  answer([4]);
  assert.equal((await second).zones['z.test'].totals.requests, 7, 'the dead worker\'s last 3 are kept');
});

test('statistics carry the memory of the primary and of each worker; a worker\'s malformed sample is left out', async () => {
  const { primary, peers } = setup(3);
  const sample = (worker: number, extra: Record<string, unknown> = {}) => ({
    role: 'worker', worker, pid: 100 + worker, rssBytes: 9e7, heapUsedBytes: 1e7, heapCommittedBytes: 2e7, externalBytes: 3e6, arrayBufferBytes: 2e6, memoryTierBytes: 1e6, memoryTierEntries: 4, ...extra,
  });
  const values = [
    { ...new EdgeStats({ now: () => 1_800_000_000_000 }).snapshot(), processes: [sample(2)] },
    { ...new EdgeStats({ now: () => 1_800_000_000_000 }).snapshot(), processes: [sample(1)] },
    { ...new EdgeStats({ now: () => 1_800_000_000_000 }).snapshot(), processes: [sample(3, { rssBytes: -1 }), 'junk', sample(3, { role: 'root' })] },
  ];
  const pending = primary.stats();
  for (const [i, p] of peers.entries()) {
    const ask = p.inbox.filter((m) => m.edge === 'snapshot').at(-1) as { id: number };
    primary.receive(p.id, { edge: 'reply', id: ask.id, value: values[i] });
  }
  const { processes } = await pending;
  assert.deepEqual(processes?.map((s) => [s.role, s.worker]), [['primary', undefined], ['worker', 1], ['worker', 2]]);
  assert.equal(processes?.[0].pid, process.pid);
  // The samples are not figures: a worker that dies leaves its counters, not its memory.
  primary.remove(peers[0].id);
  const next = primary.stats();
  for (const p of peers.slice(1)) {
    const ask = p.inbox.filter((m) => m.edge === 'snapshot').at(-1) as { id: number };
    primary.receive(p.id, { edge: 'reply', id: ask.id, value: { ...new EdgeStats({ now: () => 1_800_000_000_000 }).snapshot() } });
  }
  assert.deepEqual((await next).processes?.map((s) => s.role), ['primary']);
});

test('a client\'s rate limit is one bucket whichever worker asks; junk messages are ignored', () => {
  const { primary, peers } = setup(2, [{ zone: 'z.test', requestsPerSecond: 0.001, burst: 2 }]);
  const [a, b] = peers;
  // A lease is at most a 2n-th of the burst: 1 token here.
  primary.receive(a.id, { edge: 'lease', id: 1, zone: 'z.test', ip: '192.0.2.1', unused: 0 });
  primary.receive(b.id, { edge: 'lease', id: 2, zone: 'z.test', ip: '192.0.2.1', unused: 0 });
  primary.receive(a.id, { edge: 'lease', id: 3, zone: 'z.test', ip: '192.0.2.1', unused: 0 });
  primary.receive(b.id, { edge: 'lease', id: 4, zone: 'other.test', ip: '192.0.2.1', unused: 0 });
  const value = (p: Box, id: number) => (p.inbox.find((m) => m.edge === 'reply' && m.id === id) as { value: { granted: number } }).value.granted;
  assert.deepEqual([value(a, 1), value(b, 2), value(a, 3), value(b, 4)], [1, 1, 0, 1]);
  for (const junk of [null, 1, 'lock', {}, { edge: 'nope' }, { type: 'media-deleted' }, { edge: 'settle', zone: 'z.test', ip: '192.0.2.1', unused: 'x' }]) primary.receive(a.id, junk);
  primary.receive(99, { edge: 'lock', id: 1, key: 'k' }); // not a worker
  assert.equal(a.inbox.length, 2);
});

test('leases: tokens handed back return to the bucket, spent ones do not; a dead worker\'s lease counts as spent', () => {
  const { primary, peers } = setup(2, [{ zone: 'z.test', requestsPerSecond: 0.001, burst: 8 }]);
  const [a, b] = peers;
  const ip = '192.0.2.7';
  assert.equal(primary.lease(a.id, 'z.test', ip, 0).granted, 2, 'a 2n-th of the burst of 8');
  assert.equal(primary.lease(b.id, 'z.test', ip, 0).granted, 2);
  // a spent one of its two and settles; b's worker dies holding two.
  primary.receive(a.id, { edge: 'settle', zone: 'z.test', ip, unused: 1 });
  primary.remove(b.id);
  // In the bucket: 8 − 2 − 2 + 1 = 5.
  const got: number[] = [];
  for (let r = primary.lease(a.id, 'z.test', ip, 0); r.granted > 0; r = primary.lease(a.id, 'z.test', ip, 0)) got.push(r.granted);
  assert.deepEqual(got, [4, 1], 'one worker left: leases of half the burst');
  const refused = primary.lease(a.id, 'z.test', ip, 0);
  assert.equal(refused.granted, 0);
  assert.equal(refused.retryAfterMs, 1_000_000, 'one token at 0.001/s');
  // Handing back more than was leased gives back only what was leased: never more than the burst.
  const other = '192.0.2.8';
  assert.equal(primary.lease(a.id, 'z.test', other, 0).granted, 4);
  primary.receive(a.id, { edge: 'settle', zone: 'z.test', ip: other, unused: 1000 });
  const again: number[] = [];
  for (let r = primary.lease(a.id, 'z.test', other, 0); r.granted > 0; r = primary.lease(a.id, 'z.test', other, 0)) again.push(r.granted);
  assert.deepEqual(again, [4, 4]);
});
