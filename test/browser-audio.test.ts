// A real browser plays media from the origin: an <audio> element on a page of another origin (so
// CORS is exercised) starts playing, and a seek far into a long file is fetched with a Range request
// that the origin answers 206.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTestOrigin, makeWav } from './helpers/origin.ts';
import { BROWSER_TEST_TIMEOUT_MS, launchBrowser, playAndSeekFar, recordMediaResponses, servePage } from './helpers/browser.ts';

test('an <audio> element plays from the origin, and a far seek is a Range request answered 206', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const seconds = 300;
  const file = path.join(os.tmpdir(), `mediacdn-browser-${process.pid}.wav`);
  await writeFile(file, makeWav(seconds, { sampleRate: 44100, channels: 2 })); // ~50 MiB
  t.after(() => unlink(file).catch(() => {}));
  const item = await o.addPath(file, { kind: 'song', title: 'Long tone' });
  const mediaUrl = `${o.url}/media/${item.fileName}`;

  const page$ = await servePage(`<!doctype html><title>player</title>
<audio id="a" crossorigin="anonymous" preload="metadata" src="${mediaUrl}"></audio>`);
  t.after(() => page$.close());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const seen = await recordMediaResponses(page, mediaUrl);
  await page.goto(page$.url);

  await playAndSeekFar(page, seen, seconds, item.byteSize);
  assert.ok(seen.every((s) => s.cors === '*'), 'every media response carries CORS');
});
