// A real browser plays media from the origin: an <audio> element on a page of another origin (so
// CORS is exercised) starts playing, and a seek far into a long file is fetched with a Range request
// that the origin answers 206.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTestOrigin, makeWav } from './helpers/origin.ts';
import { BROWSER_TEST_TIMEOUT_MS, launchBrowser, servePage } from './helpers/browser.ts';

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
  const seen: Array<{ status: number; range: string | undefined; contentRange: string | undefined; cors: string | undefined }> = [];
  page.on('response', async (res) => {
    if (!res.url().startsWith(mediaUrl)) return;
    const req = await res.request().allHeaders();
    const h = await res.allHeaders();
    seen.push({ status: res.status(), range: req['range'], contentRange: h['content-range'], cors: h['access-control-allow-origin'] });
  });
  await page.goto(page$.url);

  // Page code as strings: the test files are type-checked without the DOM library.
  const audio = `document.getElementById('a')`;
  await page.evaluate(`${audio}.play()`);
  await page.waitForFunction(`${audio}.currentTime > 0.25`, undefined, { timeout: 20_000 });
  const duration = (await page.evaluate(`${audio}.duration`)) as number;
  assert.ok(Math.abs(duration - seconds) < 1, `duration ${duration}`);

  const target = seconds - 20;
  await page.evaluate(`${audio}.currentTime = ${target}`);
  await page.waitForFunction(`!${audio}.seeking && ${audio}.currentTime > ${target + 0.25}`, undefined, { timeout: 20_000 });

  const farStart = Math.floor((item.byteSize * (target - 5)) / seconds);
  const far = seen.find((s) => s.status === 206 && s.range !== undefined && Number(/^bytes=(\d+)-/.exec(s.range)?.[1]) >= farStart);
  assert.ok(far, `a Range request from byte ${farStart} on, answered 206; saw ${JSON.stringify(seen)}`);
  assert.match(far.contentRange ?? '', new RegExp(`^bytes \\d+-\\d+/${item.byteSize}$`));
  assert.ok(seen.every((s) => s.cors === '*'), 'every media response carries CORS');
});
