import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PlaylistTrack } from './client/playlist-types.ts';
import { createRadio, shuffle } from './client/radio.ts';

function track(id: number, kind: 'song' | 'announcement'): PlaylistTrack {
  return { id, kind, url: `http://cdn.test/media/${id}.mp3`, contentType: 'audio/mpeg', title: `${kind} ${id}`, artist: null, album: null, durationMs: 1000 };
}

/** A seeded linear congruential generator: the same sequence every run. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const songs = [1, 2, 3].map((i) => track(i, 'song'));
const announcements = [10, 11].map((i) => track(i, 'announcement'));

function take(radio: ReturnType<typeof createRadio>, n: number): PlaylistTrack[] {
  return Array.from({ length: n }, () => radio.next() as PlaylistTrack);
}

describe('radio running order', () => {
  it('plays an announcement after every `songsPerAnnouncement` songs, starting with a song', () => {
    for (const every of [1, 2, 3]) {
      const kinds = take(createRadio({ songs, announcements }, { songsPerAnnouncement: every, random: seeded(every) }), 12).map((t) => t.kind[0]).join('');
      const block = 's'.repeat(every) + 'a';
      assert.equal(kinds, block.repeat(Math.ceil(12 / block.length)).slice(0, 12), `every ${every}`);
    }
  });

  it('plays every song once before any repeats, and never the same song twice in a row', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const order = take(createRadio({ songs, announcements: [] }, { random: seeded(seed) }), 30).map((t) => t.id);
      for (let r = 0; r < 30; r += 3) assert.deepEqual(order.slice(r, r + 3).sort(), [1, 2, 3], `seed ${seed} round ${r / 3}`);
      order.forEach((id, i) => assert.ok(i === 0 || id !== order[i - 1], `seed ${seed}: ${order.join(',')}`));
    }
  });

  it('rotates announcements the same way', () => {
    const played = take(createRadio({ songs, announcements }, { songsPerAnnouncement: 1, random: seeded(7) }), 8).filter((t) => t.kind === 'announcement').map((t) => t.id);
    assert.deepEqual(played.slice(0, 2).sort(), [10, 11]);
    assert.deepEqual(played.slice(2, 4).sort(), [10, 11]);
  });

  it('peek shows what next() will return, and counts only songs as started', () => {
    const radio = createRadio({ songs, announcements }, { songsPerAnnouncement: 1, random: seeded(3) });
    const first = radio.peek();
    assert.equal(radio.peek(), first);
    assert.equal(radio.next(), first);
    assert.equal(radio.songsStarted, 1);
    assert.equal(radio.next()?.kind, 'announcement');
    assert.equal(radio.songsStarted, 1);
  });

  it('plays only announcements when there are no songs, and nothing when both are empty', () => {
    const onlyAnnouncements = take(createRadio({ songs: [], announcements }, { random: seeded(1) }), 4);
    assert.ok(onlyAnnouncements.every((t) => t.kind === 'announcement'));
    const empty = createRadio({ songs: [], announcements: [] });
    assert.equal(empty.peek(), undefined);
    assert.equal(empty.next(), undefined);
  });

  it('a single song repeats (nothing else to play)', () => {
    assert.deepEqual(take(createRadio({ songs: [songs[0]], announcements: [] }), 3).map((t) => t.id), [1, 1, 1]);
  });

  it('shuffle returns a permutation and leaves its input alone', () => {
    const input = [1, 2, 3, 4, 5, 6];
    const out = shuffle(input, seeded(42));
    assert.deepEqual(input, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...out].sort(), input);
  });
});
