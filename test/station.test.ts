// The station on the server, with its clock injected: every request at time t gets the same item at
// the same offset, library changes never move the item on the air, worker processes sharing the
// commit folder agree (also when they race), and GET /api/now answers hostile queries with 400s.
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { deleteMedia } from '../src/media/catalog.ts';
import { ingest } from '../src/media/ingest.ts';
import type { Library, Metadata } from '../src/media/library.ts';
import type { NowPlaying } from '../src/web/client/station-types.ts';
import { createFileStationStore, createStation, type Station } from '../src/web/station.ts';
import { FIXTURES, makeTestLibrary } from './helpers/library.ts';
import { rawRequest, request } from './helpers/origin.ts';
import { startWebOrigin } from './helpers/web.ts';

const T0 = Date.UTC(2025, 5, 1, 8, 0, 0);

function add(lib: Library, file: string, metadata: Metadata) {
  return ingest(lib, { source: createReadStream(path.join(FIXTURES, file)), originalName: file, metadata });
}

async function stationLibrary(t: { after(fn: () => Promise<void>): void }) {
  const tl = await makeTestLibrary();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-station-'));
  t.after(async () => {
    await tl.close();
    await rm(dir, { recursive: true, force: true });
  });
  const clock = { t: T0 };
  // catalogTtlMs 0: every call reads the library, so a change is seen at once.
  const make = (catalogTtlMs = 0): Station => createStation({ library: tl.lib, store: createFileStationStore(dir), now: () => clock.t, catalogTtlMs });
  return { lib: tl.lib, dir, clock, make };
}

const ident = (n: NowPlaying) => n.current && { seq: n.current.seq, id: n.current.id, startsAt: n.current.startsAt, endsAt: n.current.endsAt };

