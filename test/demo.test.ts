// The generated demo content passes the real ingest pipeline with the facts we expect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addDemoContent, loopGif, toneWav } from '../src/media/demo.ts';
import { makeTestLibrary } from './helpers/library.ts';

test('demo content is stored as songs, an announcement and a looping background', async (t) => {
  const tl = await makeTestLibrary();
  t.after(() => tl.close());
  const items = await addDemoContent(tl.lib);
  assert.deepEqual(items.map((i) => i.kind), ['song', 'song', 'song', 'announcement', 'background']);
  for (const i of items) assert.ok(i.title?.startsWith('Demo: '), 'clearly named as demo content');
  const songs = items.filter((i) => i.kind === 'song');
  for (const s of songs) assert.ok(s.contentType === 'audio/wav' && s.durationMs! > 3000, `${s.title} ${s.durationMs}`);
  const bg = items.find((i) => i.kind === 'background')!;
  assert.deepEqual([bg.contentType, bg.width, bg.height], ['image/gif', 160, 90]);
});

test('the WAV header describes exactly the samples written, the GIF loops forever', () => {
  const wav = toneWav([[440, 0.5], [0, 0.25]]);
  assert.equal(wav.readUInt32LE(40), wav.length - 44);
  assert.equal(wav.readUInt32LE(4), wav.length - 8);
  const gif = loopGif(8, 4, 3);
  assert.equal(gif.subarray(0, 6).toString('ascii'), 'GIF89a');
  assert.ok(gif.includes(Buffer.from('NETSCAPE2.0')));
  assert.equal(gif.filter((b, i) => b === 0x2c && gif[i - 1] === 0x00 && gif[i - 8] === 0x21).length >= 3, true);
  assert.equal(gif[gif.length - 1], 0x3b);
});
