// EdgePrimary's bookkeeping, with workers as message queues: fill locks (one leader, waiters released
// when it unlocks or dies), purges answered once every ready worker answered (a dead one counts as
// done), statistics merged with those of a worker that died, rate limits counted once, messages of
// unknown kinds ignored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EdgePrimary } from './primary.ts';
import type { EdgePrimaryOptions, Peer } from './primary.ts';
import type { ToWorker } from './protocol.ts';
import { EdgeStats } from '../stats/counting.ts';

type Box = Peer & { inbox: ToWorker[] };

function setup(workers: number, limits: EdgePrimaryOptions['rateLimits'] = []): { primary: EdgePrimary; peers: Box[] } {
  const primary = new EdgePrimary({ now: () => 1_800_000_000_000, rateLimits: limits, maxZones: 4, lockTimeoutMs: 60_000 });
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

test('a client\'s rate limit is one bucket whichever worker asks; junk messages are ignored', () => {
  const { primary, peers } = setup(2, [{ zone: 'z.test', requestsPerSecond: 0.001, burst: 2 }]);
  const [a, b] = peers;
  primary.receive(a.id, { edge: 'take', id: 1, zone: 'z.test', ip: '192.0.2.1' });
  primary.receive(b.id, { edge: 'take', id: 2, zone: 'z.test', ip: '192.0.2.1' });
  primary.receive(a.id, { edge: 'take', id: 3, zone: 'z.test', ip: '192.0.2.1' });
  primary.receive(b.id, { edge: 'take', id: 4, zone: 'other.test', ip: '192.0.2.1' });
  const value = (p: Box, id: number) => (p.inbox.find((m) => m.edge === 'reply' && m.id === id) as { value: { ok: boolean } }).value.ok;
  assert.deepEqual([value(a, 1), value(b, 2), value(a, 3), value(b, 4)], [true, true, false, true]);
  for (const junk of [null, 1, 'lock', {}, { edge: 'nope' }, { type: 'media-deleted' }]) primary.receive(a.id, junk);
  primary.receive(99, { edge: 'lock', id: 1, key: 'k' }); // not a worker
  assert.equal(a.inbox.length, 2);
});