describe('the station at time t', () => {
  it('every listener at time t gets the same item at the same offset; items follow back to back with an announcement between songs', async (t) => {
    const s = await stationLibrary(t);
    const a = await add(s.lib, 'tone-3s.mp3', { kind: 'song', title: 'A', artist: 'Lab' });
    const b = await add(s.lib, 'tone-3s.ogg', { kind: 'song', title: 'B' });
    const ann = await add(s.lib, 'blip-1s.wav', { kind: 'announcement', title: 'Ident' });
    const bg = await add(s.lib, 'loop.gif', { kind: 'background', title: 'Loop' });
    const station = s.make();
    const first = await station.nowPlaying({ upcoming: 6 });
    assert.equal(first.serverTime, T0);
    assert.equal(first.onAirSince, T0);
    assert.equal(first.offsetMs, 0);
    assert.deepEqual(first.library, { songs: 2, announcements: 1, backgrounds: 1 });
    const cur = first.current!;
    assert.equal(cur.kind, 'song');
    assert.ok([a.id, b.id].includes(cur.id));
    assert.equal(cur.startsAt, T0);
    assert.equal(cur.endsAt, T0 + (cur.durationMs as number));
    assert.equal(cur.background?.id, bg.id);
    assert.equal(cur.url, (cur.id === a.id ? a : b).url);

    // Another listener 1.5 s later, through another process: same item, 1.5 s further in.
    s.clock.t = T0 + 1500;
    const later = await s.make().nowPlaying();
    assert.deepEqual(ident(later), ident(first));
    assert.equal(later.offsetMs, 1500);

    // The running order: song, song, announcement, …, each starting when the one before ends.
    const all = [cur, ...first.upcoming];
    assert.deepEqual(all.map((x) => x.kind[0]).join(''), 'ssassas');
    assert.ok(all.filter((x) => x.kind === 'announcement').every((x) => x.id === ann.id && x.background?.id === bg.id));
    all.forEach((x, i) => i > 0 && assert.equal(x.startsAt, all[i - 1].endsAt));
    assert.notEqual(all[0].id, all[1].id);

    // At each predicted start, that item is what is on the air (the library did not change).
    for (const next of first.upcoming) {
      s.clock.t = next.startsAt + 200;
      const n = await station.nowPlaying();
      assert.deepEqual(ident(n), { seq: next.seq, id: next.id, startsAt: next.startsAt, endsAt: next.endsAt });
      assert.equal(n.offsetMs, 200);
    }
  });

  it('library changes leave the item on the air alone; deleting it hands over to the next at once', async (t) => {
    const s = await stationLibrary(t);
    const a = await add(s.lib, 'tone-3s.mp3', { kind: 'song', title: 'A' });
    const b = await add(s.lib, 'tone-3s.ogg', { kind: 'song', title: 'B' });
    const station = s.make();
    const on = await station.nowPlaying();
    const playing = on.current!;
    const other = playing.id === a.id ? b : a;

    s.clock.t = T0 + 1000;
    await add(s.lib, 'blip-1s.wav', { kind: 'announcement', title: 'New ident' });
    await add(s.lib, 'tone-3s.mp3', { kind: 'song', title: 'C' });
    await add(s.lib, 'loop.png', { kind: 'background', title: 'New picture' });
    assert.deepEqual(ident(await station.nowPlaying()), ident(on), 'an upload moved the item on the air');
    s.clock.t = T0 + 1500;
    await deleteMedia(s.lib, other.id, { force: true });
    const afterDelete = await s.make().nowPlaying();
    assert.deepEqual(ident(afterDelete), ident(on), 'deleting another song moved the item on the air');
    assert.equal(afterDelete.current!.background, null, 'the item keeps its background (none when it went on the air)');
    assert.ok(afterDelete.upcoming.every((x) => x.id !== other.id), 'a deleted song is not planned');

    s.clock.t = T0 + 2000;
    await deleteMedia(s.lib, playing.id, { force: true });
    const handed = await station.nowPlaying();
    assert.notEqual(handed.current!.id, playing.id);
    assert.equal(handed.current!.startsAt, T0 + 2000);
    assert.equal(handed.current!.seq, playing.seq + 1);
    // The other process sees the same hand-over.
    assert.deepEqual(ident(await s.make().nowPlaying()), ident(handed));
  });

  it('processes racing for the next item agree on one, even when they read different libraries', async (t) => {
    const s = await stationLibrary(t);
    await add(s.lib, 'tone-3s.mp3', { kind: 'song', title: 'A' });
    await add(s.lib, 'tone-3s.ogg', { kind: 'song', title: 'B' });
    await add(s.lib, 'blip-1s.wav', { kind: 'announcement', title: 'Ident' });
    const workers = [s.make(), s.make(), s.make(), s.make()];
    const firsts = await Promise.all(workers.map((w) => w.nowPlaying()));
    for (const f of firsts) assert.deepEqual(ident(f), ident(firsts[0]));
    for (let i = 0; i < 6; i++) {
      s.clock.t = firsts[0].current!.endsAt + i * 3100 + 50;
      const answers = await Promise.all(workers.map((w) => w.nowPlaying()));
      for (const x of answers) assert.deepEqual(ident(x), ident(answers[0]), `round ${i}`);
    }
    const names = (await readdir(s.dir)).filter((n) => n.startsWith('c-'));
    assert.ok(names.length >= 2 && names.length <= 17, names.join(' '));

    // A process whose read of the library is older (it keeps it for a day) races one that sees a new
    // song: whichever commits first wins for both, and neither moves the other's item later.
    const stale = s.make(86_400_000);
    await stale.nowPlaying();
    const fresh = s.make();
    for (let i = 0; i < 3; i++) await add(s.lib, 'tone-3s.mp3', { kind: 'song', title: `New ${i}` });
    for (let i = 0; i < 8; i++) {
      const n = await fresh.nowPlaying();
      s.clock.t = n.current!.endsAt + 10;
      // Both orders: first in parallel, then the fresh process strictly first (its item is new to the other).
      const [x, y] = i % 2 === 0 ? await Promise.all([stale.nowPlaying(), fresh.nowPlaying()]) : await fresh.nowPlaying().then(async (b) => [await stale.nowPlaying(), b]);
      assert.deepEqual(ident(x), ident(y), `race ${i}`);
      s.clock.t += 500;
      assert.deepEqual(ident(await stale.nowPlaying()), ident(x), `race ${i}: the stale process moved the item`);
      assert.deepEqual(ident(await fresh.nowPlaying()), ident(y), `race ${i}: the fresh process moved the item`);
    }
  });

  it('a damaged or unknown commit file is skipped, never trusted, and the station goes on', async (t) => {
    const s = await stationLibrary(t);
    await add(s.lib, 'tone-3s.mp3', { kind: 'song', title: 'A' });
    await add(s.lib, 'tone-3s.ogg', { kind: 'song', title: 'B' });
    const first = await s.make().nowPlaying();
    await writeFile(path.join(s.dir, 'c-000000000001.json'), '{"version":1,"commit":1,"epo');
    await writeFile(path.join(s.dir, 'c-000000000002.json'), JSON.stringify({ version: 99, commit: 2 }));
    s.clock.t = T0 + 1000;
    const fresh = await s.make().nowPlaying();
    assert.deepEqual(ident(fresh), ident(first));
    s.clock.t = first.current!.endsAt + 10;
    const next = await s.make().nowPlaying();
    assert.equal(next.current!.seq, first.current!.seq + 1);
    assert.ok((await readdir(s.dir)).includes('c-000000000003.json'), 'the next commit takes a number above the damaged ones');
  });

  it('off the air on an empty library; the first song goes on the air when it is added', async (t) => {
    const s = await stationLibrary(t);
    const station = s.make();
    const empty = await station.nowPlaying();
    assert.deepEqual(empty, { version: 1, serverTime: T0, onAirSince: null, current: null, offsetMs: null, upcoming: [], library: { songs: 0, announcements: 0, backgrounds: 0 } });
    await add(s.lib, 'loop.gif', { kind: 'background', title: 'Only a picture' });
    assert.equal((await station.nowPlaying()).current, null);
    s.clock.t = T0 + 60_000;
    const song = await add(s.lib, 'tone-3s.mp3', { kind: 'song', title: 'A' });
    const on = await station.nowPlaying();
    assert.equal(on.current!.id, song.id);
    assert.equal(on.current!.startsAt, T0 + 60_000);
    assert.equal(on.onAirSince, T0 + 60_000);
  });
});

