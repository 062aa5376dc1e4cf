import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_PLAN, endOf, nextPlanned, onAirAt, pick, plannedAfter, RoundKeys, type Catalog, type Cursor, type Planned } from './schedule.ts';

const T0 = Date.UTC(2025, 0, 1, 12);
const songs = (ids: number[], ms = 180_000) => ids.map((id) => ({ id, durationMs: ms }));
const cat = (s: number[], a: number[] = [], b: number[] = []): Catalog => ({ songs: songs(s), announcements: songs(a, 10_000), backgrounds: b });

/** The running order from the start: `n` items back to back. */
function order(c: Catalog, n: number, opts = DEFAULT_PLAN): Planned[] {
  const first = nextPlanned(undefined, c, T0, opts) as Planned;
  return [first, ...plannedAfter(first, c, n - 1, opts)];
}

describe('station running order', () => {
  it('plays an announcement after every `songsPerAnnouncement` songs, starting with a song, back to back', () => {
    for (const every of [1, 2, 3]) {
      const items = order(cat([1, 2, 3, 4], [10, 11]), 12, { ...DEFAULT_PLAN, songsPerAnnouncement: every });
      const block = 's'.repeat(every) + 'a';
      assert.equal(items.map((p) => p.slot.kind[0]).join(''), block.repeat(12).slice(0, 12), `every ${every}`);
      items.forEach((p, i) => {
        assert.equal(p.slot.seq, i);
        if (i > 0) assert.equal(p.slot.startsAt, endOf(items[i - 1].slot));
      });
    }
  });

  it('plays every song once per round and never the same song twice in a row, whatever the station', () => {
    const ids = [1, 2, 3, 4, 5];
    for (let epoch = 1; epoch <= 150; epoch++) {
      const first = nextPlanned(undefined, cat(ids), epoch) as Planned;
      const played = [first, ...plannedAfter(first, cat(ids), 29)].map((p) => p.slot.mediaId);
      for (let r = 0; r < 30; r += 5) assert.deepEqual(played.slice(r, r + 5).sort(), ids, `epoch ${epoch} round ${r / 5}: ${played.join(',')}`);
      played.forEach((id, i) => assert.ok(i === 0 || id !== played[i - 1], `epoch ${epoch}: ${played.join(',')}`));
    }
  });

  it('two stations (epochs) play in different orders; the same station always in the same one', () => {
    const a = order(cat([1, 2, 3, 4, 5, 6]), 6).map((p) => p.slot.mediaId);
    assert.deepEqual(order(cat([1, 2, 3, 4, 5, 6]), 6).map((p) => p.slot.mediaId), a);
    const other = nextPlanned(undefined, cat([1, 2, 3, 4, 5, 6]), T0 + 1) as Planned;
    assert.notDeepEqual([other, ...plannedAfter(other, cat([1, 2, 3, 4, 5, 6]), 5)].map((p) => p.slot.mediaId), a);
  });

  it('a song added during a round joins it at its place, a deleted one drops out, no song repeats within the round', () => {
    const keys = new RoundKeys();
    const roundOf = (ids: number[], from: Cursor): { played: number[]; cursor: Cursor } => {
      const played: number[] = [];
      let cur = from;
      for (;;) {
        const p = pick(ids, cur, 7, 'song', keys) as { id: number; cursor: Cursor };
        if (p.cursor.round !== from.round) return { played, cursor: cur };
        played.push(p.id);
        cur = p.cursor;
      }
    };
    for (let trial = 0; trial < 40; trial++) {
      const ids = [1, 2, 3, 4, 5, 6].map((x) => x + trial * 10);
      let c: Cursor = { round: 0, last: null, avoid: null, lastId: null };
      const seen: number[] = [];
      for (let i = 0; i < 3; i++) {
        const p = pick(ids, c, 7, 'song', keys) as { id: number; cursor: Cursor };
        seen.push(p.id);
        c = p.cursor;
      }
      const unseen = ids.filter((id) => !seen.includes(id));
      const deleted = unseen[0];
      const added = 1000 + trial;
      const now = [...ids.filter((id) => id !== deleted), added];
      const { played: rest, cursor: end } = roundOf(now, c);
      assert.ok(!rest.includes(deleted), 'a deleted song played');
      for (const id of rest) assert.ok(!seen.includes(id), `${id} played twice in round 0`);
      assert.deepEqual(rest.filter((id) => id !== added).sort(), unseen.slice(1).sort(), 'every remaining song plays in the round');
      // The added song plays in this round or first thing in the next one, never later.
      const opening = pick(now, end, 7, 'song', keys) as { id: number; cursor: Cursor };
      assert.equal(opening.cursor.round, 1);
      const nextRound = [opening.id, ...roundOf(now, opening.cursor).played];
      assert.deepEqual([...nextRound].sort(), [...now].sort(), 'the next round plays every song once');
      assert.notEqual(opening.id, rest.at(-1) ?? seen.at(-1), 'no song twice in a row across rounds');
    }
  });

  it('backgrounds rotate from song to song; an announcement keeps the background of the song before it', () => {
    const items = order(cat([1, 2, 3], [10], [100, 101, 102]), 9);
    for (const [i, p] of items.entries()) {
      if (p.slot.kind === 'announcement') assert.equal(p.slot.backgroundId, items[i - 1].slot.backgroundId);
    }
    const bySong = items.filter((p) => p.slot.kind === 'song').map((p) => p.slot.backgroundId as number);
    assert.deepEqual(bySong.slice(0, 3).sort(), [100, 101, 102]);
    assert.equal(order(cat([1], [], []), 2)[1].slot.backgroundId, null);
  });

  it('only announcements when there are no songs; off the air when there is nothing', () => {
    assert.ok(order(cat([], [10, 11]), 4).every((p) => p.slot.kind === 'announcement'));
    assert.equal(nextPlanned(undefined, cat([], [], [1]), T0), undefined);
    assert.deepEqual(onAirAt(undefined, cat([], [], [1]), T0), { kind: 'off-air' });
  });
});