describe('GET /api/now', () => {
  it('answers JSON that is never cached, with the server clock; HEAD has no body; bad queries are 400 {code, message}', async (t) => {
    let clock = T0;
    const w = await startWebOrigin({ now: () => clock });
    t.after(() => w.close());
    await w.add('tone-3s.mp3', { kind: 'song', title: 'A' });
    await w.add('blip-1s.wav', { kind: 'announcement', title: 'Ident' });
    const res = await request(`${w.url}/api/now?upcoming=3`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    const n = JSON.parse(res.body.toString()) as NowPlaying;
    assert.equal(n.serverTime, T0);
    assert.equal(n.upcoming.length, 3);
    assert.ok(n.current!.url.startsWith(w.library.mediaUrl));
    clock += 700;
    const again = JSON.parse((await request(`${w.url}/api/now`)).body.toString()) as NowPlaying;
    assert.equal(again.offsetMs, 700);
    assert.equal(again.upcoming.length, 5, 'five upcoming items by default');
    const after = JSON.parse((await request(`${w.url}/api/now?after=${n.upcoming[1].seq}&upcoming=2`)).body.toString()) as NowPlaying;
    assert.deepEqual(after.upcoming[0].seq, n.upcoming[2].seq);
    assert.deepEqual(after.upcoming.map((x) => x.seq), [n.upcoming[1].seq + 1, n.upcoming[1].seq + 2]);
    const head = await request(`${w.url}/api/now`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    const post = await request(`${w.url}/api/now`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
    for (const q of ['upcoming=abc', 'upcoming=51', 'upcoming=-1', 'after=1e3', 'upcoming=1&upcoming=2', 'x=1', 'after=99999999999999999999']) {
      const bad = await request(`${w.url}/api/now?${q}`);
      assert.equal(bad.status, 400, q);
      assert.deepEqual(Object.keys(JSON.parse(bad.body.toString())).sort(), ['code', 'message'], q);
    }
    // No admin token needed, and none is leaked into the answer.
    assert.doesNotMatch(res.body.toString(), /token/i);
  });

  it('generated query strings never crash it: 200 or 400 with {code, message}', async (t) => {
    const w = await startWebOrigin();
    t.after(() => w.close());
    await w.add('tone-3s.mp3', { kind: 'song', title: 'A' });
    const seed = Number(process.env.FC_SEED ?? Date.now() % 1_000_000);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('upcoming', 'after', 'x', 'upcoming%00', '', '%zz'), fc.oneof(fc.nat().map(String), fc.string({ maxLength: 12 }))), { maxLength: 4 }), async (pairs) => {
        const qs = pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
        const res = await rawRequest(w.url, `/api/now?${qs}`);
        assert.ok(res.status === 200 || res.status === 400, `${qs}: ${res.status} ${res.text}`);
        if (res.status === 400) assert.match(res.text, /"code":"[a-z_]+","message":/);
      }),
      { seed, numRuns: 150, interruptAfterTimeLimit: 15_000 },
    );
    const health = await request(`${w.url}/healthz`);
    assert.equal(health.status, 200);
  });
});