describe('what is on the air at time t', () => {
  const c = cat([1, 2, 3], [10]);
  const first = (onAirAt(undefined, c, T0) as { planned: Planned }).planned;

  it('the first item starts when the station is first asked; it holds until it ends', () => {
    assert.equal(first.slot.startsAt, T0);
    assert.equal(first.epoch, T0);
    assert.deepEqual(onAirAt(first, c, T0 + 179_999), { kind: 'unchanged', planned: first });
    const next = onAirAt(first, c, T0 + 180_000);
    assert.equal(next.kind, 'new');
    assert.deepEqual((next as { planned: Planned }).planned, plannedAfter(first, c, 1)[0]);
  });

  it('after a while nobody asked, the station is where it would have been had it played on', () => {
    const ahead = plannedAfter(first, c, 7);
    for (const [i, p] of ahead.entries()) {
      const at = onAirAt(first, c, p.slot.startsAt + 1234);
      assert.deepEqual((at as { planned: Planned }).planned, p, `item ${i + 1}`);
    }
  });

  it('after a long silence (longer than maxGapMs) it restarts at t; walking is bounded', () => {
    const t = endOf(first.slot) + DEFAULT_PLAN.maxGapMs + 5000;
    const at = (onAirAt(first, c, t) as { planned: Planned }).planned;
    assert.ok(at.slot.startsAt <= t && t < endOf(at.slot));
    assert.ok(at.slot.startsAt > endOf(first.slot) + DEFAULT_PLAN.maxGapMs - at.slot.durationMs, String(at.slot.startsAt - t));
    const tiny: Catalog = { songs: [{ id: 1, durationMs: 600 }, { id: 2, durationMs: 600 }], announcements: [], backgrounds: [] };
    const f = (onAirAt(undefined, tiny, T0) as { planned: Planned }).planned;
    const far = (onAirAt(f, tiny, T0 + 30 * 60_000, { ...DEFAULT_PLAN, maxSteps: 100 }) as { planned: Planned }).planned;
    assert.ok(far.slot.startsAt <= T0 + 30 * 60_000 && T0 + 30 * 60_000 < endOf(far.slot));
    assert.ok(far.slot.seq <= f.slot.seq + 102, `walked ${far.slot.seq}`);
  });

  it('adding or deleting other media does not move the item on the air; deleting it hands over at t', () => {
    const mid = T0 + 90_000;
    assert.deepEqual(onAirAt(first, cat([1, 2, 3, 4, 5], [10, 11], [7]), mid), { kind: 'unchanged', planned: first });
    const others = [1, 2, 3].filter((id) => id !== first.slot.mediaId);
    assert.deepEqual(onAirAt(first, cat([first.slot.mediaId], []), mid), { kind: 'unchanged', planned: first });
    const cut = onAirAt(first, cat(others, [10]), mid) as { kind: string; planned: Planned };
    assert.equal(cut.kind, 'new');
    assert.equal(cut.planned.slot.startsAt, mid);
    assert.equal(cut.planned.slot.seq, first.slot.seq + 1);
    assert.ok(others.includes(cut.planned.slot.mediaId));
  });

  it('a clock that went back keeps the committed item', () => {
    assert.deepEqual(onAirAt(first, c, T0 - 60_000), { kind: 'unchanged', planned: first });
  });

  it('generated histories: the item on the air never changes while it plays and exists; predictions hold while the library does', () => {
    type Op =
      | { op: 'wait'; ms: number }
      | { op: 'add'; kind: 'song' | 'announcement' | 'background'; ms: number }
      | { op: 'delete'; kind: 'song' | 'announcement' | 'background'; index: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('wait' as const), ms: fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 2 * 3_600_000 })) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), kind: fc.constantFrom('song' as const, 'announcement' as const, 'background' as const), ms: fc.integer({ min: 500, max: 400_000 }) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), kind: fc.constantFrom('song' as const, 'announcement' as const, 'background' as const), index: fc.nat(20) }) },
    );
    const seed = Number(process.env.FC_SEED ?? Date.now() % 1_000_000);
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const lib = { song: [] as { id: number; durationMs: number }[], announcement: [] as { id: number; durationMs: number }[], background: [] as { id: number; durationMs: number }[] };
        const catalog = (): Catalog => ({ songs: [...lib.song], announcements: [...lib.announcement], backgrounds: lib.background.map((b) => b.id) });
        let nextId = 1;
        let t = T0;
        let latest: Planned | undefined;
        let predicted: Planned[] = [];
        let libraryChanged = false;
        for (const o of ops) {
          if (o.op === 'add') {
            lib[o.kind].push({ id: nextId++, durationMs: o.ms });
            libraryChanged = true;
          } else if (o.op === 'delete') {
            if (lib[o.kind].length > 0) lib[o.kind].splice(o.index % lib[o.kind].length, 1);
            libraryChanged = true;
          } else t += o.ms;
          const c = catalog();
          const before = latest;
          const r = onAirAt(latest, c, t);
          if (r.kind === 'off-air') {
            assert.equal(c.songs.length + c.announcements.length, 0);
            continue;
          }
          const p = r.planned;
          const stillThere = before !== undefined && [...c.songs, ...c.announcements].some((x) => x.id === before.slot.mediaId) && (before.slot.kind === 'song' ? c.songs : c.announcements).some((x) => x.id === before.slot.mediaId);
          if (before !== undefined && stillThere && t < endOf(before.slot)) {
            assert.equal(r.kind, 'unchanged', 'the item on the air moved');
            assert.deepEqual(p, before);
          }
          assert.ok(p.slot.startsAt <= t && t < endOf(p.slot), `item ${JSON.stringify(p.slot)} does not cover ${t}`);
          assert.ok((p.slot.kind === 'song' ? c.songs : c.announcements).some((x) => x.id === p.slot.mediaId), 'on the air but not in the library');
          if (r.kind === 'new' && before !== undefined) {
            assert.ok(p.slot.seq > before.slot.seq);
            assert.ok(p.slot.startsAt >= Math.min(t, endOf(before.slot)), 'a new item started before the last one ended');
            if (!libraryChanged) {
              const hit = predicted.find((x) => x.slot.seq === p.slot.seq);
              if (hit !== undefined && t - endOf(before.slot) <= DEFAULT_PLAN.maxGapMs) assert.deepEqual(p, hit, 'the prediction did not hold');
            }
          }
          latest = p;
          predicted = plannedAfter(p, c, 4);
          libraryChanged = false;
        }
      }),
      { seed, numRuns: 300, interruptAfterTimeLimit: 20_000 },
    );
  });
});
